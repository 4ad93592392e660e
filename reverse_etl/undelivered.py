"""A destination that is down: when to stop taking batches (the executor's circuit breaker).

See executor.py's module docstring for what happens to the batches not sent.
"""

from __future__ import annotations

import threading


class UndeliveredStreak:
    """Batches in a row the destination did not take while it answered no other, across
    workers; trips (for the rest of the run) when it reaches `limit`. Thread-safe.

    A batch counts only if nothing was answered since it started: with several workers a
    batch that fails takes far longer (retries, backoff, timeouts) than one that goes
    through, so a destination failing every other batch leaves each worker holding a failing
    one and they finish together, in a row, though the destination was answering meanwhile.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._count = 0
        self._answered = 0  # batches the destination answered (took or refused) so far
        self._lock = threading.Lock()
        self._tripped = threading.Event()

    @property
    def tripped(self) -> bool:
        return self._tripped.is_set()

    def answered(self) -> int:
        """A mark to pass to `record` for a batch about to be sent."""
        with self._lock:
            return self._answered

    def record(self, delivered: bool, since: int) -> None:
        """A batch sent at mark `since` was answered (`delivered`) or never taken."""
        with self._lock:
            if delivered:
                self._answered += 1
                self._count = 0
            elif self._answered == since:  # the destination answered nothing meanwhile
                self._count += 1
                if self._count >= self.limit:
                    self._tripped.set()


NOT_SENT = "not sent: "  # starts the cause of rows not sent because the run stopped early


def stopped_early_reason(limit: int) -> str:
    return (
        "the run stopped early because the destination was unreachable for "
        f"{limit} batch{'es' if limit != 1 else ''} in a row (retry.max_undelivered_batches)"
    )
