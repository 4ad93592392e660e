"""Send a plan: destination-sized batches, bounded concurrency, retries, commit on ack.

Workers (a thread pool) talk HTTP; the moment a worker has a batch's answer it journals the
per-row outcomes (one local write, see journal.py) and queues them for the committer thread
(the single state writer), which commits them in one transaction with whatever else was
acknowledged since its last commit. The calling thread streams the plan out of the
warehouse, hands batches to workers and keeps the counts. Nothing unacknowledged is ever
written as synced, so a crash at any point loses nothing; and because acknowledgements are
journaled before a worker takes its next batch, a crash costs at most the batches on the
wire (concurrency x batch size rows) when the next run replays the journal.

A batch the destination never took (unreachable, timeouts or 5xx after every retry, 429s
past the rate-limit budget) is not a rejection: nothing is journaled or committed for it, so
its rows stay pending in the warehouse diff and the next run sends them again. They are
counted as `not_delivered`, apart from the rows the destination refused (`rejected`).

A destination that is down would otherwise cost every batch of the plan its full retries
and backoff. So once `retry.max_undelivered_batches` batches in a row (across workers) were
not delivered, the destination answering nothing while they were tried, the run stops taking
batches (UndeliveredStreak): batches already on the wire finish (acknowledged or not
delivered as usual); batches queued or waiting for a rate-limit token, and the rest of the
plan, are not sent and count as not delivered, with a cause saying the run stopped early.
Like any batch not delivered they are never journaled or committed, so the guarantees above
hold: the state keeps them pending and the next run sends them. Any answer from the
destination (rows taken or refused) resets the count, so a destination that fails every
other batch never trips it. Once tripped it stays tripped for the run.

A stop request (stopping.py) is polled between batches: no new batch is taken, in-flight
ones are awaited up to the request's deadline, and what was acknowledged is committed.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from reverse_etl.batches import BatchOutcome, chunks, operation_for, outcomes_of, plan_rows
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
from reverse_etl.journal import AckJournal
from reverse_etl.match import CONFLICT_COLUMN, held_back_message
from reverse_etl.planner import HELD_BACK, KINDS, Plan, iter_held_back, iter_plan
from reverse_etl.ratelimit import TokenBucket
from reverse_etl.run_stats import RunStats
from reverse_etl.state import StateStore
from reverse_etl.stopping import StopRequest
from reverse_etl.undelivered import NOT_SENT, UndeliveredStreak, stopped_early_reason
from reverse_etl.url_credentials import hide_credentials
from tessera.warehouse import Session

log = logging.getLogger("tessera.reverse_etl")

# (kind, rows ok, rows failed: rejected by the destination or not delivered)
ProgressCallback = Callable[[str, int, int], None]
PhaseCallback = Callable[[str], None]  # "send", then "commit" (the last acknowledgements)


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
        journal: AckJournal | None = None,
        stop: StopRequest | None = None,
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
        self.journal = journal
        self.stop = stop or StopRequest()
        self._committer = Committer(store, run_id, commit_seconds, commit_rows)
        self._ack_lock = threading.Lock()  # journal order = commit order
        self._seq = 0
        self.all_committed = False  # every acknowledged outcome reached the state table
        self.streak = UndeliveredStreak(destination.retry.max_undelivered_batches)

    # --- worker side -------------------------------------------------------------------

    def _backoff(self, attempt: int) -> float:
        retry = self.destination.retry
        ceiling = min(retry.max_delay_seconds, retry.base_delay_seconds * 2 ** (attempt - 1))
        return self.rng.uniform(0, ceiling)  # full jitter

    def _send(self, rows: Sequence[PlanRow], kind: str, operation: Operation) -> BatchOutcome:
        if self.streak.tripped:  # queued before the run stopped taking batches: not sent
            return self._not_sent(kind, len(rows))
        since = self.streak.answered()
        outcome = self._deliver(rows, kind, operation)
        if outcome.tried:  # refused rows count as answered: the destination is up
            self.streak.record(delivered=not outcome.not_delivered, since=since)
        return outcome

    def _deliver(self, rows: Sequence[PlanRow], kind: str, operation: Operation) -> BatchOutcome:
        retry = self.destination.retry
        calls = rate_limited = retries = 0
        failures = 0
        rate_limited_wait = 0.0
        while True:
            self.bucket.acquire()
            if not calls and self.streak.tripped:  # tripped while it waited for a token
                return self._not_sent(kind, len(rows))
            calls += 1
            try:
                results = self.destination.send(rows, operation)
                return self._acknowledge(
                    BatchOutcome(kind, rows, results, calls, rate_limited, retries)
                )
            except RateLimitedError as exc:
                rate_limited += 1
                wait_s = (
                    exc.retry_after if exc.retry_after is not None else self._backoff(rate_limited)
                )
                rate_limited_wait += wait_s
                if rate_limited_wait > retry.max_rate_limited_seconds:
                    message = f"still rate limited after waiting {rate_limited_wait:.0f}s"
                    return self._not_delivered(kind, rows, message, calls, rate_limited, retries)
                self.bucket.pause(wait_s)  # every worker waits, and this is not a failure
            except TransientError as exc:
                failures += 1
                if failures >= retry.max_attempts:
                    message = f"gave up after {failures} attempts: {exc}"
                    return self._not_delivered(kind, rows, message, calls, rate_limited, retries)
                retries += 1
                log.info("retrying %s batch of %d after: %s", kind, len(rows), exc)
                time.sleep(self._backoff(failures))
            except BatchRejectedError as exc:
                return self._all_failed(kind, rows, str(exc), calls, rate_limited, retries)

    def _all_failed(
        self,
        kind: str,
        rows: Sequence[PlanRow],
        message: str,
        calls: int,
        rate_limited: int,
        retries: int,
    ) -> BatchOutcome:
        results = [RowResult(row.key, False, message) for row in rows]
        return self._acknowledge(BatchOutcome(kind, rows, results, calls, rate_limited, retries))

    def _not_delivered(
        self,
        kind: str,
        rows: Sequence[PlanRow],
        message: str,
        calls: int,
        rate_limited: int,
        retries: int,
    ) -> BatchOutcome:
        """The destination never took the batch: no outcome is journaled or committed, so
        state keeps saying what it said before and the next run's plan sends these rows."""
        redact = getattr(self.destination, "redact", None)
        message = hide_credentials(redact(message) if redact is not None else message)
        log.info("%s batch of %d not delivered: %s", kind, len(rows), message)
        outcome = BatchOutcome(kind, rows, [], calls, rate_limited, retries)
        outcome.not_delivered, outcome.cause = len(rows), message
        return outcome

    def _not_sent(self, kind: str, rows: int) -> BatchOutcome:
        """Rows never sent because the run stopped taking batches: not delivered, pending."""
        outcome = BatchOutcome(kind, (), [], 0, 0, 0, tried=False)
        outcome.not_delivered = rows
        outcome.cause = NOT_SENT + stopped_early_reason(self.streak.limit)
        return outcome

    def _acknowledge(self, outcome: BatchOutcome) -> BatchOutcome:
        """Journal the batch's outcomes and queue them for commit, before the worker takes
        another batch: from here on a crash cannot make the rerun send these rows again."""
        pending = outcomes_of(outcome.kind, outcome.rows, outcome.results)
        outcome.failed = sum(1 for status in pending.outcomes if status == "failed")
        outcome.ok = len(pending) - outcome.failed
        with self._ack_lock:
            self._seq += 1
            if self.journal is not None:
                self.journal.append(self._seq, pending)
            self._committer.put(pending, self._seq if self.journal is not None else None)
        return outcome

    # --- collecting side (calling thread only: counts and progress) ----------------------

    def _absorb(self, outcome: BatchOutcome) -> None:
        self.stats.absorb(outcome)
        if self.on_progress:
            self.on_progress(outcome.kind, outcome.ok, outcome.failed + outcome.not_delivered)

    def _collect(self, futures: set[Future], limit: int) -> None:
        """Absorb finished batches; block while `limit` or more are still in flight (waking
        up to notice a stop request)."""
        while futures:
            if self.stop.requested:
                return
            block = len(futures) >= limit
            done, _ = wait(futures, timeout=0.25 if block else 0, return_when=FIRST_COMPLETED)
            if not done and not block:
                break
            for future in done:
                futures.discard(future)
                self._absorb(future.result())

    def _drain(self, futures: set[Future]) -> None:
        """After a stop request: await in-flight batches until the deadline or a halt."""
        for future in futures:
            future.cancel()  # queued, never started: nothing was sent
        running = {f for f in futures if not f.cancelled()}
        while running and self.stop.remaining() > 0:
            done, running = wait(running, timeout=min(0.1, self.stop.remaining()))
            for future in done:
                with contextlib.suppress(Exception):
                    self._absorb(future.result())
        self.stats.unfinished_batches = len(running)

    def _stop_taking(self) -> bool:
        """No new batch: a stop request, or the destination took none of the last K."""
        return self.stop.requested or self.streak.tripped

    def _count_not_sent(self, plan: Plan, handed_out: dict[str, int]) -> None:
        """The run stopped taking batches: the plan's rows never handed to a worker are not
        delivered (queued batches count themselves when a worker skips them)."""
        for kind in KINDS:
            rest = plan.counts.get(kind, 0) - handed_out.get(kind, 0)
            if rest > 0:
                self._absorb(self._not_sent(kind, rest))

    def _reject_held_back(self, read_session: Session, plan: Plan, read_rows: int) -> None:
        """Record the plan's held-back upserts (match.py) as rejected, naming the row sent
        instead; nothing of theirs is sent."""
        assert plan.match is not None
        for record_batch in iter_held_back(read_session, plan, read_rows):
            columns = record_batch.select(["_key", "_kind", "_person_id", CONFLICT_COLUMN])
            by_kind: dict[str, tuple[list[PlanRow], list[RowResult]]] = {}
            for key, kind, person, instead in zip(*columns.to_pydict().values(), strict=True):
                rows, results = by_kind.setdefault(kind, ([], []))
                rows.append(PlanRow(key, kind, None, None, {}, person))
                message = held_back_message(plan.match, self.destination.type, instead)
                results.append(RowResult(key, False, message))
            for kind, (rows, results) in by_kind.items():
                self._absorb(self._acknowledge(BatchOutcome(kind, rows, results, 0, 0, 0)))
        self.stats.held_back = plan.counts.get(HELD_BACK, 0)

    def execute(self, read_session: Session, plan: Plan) -> RunStats:
        size = self.destination.batch_size
        read_rows = max(size, (10_000 // size) * size)
        max_in_flight = self.destination.concurrency * 2
        futures: set[Future] = set()
        retries_in_place_before = self.destination.retries_in_place
        handed_out: dict[str, int] = {}  # rows given to workers, per kind
        self.on_phase("send")
        self._committer.start()
        pool = ThreadPoolExecutor(
            max_workers=self.destination.concurrency, thread_name_prefix=f"sync-{plan.sync_name}"
        )
        try:
            if plan.counts.get(HELD_BACK):
                self._reject_held_back(read_session, plan, read_rows)
            for kind in KINDS:
                if not plan.counts.get(kind) or self._stop_taking():
                    continue
                operation = operation_for(self.sync.mode, kind)
                for record_batch in iter_plan(read_session, plan, kind, read_rows):
                    for chunk in chunks(plan_rows(record_batch, kind, plan.fields), size):
                        self._collect(futures, max_in_flight)
                        if self._stop_taking():
                            break
                        futures.add(pool.submit(self._send, chunk, kind, operation))
                        handed_out[kind] = handed_out.get(kind, 0) + len(chunk)
                    if self._stop_taking():
                        break
                # removals finish before creates start: an email can move between keys
                self._collect(futures, 1)
            if self.streak.tripped:
                self._count_not_sent(plan, handed_out)
            self._collect(futures, 1)
            if self.stop.requested:
                self.stats.stopped = True
                self._drain(futures)
            if self.stats.not_sent:  # (not when it tripped on the plan's last batches)
                self.stats.stopped_early = stopped_early_reason(self.streak.limit)
                log.info(  # info: the run's error says it (the CLI's one line, the runs row)
                    "sync %s: %s; %d rows not sent",
                    plan.sync_name,
                    self.stats.stopped_early,
                    self.stats.not_sent,
                )
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
            # past a stop deadline, batches still on the wire are not awaited: they journal
            # their answer if it comes before the process ends, and the next run replays it
            pool.shutdown(wait=not self.stats.unfinished_batches, cancel_futures=True)
            self.on_phase("commit")
            self._committer.close()  # commits every acknowledged outcome before returning
            self.all_committed = not self.stats.unfinished_batches
            self.stats.retries += self.destination.retries_in_place - retries_in_place_before
        return self.stats
