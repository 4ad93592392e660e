"""Token bucket shared by every worker sending to one destination.

A 429's Retry-After pauses the whole bucket, not just the worker that saw it: the
destination said the app is over its limit, so every thread should wait.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class TokenBucket:
    def __init__(
        self,
        rate_per_second: float | None,
        capacity: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate = rate_per_second
        self.capacity = capacity if capacity is not None else max(1.0, rate_per_second or 1.0)
        self._tokens = self.capacity
        self._clock = clock
        self._sleep = sleep
        self._updated = clock()
        self._paused_until = 0.0
        self._lock = threading.Lock()

    @classmethod
    def per_window(cls, requests: int, per_seconds: float) -> TokenBucket:
        return cls(requests / per_seconds, capacity=float(requests))

    def acquire(self) -> float:
        """Block until a request may be sent; returns the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                wait = self._paused_until - now
                if wait <= 0:
                    if self.rate is None:
                        return waited
                    self._tokens = min(
                        self.capacity, self._tokens + (now - self._updated) * self.rate
                    )
                    self._updated = now
                    if self._tokens >= 1 - 1e-9:  # tolerate float drift in the refill
                        self._tokens = max(0.0, self._tokens - 1)
                        return waited
                    wait = (1 - self._tokens) / self.rate
            self._sleep(wait)
            waited += wait

    def pause(self, seconds: float) -> None:
        with self._lock:
            self._paused_until = max(self._paused_until, self._clock() + seconds)
            self._tokens = 0.0 if self.rate is not None else self._tokens
            self._updated = max(self._updated, self._paused_until)
