"""A plan's rows as the batches a destination takes, and a batch's answer as row outcomes."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import pyarrow as pa

from reverse_etl.destinations.base import Operation, PlanRow, RowResult
from reverse_etl.planner import field_column
from reverse_etl.state import Outcomes

REMOVAL_KINDS = ("erased", "suppressed", "removed")


def operation_for(mode: str, kind: str) -> Operation:
    if kind == "erased":
        return "erase"  # a deletion request: the vendor's delete for personal data
    if kind == "suppressed":
        return "suppress"  # consent revoked: out of the audience / CRM, whatever the mode
    if kind == "removed":
        return "delete"
    if mode == "update":
        return "update"
    if mode == "insert":
        return "insert"
    return "upsert"


@dataclass
class BatchOutcome:
    kind: str
    rows: Sequence[PlanRow]
    results: list[RowResult]
    calls: int
    rate_limited: int
    retries: int
    ok: int = 0
    failed: int = 0
    not_delivered: int = 0  # the batch never reached the destination (see executor.py)
    cause: str | None = None  # why it was not delivered
    tried: bool = True  # False: not sent at all, the run had stopped taking batches


def plan_rows(batch: pa.RecordBatch, kind: str, fields: Sequence[str]) -> list[PlanRow]:
    columns = [field_column(i) for i in range(len(fields))]
    values = batch.select(columns).rename_columns(list(fields)).to_pylist()
    meta = batch.select(["_key", "_row_hash", "_previous_dest_id", "_person_id"]).to_pydict()
    return [
        PlanRow(key, kind, row_hash, previous, row_fields, person)
        for key, row_hash, previous, person, row_fields in zip(
            meta["_key"],
            meta["_row_hash"],
            meta["_previous_dest_id"],
            meta["_person_id"],
            values,
            strict=True,
        )
    ]


def outcomes_of(kind: str, rows: Sequence[PlanRow], results: list[RowResult]) -> Outcomes:
    """Per-row outcomes to journal and commit; a row the destination did not answer failed."""
    by_key = {r.key: r for r in results}
    pending = Outcomes()
    for row in rows:
        result = by_key.get(row.key) or RowResult(row.key, False, "destination gave no result")
        if not result.ok:
            pending.add(row.key, "failed", kind, None, None, result.error, row.person_id)
        elif kind in REMOVAL_KINDS:
            pending.add(row.key, "removed", kind, None, None, None, row.person_id)
        else:
            pending.add(row.key, "synced", kind, row.row_hash, result.dest_id, None, row.person_id)
    return pending


def chunks(rows: Sequence[PlanRow], size: int) -> Iterator[Sequence[PlanRow]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]
