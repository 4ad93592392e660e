"""Rows of `tessera_sync.runs`: one started per run, finished with its counts and status.

Statuses: `running`, then `success` | `partial` (some rows rejected, or some batches not
delivered while others were) | `failed` (an error, or nothing delivered because the
destination took no batch) | `cancelled` (stopped by a signal: what was acknowledged is
committed) | `aborted` (the process died; marked by the next run of the sync).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from reverse_etl.dialect import placeholder
from tessera.warehouse import Session

SCHEMA = "tessera_sync"

RUN_COLUMNS = {
    "run_id": "varchar",
    "sync_name": "varchar",
    "destination": "varchar",
    "mode": "varchar",
    "started_at": "timestamp",
    "finished_at": "timestamp",
    "status": "varchar",
    "full_resync": "boolean",
    "planned_added": "bigint",
    "planned_changed": "bigint",
    "planned_removed": "bigint",
    "planned_retry": "bigint",
    "sent_ok": "bigint",
    "rejected": "bigint",
    "requests": "bigint",
    "rate_limited": "bigint",
    "retries": "bigint",
    "plan_seconds": "double",
    "duration_seconds": "double",
    "rows_per_second": "double",
    "error": "varchar",
    # added with the journal, suppression and graceful stops (older tables gain them)
    "planned_suppressed": "bigint",
    "planned_erased": "bigint",
    "recovered_rows": "bigint",
    "origin": "varchar",
    # rows of batches the destination never took (down, timeouts): pending, not rejected
    "not_delivered": "bigint",
}


def ensure_runs_table(session: Session) -> None:
    from reverse_etl.state import add_missing_columns

    columns = ", ".join(f"{name} {sql_type}" for name, sql_type in RUN_COLUMNS.items())
    session.execute(f"create table if not exists {SCHEMA}.runs ({columns})")
    add_missing_columns(session, SCHEMA, "runs", RUN_COLUMNS)


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

    def start(
        self, sync_name: str, destination: str, mode: str, full_resync: bool, origin: str = "cli"
    ) -> str:
        run_id = uuid.uuid4().hex
        ph = self._ph
        self.session.execute(
            f"insert into {SCHEMA}.runs (run_id, sync_name, destination, mode, started_at, "
            f"status, full_resync, origin) values ({ph}, {ph}, {ph}, {ph}, {ph}, 'running', "
            f"{ph}, {ph})",
            [run_id, sync_name, destination, mode, _now(), full_resync, origin],
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

    def known(self, sync_name: str, run_id: str) -> bool:
        return bool(
            self.session.scalar(
                f"select count(*) from {SCHEMA}.runs where sync_name = {self._ph} "
                f"and run_id = {self._ph}",
                [sync_name, run_id],
            )
        )


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
