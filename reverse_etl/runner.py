"""Run or plan one sync end to end: lock, replay the journal, plan in the warehouse,
execute, record the run, alert."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from reverse_etl.alerts import RunSummary, notify
from reverse_etl.config import Catalog, SyncConfig
from reverse_etl.destinations import build_destination, destination_class
from reverse_etl.destinations.base import (
    AllRowsRejectedError,
    Destination,
    DestinationDownError,
)
from reverse_etl.executor import Executor, PhaseCallback, ProgressCallback
from reverse_etl.journal import AckJournal, journal_dir, replay
from reverse_etl.lock import SyncLock, SyncLockedError
from reverse_etl.planner import Plan, build_plan, drop_plan, sample
from reverse_etl.run_outcome import (
    all_rejected,
    commonest_rejection,
    not_delivered_note,
    nothing_delivered,
)
from reverse_etl.run_stats import RunStats
from reverse_etl.runlog import RunLog
from reverse_etl.state import StateStore, ensure_tables
from reverse_etl.stopping import StopRequest
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

    def journal_dir(self, settings: Settings) -> Path:
        """Acknowledgement journals live beside the locks (see journal.py)."""
        return journal_dir(settings, self.lock_dir.parent / "sync_journal")

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
    status: str  # success | partial | cancelled (failed raises; see run_sync)
    plan: Plan
    stats: RunStats
    seconds: float
    recovered_rows: int = 0  # acknowledged by an earlier, killed run; committed from its journal
    alerted: bool = False
    error: str | None = None  # as recorded in tessera_sync.runs (e.g. rows not delivered, why)

    @property
    def rows_per_second(self) -> float:
        rows = self.stats.sent_ok + self.stats.rejected
        return rows / self.seconds if self.seconds > 0 else 0.0


@dataclass
class RunOptions:
    """How one run behaves; every field has the default the CLI and Dagster use."""

    full_resync: bool = False
    env: Mapping[str, str] | None = None
    on_plan: Callable[[Plan], None] | None = None
    on_progress: ProgressCallback | None = None
    on_phase: PhaseCallback | None = None
    commit_rows: int = 100_000
    commit_seconds: float = 0.5
    limits: WarehouseLimits | None = None
    stop: StopRequest | None = None
    origin: str = "cli"  # cli | dagster | demo ...: recorded in runs and alerts
    journal_dir: Path | None = None


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
    lock_dir: Path | None = None,
) -> tuple[Plan, pa.Table]:
    """Dry run: the plan's counts and a sample of its rows. Nothing is sent.

    With `lock_dir`, and no run of the sync in progress, acknowledgements a killed run left
    in its journal are committed first, so the plan shows what a run would really send.
    """
    sync = catalog.sync(name)
    with Warehouse(settings).session() as session:
        (limits or WarehouseLimits.from_settings(settings)).apply(session)
        if lock_dir is not None:
            _replay_if_idle(session, settings, sync, lock_dir)
        plan = _plan_for(session, sync, catalog.destination_for(sync).type, full_resync)
        try:
            return plan, sample(session, plan, rows)
        finally:
            drop_plan(session, plan)


def _plan_for(session: Session, sync: SyncConfig, destination_type: str, full_resync: bool) -> Plan:
    """The plan, with what the destination's way of matching records asks of it."""
    kind = destination_class(destination_type)
    return build_plan(
        session,
        sync,
        full_resync=full_resync,
        match=kind.match_field(sync),
        removes_by_identifier=kind.removes_by_identifier,
    )


def _replay_if_idle(session: Session, settings: Settings, sync: SyncConfig, lock_dir: Path) -> None:
    try:
        with SyncLock(lock_dir, sync.name):
            ensure_tables(session, sync.name)
            replay(session, sync.name, journal_dir(settings, lock_dir.parent / "sync_journal"))
    except SyncLockedError:
        pass  # a run is under way: it replays and commits on its own


def run_sync(
    settings: Settings,
    catalog: Catalog,
    name: str,
    *,
    lock_dir: Path,
    options: RunOptions | None = None,
    **overrides: object,
) -> RunResult:
    """Plan and send one sync; `overrides` set RunOptions fields (e.g. full_resync=True).

    `on_phase` hears "plan", "send", "commit" and "done". A stop request ends the run
    `cancelled` (a result, not an error) once in-flight batches are acknowledged and
    committed. Failures raise after the run is recorded `failed`; alerts go out either way.
    A run that delivered nothing is `failed` too: `DestinationDownError` when batches never
    reached the destination, `AllRowsRejectedError` when it answered and refused every row
    (both carry the RunResult); some rows delivered and others not is `partial`.
    """
    opts = options or RunOptions()
    for field_name, value in overrides.items():
        if not hasattr(opts, field_name):
            raise TypeError(f"run_sync() got an unexpected option {field_name!r}")
        setattr(opts, field_name, value)
    sync = catalog.sync(name)
    destination = build_destination(catalog.destination_for(sync), sync, opts.env)
    journals = opts.journal_dir or journal_dir(settings, lock_dir.parent / "sync_journal")
    try:
        with SyncLock(lock_dir, name), Warehouse(settings).session() as session:
            (opts.limits or WarehouseLimits.from_settings(settings)).apply(session)
            return _run_locked(session, catalog, sync, destination, opts, journals)
    finally:
        destination.close()


def _run_locked(
    session: Session,
    catalog: Catalog,
    sync: SyncConfig,
    destination: Destination,
    opts: RunOptions,
    journals: Path,
) -> RunResult:
    on_phase = opts.on_phase or (lambda phase: None)
    started = time.perf_counter()
    ensure_tables(session, sync.name)
    runs = RunLog(session)
    stale = runs.abort_stale(sync.name)
    if stale:
        log.warning("sync %s: marked %d interrupted run(s) as aborted", sync.name, stale)
    recovered = replay(session, sync.name, journals, destination.name)
    run_id = runs.start(sync.name, destination.name, sync.mode, opts.full_resync, opts.origin)
    store = StateStore(session, sync.name, destination.name)
    stop = opts.stop or StopRequest()
    plan: Plan | None = None
    stats = RunStats()
    executor: Executor | None = None
    journal = AckJournal(journals, sync.name, run_id)
    try:
        on_phase("plan")
        plan = _plan_for(session, sync, destination.type, opts.full_resync)
        store.forget_never_acknowledged(plan.table)
        if opts.on_plan:
            opts.on_plan(plan)
        executor = Executor(
            destination,
            sync,
            store,
            run_id,
            on_progress=opts.on_progress,
            commit_rows=opts.commit_rows,
            commit_seconds=opts.commit_seconds,
            on_phase=on_phase,
            journal=journal,
            stop=stop,
        )
        stats = executor.stats
        executor.execute(reader_for(session), plan)
    except BaseException as exc:
        seconds = time.perf_counter() - started
        figures = _figures(plan, stats, seconds, recovered, error=_describe(exc))
        runs.finish(run_id, "failed", figures)
        if journal.records == 0 or (executor is not None and executor.all_committed):
            _finish_journal(journal, store, run_id, stats)
        # else: acknowledgements the state table never got stay journaled for the next run
        _alert(catalog, sync, destination, run_id, "failed", stats, seconds, opts, _describe(exc))
        raise
    finally:
        if plan is not None:
            drop_plan(session, plan)
    if executor is not None and executor.all_committed:
        _finish_journal(journal, store, run_id, stats)
    seconds = time.perf_counter() - started
    if stats.stopped:
        status = "cancelled"
        error = f"stopped by {stop.reason or 'a stop request'}"
        if stats.unfinished_batches:
            error += f"; {stats.unfinished_batches} batch(es) still in flight at the deadline"
    elif stats.not_delivered and not stats.sent_ok:
        status, error = "failed", nothing_delivered(destination, stats, sync)
    elif (
        stats.rejected > stats.held_back + stats.unsent
        and not stats.sent_ok
        and set(stats.failed_by_kind) - {"retry"}
    ):
        # answered, and refused every row; a run whose only work was retrying rows refused
        # before stays partial, so one bad row does not fail every later run (nor do rows
        # held back before sending, or with nothing to match on: the destination refused
        # nothing; an audience of one person with neither email nor phone is not a failure)
        example = commonest_rejection(session, run_id, destination)
        status, error = "failed", all_rejected(destination, stats, sync, example)
    else:
        status = "success" if not (stats.rejected or stats.not_delivered) else "partial"
        error = not_delivered_note(stats) if stats.not_delivered else None
    runs.finish(run_id, status, _figures(plan, stats, seconds, recovered, error=error))
    alerted = _alert(catalog, sync, destination, run_id, status, stats, seconds, opts, error)
    result = RunResult(run_id, sync.name, status, plan, stats, seconds, recovered, alerted, error)
    if status == "failed":  # nothing delivered: down (transient), or refused every row
        if stats.not_delivered:
            raise DestinationDownError(nothing_delivered(destination, stats, sync, True), result)
        raise AllRowsRejectedError(str(error), result)
    on_phase("done")
    return result


def _finish_journal(journal: AckJournal, store: StateStore, run_id: str, stats: RunStats) -> None:
    """Everything acknowledged is committed: the journal goes (a journal is kept while
    batches on the wire at a stop deadline may still answer, or when a commit failed)."""
    if stats.unfinished_batches:
        return
    journal.close(delete=True)
    store.drop_mark(run_id)


def _alert(
    catalog: Catalog,
    sync: SyncConfig,
    destination: Destination,
    run_id: str,
    status: str,
    stats: RunStats,
    seconds: float,
    opts: RunOptions,
    error: str | None,
) -> bool:
    removed = sum(stats.ok_by_kind.get(k, 0) for k in ("removed", "suppressed", "erased"))
    summary = RunSummary(
        sync.name,
        destination.name,
        status,
        run_id,
        opts.origin,
        stats.sent_ok,
        stats.rejected,
        removed,
        seconds,
        error,
        stats.not_delivered,
    )
    redact = getattr(destination, "redact", None)
    try:
        return notify(catalog.alerts, summary, opts.env, redact)
    except Exception as exc:  # an alert must never turn a run into a failure
        log.warning("sync %s: alert not sent (%s)", sync.name, type(exc).__name__)
        return False


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:1000]


def _figures(
    plan: Plan | None,
    stats: RunStats,
    seconds: float,
    recovered: int,
    error: str | None = None,
) -> dict[str, float | int | str | None]:
    counts = plan.counts if plan else {}
    rows = stats.sent_ok + stats.rejected
    return {
        "planned_added": counts.get("added", 0),
        "planned_changed": counts.get("changed", 0),
        "planned_removed": counts.get("removed", 0),
        "planned_retry": counts.get("retry", 0),
        "planned_suppressed": counts.get("suppressed", 0),
        "planned_erased": counts.get("erased", 0),
        "sent_ok": stats.sent_ok,
        "rejected": stats.rejected,
        "not_delivered": stats.not_delivered,
        "requests": stats.calls,
        "rate_limited": stats.rate_limited,
        "retries": stats.retries,
        "plan_seconds": plan.seconds if plan else None,
        "duration_seconds": seconds,
        "rows_per_second": rows / seconds if seconds > 0 else 0.0,
        "recovered_rows": recovered,
        "error": error,
    }
