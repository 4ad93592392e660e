"""The single writer of sync state, on its own thread so sending never waits for commits.

Acknowledged outcomes arrive on a queue (already journaled, see journal.py); they are
committed together (group commit) once the commit interval has passed or `commit_rows` are
waiting, in one transaction each. Commits cost more as the state table grows, so the
interval stretches to 3x the last commit's duration, never beyond `max_interval_seconds`:
commits stay under a quarter of the run, and the state table trails acknowledgements by a
bounded lag. Each commit also records the last journal record it covers.

The queue is bounded in rows: when commits fall behind the destination, `put` waits for
the committer instead of piling acknowledged rows up in memory, so memory stays flat in
the segment's size whatever the ratio of commit to send speed.
"""

from __future__ import annotations

import queue
import threading
import time

from reverse_etl.state import Outcomes, StateStore

_STOP = object()


class Committer(threading.Thread):
    def __init__(
        self,
        store: StateStore,
        run_id: str,
        commit_seconds: float,
        commit_rows: int,
        max_queued_rows: int | None = None,
        max_interval_seconds: float = 5.0,
    ) -> None:
        super().__init__(name=f"commit-{store.sync_name}", daemon=True)
        self.store = store
        self.run_id = run_id
        self.commit_seconds = commit_seconds
        self.commit_rows = commit_rows
        self.max_interval_seconds = max(commit_seconds, max_interval_seconds)
        # room for one commit's worth while the previous one is being written
        self.max_queued_rows = max_queued_rows or 2 * commit_rows
        self.error: BaseException | None = None
        self.commits = 0
        self.waits = 0  # times a sender waited for room: commits were the bottleneck
        self.peak_queued_rows = 0
        self.committed_seq = 0  # the last journal record whose outcomes are committed
        self._queue: queue.Queue[object] = queue.Queue()
        self._queued_rows = 0
        self._room = threading.Condition()

    @property
    def queued_rows(self) -> int:
        with self._room:
            return self._queued_rows

    def put(self, outcomes: Outcomes, seq: int | None = None) -> None:
        """Queue acknowledged outcomes (journal record `seq`, if journaled); waits while the
        backlog is full (back-pressure). Records must arrive in `seq` order."""
        rows = len(outcomes)
        with self._room:
            waited = False
            # An empty queue always takes a batch, however large, so progress never stalls.
            while self._queued_rows and self._queued_rows + rows > self.max_queued_rows:
                if self.error is not None or not self.is_alive():
                    break
                waited = True
                self._room.wait(timeout=0.5)
            if self.error is not None:
                raise self.error
            self.waits += waited
            self._queued_rows += rows
            self.peak_queued_rows = max(self.peak_queued_rows, self._queued_rows)
        self._queue.put((outcomes.seal(), seq))

    def close(self) -> None:
        """Commit everything queued so far, stop the thread, and re-raise its error."""
        self._queue.put(_STOP)
        self.join()
        if self.error is not None:
            raise self.error

    def _taken(self, rows: int) -> None:
        with self._room:
            self._queued_rows -= rows
            self._room.notify_all()

    def run(self) -> None:
        pending = Outcomes()
        pending_seq: int | None = None
        last_commit = time.monotonic()
        last_duration = 0.0
        try:
            while True:
                interval = min(
                    max(self.commit_seconds, 3 * last_duration), self.max_interval_seconds
                )
                wait = max(0.0, last_commit + interval - time.monotonic()) if pending else None
                try:
                    item = self._queue.get(timeout=wait)
                except queue.Empty:
                    item = None
                if item is _STOP:
                    self._commit(pending, pending_seq)
                    self._taken(len(pending))
                    return
                if isinstance(item, tuple):
                    outcomes, seq = item
                    pending.extend(outcomes)
                    pending_seq = seq if seq is not None else pending_seq
                due = time.monotonic() - last_commit >= interval
                if pending and (due or len(pending) >= self.commit_rows):
                    started = time.monotonic()
                    self._commit(pending, pending_seq)
                    self._taken(len(pending))
                    pending = Outcomes()
                    last_commit = time.monotonic()
                    last_duration = last_commit - started
        except BaseException as exc:  # surfaced to the sending thread by put()/close()
            self.error = exc
        finally:
            with self._room:
                self._room.notify_all()

    def _commit(self, pending: Outcomes, seq: int | None) -> None:
        if len(pending):
            self.store.commit(self.run_id, pending, journal_seq=seq)
            self.commits += 1
            if seq is not None:
                self.committed_seq = seq
