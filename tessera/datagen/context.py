"""What every table builder of one chunk shares: randomness, time window, ids, ground truth."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from tessera.datagen import strings as s
from tessera.datagen.calendar import Calendar
from tessera.datagen.reference import Catalog


@dataclass(frozen=True)
class Sequence:
    """A sequential record id: prefix + (base + n). Sequences never reuse a number."""

    table: str
    column: str
    prefix: str
    base: int

    def format(self, numbers: np.ndarray) -> pa.Array:
        return s.concat(self.prefix, s.ints(self.base + numbers))

    def next_number_sql(self) -> str:
        """SQL giving the next free n in an existing raw table (for appends)."""
        digits = f"substr({self.column}, {len(self.prefix) + 1})"
        return (
            f"select coalesce(max(cast({digits} as bigint)) - {self.base} + 1, 0) "
            f"from raw.{self.table}"
        )


SEQUENCES: dict[str, Sequence] = {
    "order": Sequence("orders", "order_id", "", 1_000_000),
    "return": Sequence("returns", "return_id", "RMA-", 100_000),
    "ticket": Sequence("support_tickets", "ticket_id", "", 500_000),
    "pos": Sequence("pos_purchases", "transaction_id", "POS-", 10_000_000),
    "consent": Sequence("consents", "consent_id", "cns_", 1),
}


@dataclass
class IdAllocator:
    next_number: dict[str, int] = field(default_factory=dict)

    def take(self, name: str, n: int) -> pa.Array:
        start = self.next_number.get(name, 0)
        self.next_number[name] = start + n
        return SEQUENCES[name].format(np.arange(start, start + n, dtype=np.int64))


@dataclass
class TruthCollector:
    """(id_type, canonical id_value, person_key) triples seen in the generated raw rows.

    Built from the rows themselves, so every listed identifier appears in some raw table
    and every real identifier in a raw table is listed.
    """

    parts: list[pa.Table] = field(default_factory=list)

    def add(
        self, id_type: str, values: pa.Array, person_keys: np.ndarray, keep: np.ndarray
    ) -> None:
        keep = np.asarray(keep, dtype=bool) & ~np.asarray(values.is_null(), dtype=bool)
        if not keep.any():
            return
        index = pa.array(np.flatnonzero(keep))
        self.parts.append(
            pa.table(
                {
                    "id_type": pa.array([id_type] * int(keep.sum()), pa.string()),
                    "id_value": values.take(index),
                    "person_key": pa.array(np.asarray(person_keys, dtype=np.int64)).take(index),
                }
            )
        )

    def table(self) -> pa.Table:
        if not self.parts:
            return pa.table(
                {
                    "id_type": pa.array([], pa.string()),
                    "id_value": pa.array([], pa.string()),
                    "person_key": pa.array([], pa.int64()),
                }
            )
        combined = pa.concat_tables(self.parts)
        distinct = combined.group_by(["id_type", "id_value", "person_key"]).aggregate([])
        return distinct.sort_by(
            [("person_key", "ascending"), ("id_type", "ascending"), ("id_value", "ascending")]
        )


@dataclass
class ChunkContext:
    rng: np.random.Generator
    seed: int
    calendar: Calendar
    window_start: int  # activity is simulated in [window_start, window_end)
    window_end: int
    catalog: Catalog
    ids: IdAllocator
    # Visits are also simulated this long before window_start, so late events from then
    # arrive within the window (appends); zero for a fresh history.
    lookback_us: int = 0
    truth: TruthCollector = field(default_factory=TruthCollector)
