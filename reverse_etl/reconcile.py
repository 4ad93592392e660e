"""`tessera sync reconcile NAME`: read back what the destination holds, repair the drift.

State says what Tessera sent; people and other tools change destinations too. Reconcile
reads, by key, the rows state calls current and the rows sent but never acknowledged
(planner.build_reconcile_plan), compares each mapped field with what the segment says, and:

- a row state calls current that the destination no longer has (deleted out of band):
  its state row is dropped, so the repair run sends it again as new;
- a row whose values differ (edited out of band): its state is marked drifted, so the repair
  run sends it again (by the id the destination knows it by);
- a row never acknowledged that the destination holds with exactly the current values
  (applied, but the answer was lost): state records it as synced, nothing is resent;
- rows with changes pending in the warehouse are not read: the next run sends them anyway.

Then, unless `dry_run`, it runs the sync, which sends exactly the repaired rows (and any
change pending in the warehouse). Destinations that cannot be read back (ad audiences,
webhooks, files) are reported as such, with the reason, and nothing is changed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from reverse_etl.batches import plan_rows
from reverse_etl.config import Catalog
from reverse_etl.destinations import build_destination
from reverse_etl.destinations.async_jobs import retry_in_place
from reverse_etl.destinations.base import BaseDestination, PlanRow, RemoteRecord
from reverse_etl.dialect import stage_rows, unstage_rows
from reverse_etl.journal import replay
from reverse_etl.lock import SyncLock
from reverse_etl.planner import RECONCILE_KINDS, build_reconcile_plan, drop_plan, iter_plan
from reverse_etl.runner import RunResult, SyncPaths, WarehouseLimits, reader_for, run_sync
from reverse_etl.state import SCHEMA, state_table
from tessera.settings import Settings
from tessera.warehouse import Session, Warehouse

DRIFTED_HASH = "drifted"  # never a real row hash: the next plan sees the row as changed
MARK_SCHEMA = pa.schema(
    [
        ("key", pa.string()),
        ("action", pa.string()),  # resend_missing | resend_changed | acknowledge
        ("row_hash", pa.string()),
        ("dest_id", pa.string()),
        ("person_id", pa.string()),
    ]
)


@dataclass
class ReconcileReport:
    sync_name: str
    destination: str
    readable: bool
    reason: str | None = None
    checked: int = 0
    in_sync: int = 0
    missing: int = 0  # state said current, the destination has no such row
    changed: int = 0  # the destination holds other values than the segment's
    acknowledged: int = 0  # applied but never acknowledged: now recorded, not resent
    unacknowledged_absent: int = 0  # never acknowledged and not there: the next run sends it
    examples: dict[str, list[str]] = field(default_factory=dict)  # action -> a few keys
    repair: RunResult | None = None
    dry_run: bool = False

    @property
    def to_resend(self) -> int:
        return self.missing + self.changed


def same(expected: Any, actual: Any) -> bool:
    """Equal as the destination stores values: text, with numbers and booleans by value."""
    if expected is None or expected == "":
        return actual is None or str(actual).strip() == ""
    if actual is None:
        return False
    if isinstance(expected, bool):
        return str(actual).strip().lower() == ("true" if expected else "false")
    if isinstance(expected, int | float):
        try:
            return math.isclose(float(expected), float(str(actual)), rel_tol=1e-9, abs_tol=1e-9)
        except ValueError:
            return False
    return str(expected).strip() == str(actual).strip()


def differences(expected: Mapping[str, Any], actual: Mapping[str, Any]) -> list[str]:
    return [name for name, value in expected.items() if not same(value, actual.get(name))]


def reconcile_sync(
    settings: Settings,
    catalog: Catalog,
    name: str,
    *,
    paths: SyncPaths,
    dry_run: bool = False,
    env: Mapping[str, str] | None = None,
    on_progress: Callable[[int], None] | None = None,
    limits: WarehouseLimits | None = None,
    on_plan: Callable[[int], None] | None = None,
) -> ReconcileReport:
    """`on_plan(rows)` is told how many rows will be read back; `on_progress(n)` after
    each read of n rows (the CLI draws its progress bar from them)."""
    sync = catalog.sync(name)
    config = catalog.destination_for(sync)
    destination = build_destination(config, sync, env)
    assert isinstance(destination, BaseDestination)
    report = ReconcileReport(sync.name, config.name, destination.readable, dry_run=dry_run)
    try:
        if not destination.readable:
            report.reason = destination.unreadable_reason
            return report
        with SyncLock(paths.lock_dir, name), Warehouse(settings).session() as session:
            (limits or WarehouseLimits.from_settings(settings)).apply(session)
            _compare(session, settings, paths, destination, report, on_progress, on_plan)
    finally:
        destination.close()
    if not dry_run and (report.to_resend or report.acknowledged):
        report.repair = run_sync(
            settings, catalog, name, lock_dir=paths.lock_dir, env=env, origin="reconcile"
        )
    return report


def _compare(
    session: Session,
    settings: Settings,
    paths: SyncPaths,
    destination: BaseDestination,
    report: ReconcileReport,
    on_progress: Callable[[int], None] | None,
    on_plan: Callable[[int], None] | None = None,
) -> None:
    sync = destination.sync
    replay(session, sync.name, paths.journal_dir(settings), destination.name)
    plan = build_reconcile_plan(session, sync)
    if on_plan:
        on_plan(sum(plan.counts.values()))
    marks: dict[str, list[Any]] = {name: [] for name in MARK_SCHEMA.names}
    try:
        reader = reader_for(session)
        for kind in RECONCILE_KINDS:
            for batch in iter_plan(reader, plan, kind, 10_000):
                rows = plan_rows(batch, kind, plan.fields)
                for start in range(0, len(rows), destination.read_batch_size):
                    chunk = rows[start : start + destination.read_batch_size]
                    held = retry_in_place(
                        lambda chunk=chunk: destination.read(chunk),
                        destination.retry,
                        f"{destination.type} read",
                    )
                    _judge(destination, chunk, held, report, marks)
                    if on_progress:
                        on_progress(len(chunk))
    finally:
        drop_plan(session, plan)
    if not report.dry_run and marks["key"]:
        _apply_marks(session, sync.name, pa.table(marks, schema=MARK_SCHEMA))


def _judge(
    destination: BaseDestination,
    rows: Sequence[PlanRow],
    held: Mapping[str, RemoteRecord | None],
    report: ReconcileReport,
    marks: dict[str, list[Any]],
) -> None:
    def mark(row: PlanRow, action: str, dest_id: str | None = None) -> None:
        for column, value in zip(
            MARK_SCHEMA.names, (row.key, action, row.row_hash, dest_id, row.person_id), strict=True
        ):
            marks[column].append(value)
        examples = report.examples.setdefault(action, [])
        if len(examples) < 5:
            examples.append(row.key)

    for row in rows:
        report.checked += 1
        record = held.get(row.key)
        expected = destination.comparable(row)
        diff = differences(expected, record.fields) if record is not None else None
        if row.kind == "in_sync":
            if record is None:
                report.missing += 1
                mark(row, "resend_missing")
            elif diff:
                report.changed += 1
                mark(row, "resend_changed")
            else:
                report.in_sync += 1
        elif record is not None and not diff:
            report.acknowledged += 1
            mark(row, "acknowledge", record.dest_id)
        else:
            report.unacknowledged_absent += 1


def _apply_marks(session: Session, sync_name: str, marks: pa.Table) -> None:
    table = state_table(sync_name)
    rel = stage_rows(session, SCHEMA, f"_tessera_reconcile_{sync_name}", marks)
    try:
        with session.transaction():
            session.execute(
                f"delete from {table} where key in (select key from {rel} "
                "where action in ('resend_missing', 'acknowledge'))"
            )
            session.execute(
                f"update {table} set row_hash = '{DRIFTED_HASH}' where key in "
                f"(select key from {rel} where action = 'resend_changed')"
            )
            session.execute(
                f"insert into {table} (key, row_hash, dest_id, status, last_synced_at, "
                "attempts, last_error, person_id) "
                "select key, row_hash, dest_id, 'synced', current_timestamp, 0, null, person_id "
                f"from {rel} where action = 'acknowledge'"
            )
    finally:
        unstage_rows(session, rel)
