"""The sync state tables in schema `tessera_sync`, and the one writer that changes them.

- `state_<sync>`: one row per key the destination has acknowledged (or rejected):
  key, row_hash (of the last acknowledged version; null if never acknowledged), dest_id
  (what the destination knows the row by, needed to remove it later), status
  (`synced` | `failed`), last_synced_at, attempts (consecutive failures), last_error, and
  person_id (whose row it is, so a deletion request or a consent revocation finds it even
  after the person left the segment).
- `errors`: one row per rejected row per attempt.
- `runs`: one row per run with counts, throughput and status (see runlog.py).
- `journal_marks`: per run, the last journal record committed (see journal.py), written in
  the same transaction as the state it covers, so a replay never applies a record twice.
- `privacy_audit`: one row per person removed because of a deletion request (`erased`) or a
  consent revocation (`suppressed`): sync, destination, run, person_id, a SHA-256 of the
  key, when. No PII: the key itself is not kept.

Only acknowledged outcomes are ever written, in one transaction per commit, so a crash can
lose at most the knowledge that some rows were sent (they are sent again, idempotently).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import pyarrow as pa

from reverse_etl.dialect import placeholder, sha256_hex, stage_rows, unstage_rows
from tessera.warehouse import Session

SCHEMA = "tessera_sync"
PRIVACY_KINDS = ("erased", "suppressed")  # removals that must also leave state, errors, logs

ERRORS_DDL = f"""
create table if not exists {SCHEMA}.errors (
    run_id varchar, sync_name varchar, key varchar, kind varchar, error varchar,
    attempt integer, failed_at timestamp
)"""

MARKS_DDL = f"""
create table if not exists {SCHEMA}.journal_marks (
    sync_name varchar, run_id varchar, committed_seq bigint
)"""

AUDIT_DDL = f"""
create table if not exists {SCHEMA}.privacy_audit (
    sync_name varchar, destination varchar, run_id varchar, kind varchar, person_id varchar,
    key_sha256 varchar, action varchar, recorded_at timestamp
)"""

STATE_COLUMNS = {
    "key": "varchar",
    "row_hash": "varchar",
    "dest_id": "varchar",
    "status": "varchar",
    "last_synced_at": "timestamp",
    "attempts": "integer",
    "last_error": "varchar",
    "person_id": "varchar",
}

OUTCOME_SCHEMA = pa.schema(
    [
        ("key", pa.string()),
        ("outcome", pa.string()),  # synced | removed | failed
        ("kind", pa.string()),  # the plan kind the row was sent as
        ("row_hash", pa.string()),
        ("dest_id", pa.string()),
        ("error", pa.string()),
        ("person_id", pa.string()),
    ]
)


def state_table(sync_name: str) -> str:
    return f"{SCHEMA}.state_{sync_name}"


def plan_table(sync_name: str) -> str:
    return f"{SCHEMA}.plan_{sync_name}"


def add_missing_columns(session: Session, schema: str, table: str, columns: dict[str, str]) -> None:
    """Bring a table written by an older version up to date (columns are only ever added)."""
    present = {name for name, _ in session.columns(schema, table)}
    for name, sql_type in columns.items():
        if name not in present:
            session.execute(f"alter table {schema}.{table} add column {name} {sql_type}")


def ensure_tables(session: Session, sync_name: str) -> None:
    from reverse_etl.runlog import ensure_runs_table

    session.execute(f"create schema if not exists {SCHEMA}")
    ensure_runs_table(session)
    session.execute(ERRORS_DDL)
    session.execute(MARKS_DDL)
    session.execute(AUDIT_DDL)
    columns = ", ".join(f"{name} {sql_type}" for name, sql_type in STATE_COLUMNS.items())
    session.execute(f"create table if not exists {state_table(sync_name)} ({columns})")
    add_missing_columns(session, SCHEMA, f"state_{sync_name}", STATE_COLUMNS)


@dataclass
class Outcomes:
    """Acknowledged results waiting to be committed.

    Rows are added as Python values, then `seal()` packs them into Arrow, a few dozen bytes a
    row instead of a few hundred as Python strings: what waits for the committer is sealed.
    """

    COLUMNS: ClassVar[tuple[str, ...]] = tuple(OUTCOME_SCHEMA.names)

    keys: list[str] = field(default_factory=list)
    outcomes: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    row_hashes: list[str | None] = field(default_factory=list)
    dest_ids: list[str | None] = field(default_factory=list)
    errors: list[str | None] = field(default_factory=list)
    person_ids: list[str | None] = field(default_factory=list)
    _sealed: list[pa.Table] = field(default_factory=list, repr=False)
    _sealed_rows: int = field(default=0, repr=False)
    _present: set[str] = field(default_factory=set, repr=False)  # outcome and kind values seen

    def add(
        self,
        key: str,
        outcome: str,
        kind: str,
        row_hash: str | None,
        dest_id: str | None,
        error: str | None,
        person_id: str | None = None,
    ) -> None:
        self.keys.append(key)
        self.outcomes.append(outcome)
        self.kinds.append(kind)
        self.row_hashes.append(row_hash)
        self.dest_ids.append(dest_id)
        self.errors.append(error)
        self.person_ids.append(person_id)
        self._present.add(outcome)
        self._present.add(kind)

    def _columns(self) -> tuple[list, ...]:
        return (
            self.keys,
            self.outcomes,
            self.kinds,
            self.row_hashes,
            self.dest_ids,
            self.errors,
            self.person_ids,
        )

    def as_columns(self) -> dict[str, list]:
        """Column name -> values, without a trip through Arrow when nothing is sealed yet."""
        if not self._sealed:
            return dict(zip(self.COLUMNS, self._columns(), strict=True))
        return self.to_arrow().to_pydict()

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

    def has(self, value: str) -> bool:
        """Whether any row has this outcome (synced, removed, failed) or plan kind."""
        return value in self._present

    def __len__(self) -> int:
        return self._sealed_rows + len(self.keys)

    def to_arrow(self) -> pa.Table:
        self.seal()
        if not self._sealed:
            return OUTCOME_SCHEMA.empty_table()
        return pa.concat_tables(self._sealed)


class StateStore:
    """The single writer of a sync's state; every method is one statement or transaction."""

    def __init__(self, session: Session, sync_name: str, destination: str = "") -> None:
        self.session = session
        self.sync_name = sync_name
        self.destination = destination
        self.table = state_table(sync_name)
        self._ph = placeholder(session.dialect)

    def commit(self, run_id: str, outcomes: Outcomes, journal_seq: int | None = None) -> None:
        """Apply acknowledged outcomes in one transaction; `journal_seq` marks the last
        journal record they include, in the same transaction (see journal.py)."""
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
                if any(outcomes.has(kind) for kind in PRIVACY_KINDS):
                    self._forget_people(run_id, rel)
                if journal_seq is not None:
                    self._mark(run_id, journal_seq)
        finally:
            unstage_rows(s, rel)

    def _forget_people(self, run_id: str, rel: str) -> None:
        """Erased or suppressed and acknowledged: their rejected rows leave `errors` (error
        texts can quote their data), and an audit row without PII records the removal."""
        s, ph = self.session, self._ph
        done = f"o.outcome = 'removed' and o.kind in ({', '.join(repr(k) for k in PRIVACY_KINDS)})"
        s.execute(
            f"delete from {SCHEMA}.errors where sync_name = {ph} "
            f"and key in (select o.key from {rel} as o where {done})",
            [self.sync_name],
        )
        s.execute(
            f"""
            insert into {SCHEMA}.privacy_audit
                (sync_name, destination, run_id, kind, person_id, key_sha256, action, recorded_at)
            select {ph}, {ph}, {ph}, o.kind, o.person_id, {sha256_hex(s.dialect, "o.key")},
                case when o.kind = 'erased' then 'erased from destination'
                    else 'removed or suppressed in destination' end,
                current_timestamp
            from {rel} as o where {done}
            """,
            [self.sync_name, self.destination, run_id],
        )

    def _mark(self, run_id: str, seq: int) -> None:
        s, ph = self.session, self._ph
        s.execute(f"delete from {SCHEMA}.journal_marks where run_id = {ph}", [run_id])
        s.execute(
            f"insert into {SCHEMA}.journal_marks (sync_name, run_id, committed_seq) "
            f"values ({ph}, {ph}, {ph})",
            [self.sync_name, run_id, seq],
        )

    def committed_seq(self, run_id: str) -> int:
        value = self.session.scalar(
            f"select max(committed_seq) from {SCHEMA}.journal_marks where run_id = {self._ph}",
            [run_id],
        )
        return int(value) if value is not None else 0

    def drop_mark(self, run_id: str) -> None:
        self.session.execute(
            f"delete from {SCHEMA}.journal_marks where run_id = {self._ph}", [run_id]
        )

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
                last_error = case when o.outcome = 'synced' then null else o.error end,
                person_id = coalesce(o.person_id, t.person_id)
            from {rel} as o
            where t.key = o.key and o.outcome in ('synced', 'failed')
            """
        )
        self.session.execute(
            f"""
            insert into {self.table}
                (key, row_hash, dest_id, status, last_synced_at, attempts, last_error, person_id)
            select o.key,
                case when o.outcome = 'synced' then o.row_hash end,
                case when o.outcome = 'synced' then o.dest_id end,
                o.outcome,
                case when o.outcome = 'synced' then current_timestamp end,
                case when o.outcome = 'synced' then 0 else 1 end,
                case when o.outcome = 'failed' then o.error end,
                o.person_id
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
            f"select t.key, t.row_hash, t.dest_id, t.last_synced_at, t.attempts, t.person_id "
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
                    (key, row_hash, dest_id, status, last_synced_at, attempts, last_error,
                     person_id)
                select
                    o.key,
                    case when o.outcome = 'synced' then o.row_hash else p.row_hash end,
                    case when o.outcome = 'synced' then coalesce(o.dest_id, p.dest_id)
                        else p.dest_id end,
                    o.outcome,
                    case when o.outcome = 'synced' then current_timestamp
                        else p.last_synced_at end,
                    case when o.outcome = 'synced' then 0 else coalesce(p.attempts, 0) + 1 end,
                    case when o.outcome = 'synced' then null else o.error end,
                    coalesce(o.person_id, p.person_id)
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
