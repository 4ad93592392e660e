"""The sync state tables in schema `tessera_sync`, and the one writer that changes them.

- `state_<sync>`: one row per key the destination has acknowledged (or rejected):
  key, row_hash (of the last acknowledged version; null if never acknowledged), dest_id
  (what the destination knows the row by, needed to remove it later), status
  (`synced` | `failed`), last_synced_at, attempts (consecutive failures), last_error.
- `errors`: one row per rejected row per attempt.
- `runs`: one row per run with counts, throughput and status.

Only acknowledged outcomes are ever written, in one transaction per commit, so a crash can
lose at most the knowledge that some rows were sent (they are sent again, idempotently).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pyarrow as pa

from reverse_etl.dialect import placeholder, stage_rows, unstage_rows
from tessera.warehouse import Session

SCHEMA = "tessera_sync"

RUNS_DDL = f"""
create table if not exists {SCHEMA}.runs (
    run_id varchar, sync_name varchar, destination varchar, mode varchar,
    started_at timestamp, finished_at timestamp, status varchar, full_resync boolean,
    planned_added bigint, planned_changed bigint, planned_removed bigint, planned_retry bigint,
    sent_ok bigint, rejected bigint, requests bigint, rate_limited bigint, retries bigint,
    plan_seconds double, duration_seconds double, rows_per_second double, error varchar
)"""

ERRORS_DDL = f"""
create table if not exists {SCHEMA}.errors (
    run_id varchar, sync_name varchar, key varchar, kind varchar, error varchar,
    attempt integer, failed_at timestamp
)"""

OUTCOME_SCHEMA = pa.schema(
    [
        ("key", pa.string()),
        ("outcome", pa.string()),  # synced | removed | failed
        ("kind", pa.string()),  # the plan kind the row was sent as
        ("row_hash", pa.string()),
        ("dest_id", pa.string()),
        ("error", pa.string()),
    ]
)


def state_table(sync_name: str) -> str:
    return f"{SCHEMA}.state_{sync_name}"


def plan_table(sync_name: str) -> str:
    return f"{SCHEMA}.plan_{sync_name}"


def ensure_tables(session: Session, sync_name: str) -> None:
    session.execute(f"create schema if not exists {SCHEMA}")
    session.execute(RUNS_DDL)
    session.execute(ERRORS_DDL)
    session.execute(
        f"create table if not exists {state_table(sync_name)} ("
        "key varchar, row_hash varchar, dest_id varchar, status varchar, "
        "last_synced_at timestamp, attempts integer, last_error varchar)"
    )


@dataclass
class Outcomes:
    """Acknowledged results waiting to be committed.

    Rows are added as Python values, then `seal()` packs them into Arrow, a few dozen bytes a
    row instead of a few hundred as Python strings: what waits for the committer is sealed.
    """

    keys: list[str] = field(default_factory=list)
    outcomes: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    row_hashes: list[str | None] = field(default_factory=list)
    dest_ids: list[str | None] = field(default_factory=list)
    errors: list[str | None] = field(default_factory=list)
    _sealed: list[pa.Table] = field(default_factory=list, repr=False)
    _sealed_rows: int = field(default=0, repr=False)
    _present: set[str] = field(default_factory=set, repr=False)  # outcome values seen

    def add(
        self,
        key: str,
        outcome: str,
        kind: str,
        row_hash: str | None,
        dest_id: str | None,
        error: str | None,
    ) -> None:
        self.keys.append(key)
        self.outcomes.append(outcome)
        self.kinds.append(kind)
        self.row_hashes.append(row_hash)
        self.dest_ids.append(dest_id)
        self.errors.append(error)
        self._present.add(outcome)

    def _columns(self) -> tuple[list, ...]:
        return (self.keys, self.outcomes, self.kinds, self.row_hashes, self.dest_ids, self.errors)

    def seal(self) -> Outcomes:
        """Move the rows added so far into Arrow; returns self."""
        if self.keys:
            self._sealed.append(pa.table(list(self._columns()), schema=OUTCOME_SCHEMA))
            self._sealed_rows += len(self.keys)
            for values in self._columns():
                values.clear()
        return self

    def extend(self, other: Outcomes) -> None:
        self.seal()
        other.seal()
        self._sealed += other._sealed
        self._sealed_rows += other._sealed_rows
        self._present |= other._present

    def has(self, outcome: str) -> bool:
        return outcome in self._present

    def __len__(self) -> int:
        return self._sealed_rows + len(self.keys)

    def to_arrow(self) -> pa.Table:
        self.seal()
        if not self._sealed:
            return OUTCOME_SCHEMA.empty_table()
        return pa.concat_tables(self._sealed)


class StateStore:
    """The single writer of a sync's state; every method is one statement or transaction."""

    def __init__(self, session: Session, sync_name: str) -> None:
        self.session = session
        self.sync_name = sync_name
        self.table = state_table(sync_name)
        self._ph = placeholder(session.dialect)

    def commit(self, run_id: str, outcomes: Outcomes) -> None:
        if not len(outcomes):
            return
        s = self.session
        staged_name = f"_tessera_outcomes_{self.sync_name}"
        # staged before the transaction: on Snowflake staging is DDL, which would commit it
        rel = stage_rows(s, SCHEMA, staged_name, outcomes.to_arrow())
        try:
            with s.transaction():
                if s.dialect == "duckdb":
                    self._apply_by_delete_insert(rel)
                else:
                    self._apply_by_update_insert(rel)
                if outcomes.has("removed"):
                    s.execute(
                        f"delete from {self.table} where key in "
                        f"(select key from {rel} where outcome = 'removed')"
                    )
                if outcomes.has("failed"):
                    s.execute(
                        f"""
                        insert into {SCHEMA}.errors
                            (run_id, sync_name, key, kind, error, attempt, failed_at)
                        select {self._ph}, {self._ph}, o.key, o.kind, o.error, t.attempts,
                            current_timestamp
                        from {rel} as o join {self.table} as t on t.key = o.key
                        where o.outcome = 'failed'
                        """,
                        [run_id, self.sync_name],
                    )
        finally:
            unstage_rows(s, rel)

    def _apply_by_update_insert(self, rel: str) -> None:
        """UPDATE ... FROM then INSERT ... WHERE NOT EXISTS: the effect of a MERGE, which
        fakesnow cannot run inside a transaction (its MERGE rewrite writes a second database)."""
        self.session.execute(
            f"""
            update {self.table} as t set
                row_hash = case when o.outcome = 'synced' then o.row_hash else t.row_hash end,
                dest_id = case when o.outcome = 'synced' then coalesce(o.dest_id, t.dest_id)
                    else t.dest_id end,
                status = o.outcome,
                last_synced_at = case when o.outcome = 'synced' then current_timestamp
                    else t.last_synced_at end,
                attempts = case when o.outcome = 'synced' then 0 else t.attempts + 1 end,
                last_error = case when o.outcome = 'synced' then null else o.error end
            from {rel} as o
            where t.key = o.key and o.outcome in ('synced', 'failed')
            """
        )
        self.session.execute(
            f"""
            insert into {self.table}
                (key, row_hash, dest_id, status, last_synced_at, attempts, last_error)
            select o.key,
                case when o.outcome = 'synced' then o.row_hash end,
                case when o.outcome = 'synced' then o.dest_id end,
                o.outcome,
                case when o.outcome = 'synced' then current_timestamp end,
                case when o.outcome = 'synced' then 0 else 1 end,
                case when o.outcome = 'failed' then o.error end
            from {rel} as o
            where o.outcome in ('synced', 'failed')
                and not exists (select 1 from {self.table} as t where t.key = o.key)
            """
        )

    def _apply_by_delete_insert(self, rel: str) -> None:
        """Same effect as `_apply_by_update_insert`. DuckDB updates of string columns in a large
        table cost ~10x a delete plus insert of the same rows, so the touched rows are
        snapshotted, deleted and written back whole (inside the caller's transaction)."""
        s = self.session
        previous = s.arrow(
            f"select t.key, t.row_hash, t.dest_id, t.last_synced_at, t.attempts "
            f"from {self.table} as t join {rel} as o on o.key = t.key "
            "where o.outcome in ('synced', 'failed')"
        )
        snapshot = f"_tessera_previous_{self.sync_name}"
        s.conn.register(snapshot, previous)
        try:
            s.execute(
                f"delete from {self.table} where key in "
                f"(select key from {rel} where outcome in ('synced', 'failed'))"
            )
            s.execute(
                f"""
                insert into {self.table}
                    (key, row_hash, dest_id, status, last_synced_at, attempts, last_error)
                select
                    o.key,
                    case when o.outcome = 'synced' then o.row_hash else p.row_hash end,
                    case when o.outcome = 'synced' then coalesce(o.dest_id, p.dest_id)
                        else p.dest_id end,
                    o.outcome,
                    case when o.outcome = 'synced' then current_timestamp
                        else p.last_synced_at end,
                    case when o.outcome = 'synced' then 0 else coalesce(p.attempts, 0) + 1 end,
                    case when o.outcome = 'synced' then null else o.error end
                from {rel} as o left join {snapshot} as p on p.key = o.key
                where o.outcome in ('synced', 'failed')
                """
            )
        finally:
            s.conn.unregister(snapshot)

    def forget_never_acknowledged(self, plan: str) -> None:
        """Drop state rows that were only ever rejected and have left the segment."""
        self.session.execute(
            f"delete from {self.table} where key in (select _key from {plan} "
            "where _kind = 'forget')"
        )

    def reset(self) -> None:
        self.session.execute(f"delete from {self.table}")

    def counts(self) -> dict[str, int]:
        rows = self.session.df(
            f"select status, count(*) as n from {self.table} group by status"
        ).itertuples(index=False)
        return {status: int(n) for status, n in rows}


class RunLog:
    """Rows of `tessera_sync.runs`: one started per run, finished with its counts."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._ph = placeholder(session.dialect)

    def abort_stale(self, sync_name: str) -> int:
        """Runs left `running` by a killed process (the caller holds the sync's lock)."""
        n = self.session.scalar(
            f"select count(*) from {SCHEMA}.runs where sync_name = {self._ph} "
            "and status = 'running'",
            [sync_name],
        )
        if n:
            self.session.execute(
                f"update {SCHEMA}.runs set status = 'aborted', "
                "error = 'process ended before the run finished' "
                f"where sync_name = {self._ph} and status = 'running'",
                [sync_name],
            )
        return int(n or 0)

    def start(self, sync_name: str, destination: str, mode: str, full_resync: bool) -> str:
        run_id = uuid.uuid4().hex
        ph = self._ph
        self.session.execute(
            f"insert into {SCHEMA}.runs (run_id, sync_name, destination, mode, started_at, "
            f"status, full_resync) values ({ph}, {ph}, {ph}, {ph}, {ph}, 'running', {ph})",
            [run_id, sync_name, destination, mode, _now(), full_resync],
        )
        return run_id

    def finish(self, run_id: str, status: str, figures: dict[str, float | int | None]) -> None:
        columns = list(figures)
        assignments = ", ".join(f"{c} = {self._ph}" for c in columns)
        self.session.execute(
            f"update {SCHEMA}.runs set status = {self._ph}, finished_at = {self._ph}, "
            f"{assignments} where run_id = {self._ph}",
            [status, _now(), *figures.values(), run_id],
        )


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
