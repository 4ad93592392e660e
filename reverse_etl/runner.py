"""Run or plan one sync end to end: lock, plan in the warehouse, execute, record the run."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from reverse_etl.config import Catalog
from reverse_etl.destinations import build_destination
from reverse_etl.destinations.base import Destination
from reverse_etl.executor import Executor, PhaseCallback, ProgressCallback, RunStats
from reverse_etl.lock import SyncLock
from reverse_etl.planner import Plan, build_plan, drop_plan, sample
from reverse_etl.state import RunLog, StateStore, ensure_tables
from tessera.settings import Settings
from tessera.warehouse import Session, Warehouse

log = logging.getLogger("tessera.reverse_etl")


@dataclass(frozen=True)
class SyncPaths:
    syncs_dir: Path
    segments_dir: Path | None
    lock_dir: Path

    @classmethod
    def default(cls, settings: Settings, syncs_dir: Path | None = None) -> SyncPaths:
        return cls(
            syncs_dir=syncs_dir or settings.syncs_dir,
            segments_dir=settings.dbt_project_dir / "models" / "segments",
            lock_dir=settings.artifacts_dir / "locks",
        )

    def catalog(self) -> Catalog:
        return Catalog.load(self.syncs_dir, self.segments_dir)


_MEMORY = re.compile(r"^\s*\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KIB|MIB|GIB|TIB)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class WarehouseLimits:
    """How much of the machine a sync's DuckDB session may take.

    Unbounded, DuckDB lets its buffer pool and the plan's join hash tables grow to 80% of RAM,
    so a sync's memory would grow with the segment. Under `memory_limit` it spills the join to
    `temp_directory` instead (default: DuckDB's own, `<warehouse file>.tmp`). With the default,
    the plan of a 1M-row segment spills a little and still takes about a second (see
    BENCHMARKS.md, sync). Snowflake sessions ignore these: there the virtual warehouse's size
    is the limit.
    """

    memory_limit: str | None = "128MB"
    temp_directory: Path | None = None
    threads: int | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> WarehouseLimits:
        """TESSERA_SYNC_MEMORY_LIMIT (`none` lifts it) and TESSERA_SYNC_TEMP_DIR."""
        try:
            return cls(settings.sync_memory_limit, settings.sync_temp_directory)
        except ValueError as exc:
            raise ValueError(f"TESSERA_SYNC_MEMORY_LIMIT: {exc}") from None

    def __post_init__(self) -> None:
        if self.memory_limit is not None and not _MEMORY.match(self.memory_limit):
            raise ValueError(
                f"sync memory_limit {self.memory_limit!r} is not a size like '256MB' or '1GB'"
            )
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"sync threads must be at least 1, not {self.threads}")

    def apply(self, session: Session) -> None:
        if session.dialect != "duckdb":
            return
        if self.memory_limit is not None:
            session.execute(f"set memory_limit = '{self.memory_limit.strip()}'")
        if self.temp_directory is not None:
            self.temp_directory.mkdir(parents=True, exist_ok=True)
            path = str(self.temp_directory).replace("'", "''")
            session.execute(f"set temp_directory = '{path}'")
        if self.threads is not None:
            session.execute(f"set threads = {int(self.threads)}")


@dataclass(frozen=True)
class RunResult:
    run_id: str
    sync_name: str
    status: str
    plan: Plan
    stats: RunStats
    seconds: float

    @property
    def rows_per_second(self) -> float:
        rows = self.stats.sent_ok + self.stats.rejected
        return rows / self.seconds if self.seconds > 0 else 0.0


def reader_for(session: Session) -> Session:
    """A second cursor for streaming the plan while the session itself commits state."""
    if session.dialect == "duckdb":
        return Session(conn=session.conn.cursor(), dialect=session.dialect)
    return Session(conn=session.conn, dialect=session.dialect)


def plan_sync(
    settings: Settings,
    catalog: Catalog,
    name: str,
    full_resync: bool = False,
    rows: int = 5,
    limits: WarehouseLimits | None = None,
) -> tuple[Plan, pa.Table]:
    """Dry run: the plan's counts and a sample of its rows. Nothing is sent."""
    sync = catalog.sync(name)
    with Warehouse(settings).session() as session:
        (limits or WarehouseLimits.from_settings(settings)).apply(session)
        plan = build_plan(session, sync, full_resync=full_resync)
        try:
            return plan, sample(session, plan, rows)
        finally:
            drop_plan(session, plan)


def run_sync(
    settings: Settings,
    catalog: Catalog,
    name: str,
    *,
    lock_dir: Path,
    full_resync: bool = False,
    env: Mapping[str, str] | None = None,
    on_plan: Callable[[Plan], None] | None = None,
    on_progress: ProgressCallback | None = None,
    commit_rows: int = 100_000,
    commit_seconds: float = 0.5,
    limits: WarehouseLimits | None = None,
    on_phase: PhaseCallback | None = None,
) -> RunResult:
    """Plan and send one sync. `on_phase` hears "plan", "send", "commit" and "done"."""
    sync = catalog.sync(name)
    destination = build_destination(catalog.destination_for(sync), sync, env)
    try:
        with SyncLock(lock_dir, name), Warehouse(settings).session() as session:
            (limits or WarehouseLimits.from_settings(settings)).apply(session)
            return _run_locked(
                session,
                catalog,
                name,
                destination,
                full_resync,
                on_plan,
                on_progress,
                commit_rows,
                commit_seconds,
                on_phase or (lambda phase: None),
            )
    finally:
        destination.close()


def _run_locked(
    session: Session,
    catalog: Catalog,
    name: str,
    destination: Destination,
    full_resync: bool,
    on_plan: Callable[[Plan], None] | None,
    on_progress: ProgressCallback | None,
    commit_rows: int,
    commit_seconds: float,
    on_phase: PhaseCallback,
) -> RunResult:
    sync = catalog.sync(name)
    started = time.perf_counter()
    ensure_tables(session, sync.name)
    runs = RunLog(session)
    stale = runs.abort_stale(sync.name)
    if stale:
        log.warning("sync %s: marked %d interrupted run(s) as aborted", sync.name, stale)
    run_id = runs.start(sync.name, destination.name, sync.mode, full_resync)
    store = StateStore(session, sync.name)
    plan: Plan | None = None
    stats = RunStats()
    try:
        on_phase("plan")
        plan = build_plan(session, sync, full_resync=full_resync)
        store.forget_never_acknowledged(plan.table)
        if on_plan:
            on_plan(plan)
        executor = Executor(
            destination,
            sync,
            store,
            run_id,
            on_progress=on_progress,
            commit_rows=commit_rows,
            commit_seconds=commit_seconds,
            on_phase=on_phase,
        )
        stats = executor.stats
        executor.execute(reader_for(session), plan)
    except BaseException as exc:
        seconds = time.perf_counter() - started
        runs.finish(run_id, "failed", _figures(plan, stats, seconds, error=_describe(exc)))
        raise
    finally:
        if plan is not None:
            drop_plan(session, plan)
    seconds = time.perf_counter() - started
    status = "success" if stats.rejected == 0 else "partial"
    runs.finish(run_id, status, _figures(plan, stats, seconds))
    on_phase("done")
    return RunResult(run_id, sync.name, status, plan, stats, seconds)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:1000]


def _figures(
    plan: Plan | None, stats: RunStats, seconds: float, error: str | None = None
) -> dict[str, float | int | str | None]:
    counts = plan.counts if plan else {}
    rows = stats.sent_ok + stats.rejected
    return {
        "planned_added": counts.get("added", 0),
        "planned_changed": counts.get("changed", 0),
        "planned_removed": counts.get("removed", 0),
        "planned_retry": counts.get("retry", 0),
        "sent_ok": stats.sent_ok,
        "rejected": stats.rejected,
        "requests": stats.calls,
        "rate_limited": stats.rate_limited,
        "retries": stats.retries,
        "plan_seconds": plan.seconds if plan else None,
        "duration_seconds": seconds,
        "rows_per_second": rows / seconds if seconds > 0 else 0.0,
        "error": error,
    }
