"""The single writer of sync state, on its own thread so sending never waits for commits.

Acknowledged outcomes arrive on a queue; they are committed together (group commit) once
the commit interval has passed, in one transaction each. Commits cost more as the state
table grows, so the interval stretches to 3x the last commit's duration: commits stay
under a quarter of the run, and a crash can only mean some acknowledged rows are sent again.
"""

from __future__ import annotations

import queue
import threading
import time

from reverse_etl.state import Outcomes, StateStore

_STOP = object()


class Committer(threading.Thread):
    def __init__(
        self, store: StateStore, run_id: str, commit_seconds: float, commit_rows: int
    ) -> None:
        super().__init__(name=f"commit-{store.sync_name}", daemon=True)
        self.store = store
        self.run_id = run_id
        self.commit_seconds = commit_seconds
        self.commit_rows = commit_rows
        self.error: BaseException | None = None
        self.commits = 0
        self._queue: queue.Queue[object] = queue.Queue()

    def put(self, outcomes: Outcomes) -> None:
        if self.error is not None:
            raise self.error
        self._queue.put(outcomes)

    def close(self) -> None:
        """Commit everything queued so far, stop the thread, and re-raise its error."""
        self._queue.put(_STOP)
        self.join()
        if self.error is not None:
            raise self.error

    def run(self) -> None:
        pending = Outcomes()
        last_commit = time.monotonic()
        last_duration = 0.0
        try:
            while True:
                interval = max(self.commit_seconds, 3 * last_duration)
                wait = max(0.0, last_commit + interval - time.monotonic()) if pending else None
                try:
                    item = self._queue.get(timeout=wait)
                except queue.Empty:
                    item = None
                if item is _STOP:
                    self._commit(pending)
                    return
                if isinstance(item, Outcomes):
                    pending.extend(item)
                due = time.monotonic() - last_commit >= interval
                if pending and (due or len(pending) >= self.commit_rows):
                    started = time.monotonic()
                    self._commit(pending)
                    pending = Outcomes()
                    last_commit = time.monotonic()
                    last_duration = last_commit - started
        except BaseException as exc:  # surfaced to the sending thread by put()/close()
            self.error = exc

    def _commit(self, pending: Outcomes) -> None:
        if len(pending):
            self.store.commit(self.run_id, pending)
            self.commits += 1
