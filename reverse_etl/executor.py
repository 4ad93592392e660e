"""Send a plan: destination-sized batches, bounded concurrency, retries, commit on ack.

Workers (a thread pool) only talk HTTP. The calling thread streams the plan out of the
warehouse, hands batches to workers and collects their per-row results; a committer thread
(the single state writer) commits acknowledged results, each in one transaction with
whatever else was acknowledged since the last commit. Nothing unacknowledged is ever
written as synced, so a crash at any point loses nothing.
"""

from __future__ import annotations

import contextlib
import logging
import random
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

import pyarrow as pa

from reverse_etl.committer import Committer
from reverse_etl.config import SyncConfig
from reverse_etl.destinations.base import (
    BatchRejectedError,
    Destination,
    Operation,
    PlanRow,
    RateLimitedError,
    RowResult,
    TransientError,
)
from reverse_etl.planner import KINDS, Plan, field_column, iter_plan
from reverse_etl.ratelimit import TokenBucket
from reverse_etl.state import Outcomes, StateStore
from tessera.warehouse import Session

log = logging.getLogger("tessera.reverse_etl")

ProgressCallback = Callable[[str, int, int], None]  # (kind, rows ok, rows failed)
PhaseCallback = Callable[[str], None]  # "send", then "commit" (the last acknowledgements)


def operation_for(mode: str, kind: str) -> Operation:
    if kind == "removed":
        return "delete"
    if mode == "update":
        return "update"
    if mode == "insert":
        return "insert"
    return "upsert"


@dataclass
class RunStats:
    sent_ok: int = 0
    rejected: int = 0
    calls: int = 0
    rate_limited: int = 0
    retries: int = 0
    ok_by_kind: dict[str, int] = field(default_factory=dict)
    failed_by_kind: dict[str, int] = field(default_factory=dict)


@dataclass
class BatchOutcome:
    kind: str
    rows: Sequence[PlanRow]
    results: list[RowResult]
    calls: int
    rate_limited: int
    retries: int


def plan_rows(batch: pa.RecordBatch, kind: str, fields: Sequence[str]) -> list[PlanRow]:
    columns = [field_column(i) for i in range(len(fields))]
    values = batch.select(columns).rename_columns(list(fields)).to_pylist()
    meta = batch.select(["_key", "_row_hash", "_previous_dest_id"]).to_pydict()
    return [
        PlanRow(key, kind, row_hash, previous, row_fields)
        for key, row_hash, previous, row_fields in zip(
            meta["_key"], meta["_row_hash"], meta["_previous_dest_id"], values, strict=True
        )
    ]


def chunks(rows: Sequence[PlanRow], size: int) -> Iterator[Sequence[PlanRow]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


class Executor:
    def __init__(
        self,
        destination: Destination,
        sync: SyncConfig,
        store: StateStore,
        run_id: str,
        on_progress: ProgressCallback | None = None,
        commit_rows: int = 100_000,
        commit_seconds: float = 0.5,
        rng: random.Random | None = None,
        on_phase: PhaseCallback | None = None,
    ) -> None:
        self.destination = destination
        self.sync = sync
        self.store = store
        self.run_id = run_id
        self.on_progress = on_progress
        self.on_phase = on_phase or (lambda phase: None)
        self.rng = rng or random.Random()
        limit = destination.rate_limit
        self.bucket = (
            TokenBucket.per_window(limit.requests, limit.per_seconds)
            if limit
            else TokenBucket(None)
        )
        self.stats = RunStats()
        self._committer = Committer(store, run_id, commit_seconds, commit_rows)

    # --- worker side -------------------------------------------------------------------

    def _backoff(self, attempt: int) -> float:
        retry = self.destination.retry
        ceiling = min(retry.max_delay_seconds, retry.base_delay_seconds * 2 ** (attempt - 1))
        return self.rng.uniform(0, ceiling)  # full jitter

    def _send(self, rows: Sequence[PlanRow], kind: str, operation: Operation) -> BatchOutcome:
        retry = self.destination.retry
        calls = rate_limited = retries = 0
        failures = 0
        rate_limited_wait = 0.0
        while True:
            self.bucket.acquire()
            calls += 1
            try:
                results = self.destination.send(rows, operation)
                return BatchOutcome(kind, rows, results, calls, rate_limited, retries)
            except RateLimitedError as exc:
                rate_limited += 1
                wait_s = (
                    exc.retry_after if exc.retry_after is not None else self._backoff(rate_limited)
                )
                rate_limited_wait += wait_s
                if rate_limited_wait > retry.max_rate_limited_seconds:
                    message = f"still rate limited after waiting {rate_limited_wait:.0f}s"
                    return self._all_failed(kind, rows, message, calls, rate_limited, retries)
                self.bucket.pause(wait_s)  # every worker waits, and this is not a failure
            except TransientError as exc:
                failures += 1
                if failures >= retry.max_attempts:
                    message = f"gave up after {failures} attempts: {exc}"
                    return self._all_failed(kind, rows, message, calls, rate_limited, retries)
                retries += 1
                log.info("retrying %s batch of %d after: %s", kind, len(rows), exc)
                time.sleep(self._backoff(failures))
            except BatchRejectedError as exc:
                return self._all_failed(kind, rows, str(exc), calls, rate_limited, retries)

    @staticmethod
    def _all_failed(
        kind: str,
        rows: Sequence[PlanRow],
        message: str,
        calls: int,
        rate_limited: int,
        retries: int,
    ) -> BatchOutcome:
        results = [RowResult(row.key, False, message) for row in rows]
        return BatchOutcome(kind, rows, results, calls, rate_limited, retries)

    # --- collecting side (calling thread only; the committer thread writes) -------------

    def _absorb(self, outcome: BatchOutcome) -> None:
        s = self.stats
        s.calls += outcome.calls
        s.rate_limited += outcome.rate_limited
        s.retries += outcome.retries
        by_key = {r.key: r for r in outcome.results}
        pending = Outcomes()
        ok = failed = 0
        for row in outcome.rows:
            result = by_key.get(row.key) or RowResult(row.key, False, "destination gave no result")
            if result.ok:
                ok += 1
                if outcome.kind == "removed":
                    pending.add(row.key, "removed", outcome.kind, None, None, None)
                else:
                    pending.add(row.key, "synced", outcome.kind, row.row_hash, result.dest_id, None)
            else:
                failed += 1
                pending.add(row.key, "failed", outcome.kind, None, None, result.error)
        self._committer.put(pending)
        s.sent_ok += ok
        s.rejected += failed
        s.ok_by_kind[outcome.kind] = s.ok_by_kind.get(outcome.kind, 0) + ok
        s.failed_by_kind[outcome.kind] = s.failed_by_kind.get(outcome.kind, 0) + failed
        if self.on_progress:
            self.on_progress(outcome.kind, ok, failed)

    def _collect(self, futures: set[Future], limit: int) -> None:
        """Absorb finished batches; block while `limit` or more are still in flight."""
        while futures:
            block = len(futures) >= limit
            done, _ = wait(futures, timeout=None if block else 0, return_when=FIRST_COMPLETED)
            if not done:
                break
            for future in done:
                futures.discard(future)
                self._absorb(future.result())

    def execute(self, read_session: Session, plan: Plan) -> RunStats:
        size = self.destination.batch_size
        read_rows = max(size, (10_000 // size) * size)
        max_in_flight = self.destination.concurrency * 2
        futures: set[Future] = set()
        retries_in_place_before = self.destination.retries_in_place
        self.on_phase("send")
        self._committer.start()
        pool = ThreadPoolExecutor(
            max_workers=self.destination.concurrency, thread_name_prefix=f"sync-{plan.sync_name}"
        )
        try:
            for kind in KINDS:
                if not plan.counts.get(kind):
                    continue
                operation = operation_for(self.sync.mode, kind)
                for record_batch in iter_plan(read_session, plan, kind, read_rows):
                    for chunk in chunks(plan_rows(record_batch, kind, plan.fields), size):
                        self._collect(futures, max_in_flight)
                        futures.add(pool.submit(self._send, chunk, kind, operation))
                # removals finish before creates start: an email can move between keys
                self._collect(futures, 1)
            self._collect(futures, 1)
        except BaseException:
            # Stop sending, but keep what was acknowledged: finish in-flight batches first.
            for future in futures:
                future.cancel()
            for future in futures:
                if future.cancelled():
                    continue
                with contextlib.suppress(Exception):  # the original error is the one to report
                    self._absorb(future.result())
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            self.on_phase("commit")
            self._committer.close()  # commits every acknowledged outcome before returning
            self.stats.retries += self.destination.retries_in_place - retries_in_place_before
        return self.stats
