"""What every table builder of one chunk shares."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from tessera.datagen.adversarial.config import AdversarialConfig
from tessera.datagen.adversarial.people import DAY_US, People
from tessera.datagen.adversarial.shared import Shared
from tessera.datagen.adversarial.truth import ChunkTruth, Slot

HOUR_US = 3_600_000_000
LOAD_COLUMN = "_load_us"  # when the row reached the warehouse; never written to raw


@dataclass
class Build:
    rng: np.random.Generator
    seed: int
    chunk: int
    people: People
    shared: Shared
    config: AdversarialConfig
    start_us: int
    horizon_us: int
    truth: ChunkTruth = field(default_factory=ChunkTruth)
    counters: dict[str, int] = field(default_factory=dict)

    def register(self, load_us: np.ndarray, *slots: Slot) -> None:
        """One block of records (one table's rows) and the identifiers each row carries."""
        records = self.truth.new_records(len(load_us))
        for slot in slots:
            self.truth.add(slot, records, load_us)

    def late(self, n: int, share_factor: float = 1.0) -> np.ndarray:
        """Extra delay before loading: most rows none, a share of rows days late."""
        is_late = self.rng.random(n) < self.config.late_share * share_factor
        days = self.rng.uniform(1.0, max(self.config.max_late_days, 1), n)
        return np.where(is_late, (days * DAY_US).astype(np.int64), 0)

    def sync_lag(self, n: int, hours: int = 2) -> np.ndarray:
        """From a row's own load column (received_at, updated_at) to its arrival in the
        warehouse: up to `hours`, and for a share of rows a failed sync retried 6 to 72
        hours later, so they land after rows stamped later than them (the watermark trap)."""
        lag = self.rng.integers(0, hours * HOUR_US, n)
        retried = self.rng.random(n) < self.config.late_share
        return lag + np.where(retried, self.rng.integers(6, 72, n) * HOUR_US, 0)

    def record_ids(self, prefix: str, n: int, width: int = 8) -> pa.Array:
        from tessera.datagen import strings as s

        start = self.counters.get(prefix, 0)
        self.counters[prefix] = start + n
        return s.concat(
            prefix,
            s.padded_ints(np.full(n, self.chunk), 3),
            s.padded_ints(start + np.arange(n), width),
        )
