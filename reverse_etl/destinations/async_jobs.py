"""Helpers for destinations whose writes are asynchronous jobs (Salesforce Bulk, Google Ads).

A job is created, fed, started and then polled. The polls and result downloads are
idempotent reads, so they are retried here, in place: letting the executor retry the
whole `send` would start a second job and resend every row because one status read hit
a 503. A write is retried in place only where repeating it is harmless for that API (the
destination says so where it calls this); starting a job never is (the executor retries
the whole `send` instead).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from reverse_etl.config import RetryConfig
from reverse_etl.destinations.base import RateLimitedError, TransientError

T = TypeVar("T")


def retry_in_place(
    call: Callable[[], T],
    retry: RetryConfig,
    what: str,
    on_retry: Callable[[], None] | None = None,
) -> T:
    """Call `call` until it succeeds, waiting out 429s and backing off on 5xx/timeouts.

    `on_retry` is told about every repeat so the run's retry count includes them.
    """
    failures = 0
    waited_on_429 = 0.0
    while True:
        try:
            return call()
        except RateLimitedError as exc:
            wait = exc.retry_after if exc.retry_after is not None else retry.base_delay_seconds
            waited_on_429 += wait
            if waited_on_429 > retry.max_rate_limited_seconds:
                raise
            time.sleep(wait)
            if on_retry:
                on_retry()
        except TransientError:
            failures += 1
            if failures >= retry.max_attempts:
                raise
            delay = min(retry.max_delay_seconds, retry.base_delay_seconds * 2 ** (failures - 1))
            time.sleep(delay)
            if on_retry:
                on_retry()


def wait_out_rate_limits(
    call: Callable[[], T],
    retry: RetryConfig,
    on_retry: Callable[[], None] | None = None,
) -> T:
    """Call `call` again after each 429 (up to the rate-limit budget); other errors pass.

    A 429 means the request was refused before it was processed, so repeating any step
    of a job (create, upload, close) is safe, and it keeps the job: starting over would
    throw away the steps already done, and in a storm every fresh job meets new 5xx.
    """
    waited = 0.0
    while True:
        try:
            return call()
        except RateLimitedError as exc:
            wait = exc.retry_after if exc.retry_after is not None else retry.base_delay_seconds
            waited += wait
            if waited > retry.max_rate_limited_seconds:
                raise
            time.sleep(wait)
            if on_retry:
                on_retry()


@dataclass(frozen=True)
class PollPolicy:
    first_delay_seconds: float = 1.0
    max_delay_seconds: float = 10.0
    timeout_seconds: float = 3600.0


def poll_until(
    read_state: Callable[[], T],
    done: Callable[[T], bool],
    policy: PollPolicy,
    what: str,
) -> T:
    """Poll with a growing delay until `done(state)`; TransientError when it takes too long.

    A timeout is transient on purpose: the rows stay unacknowledged and the next attempt
    resends them, which the callers' idempotent writes (upsert by key, set membership) allow.
    """
    started = time.monotonic()
    delay = policy.first_delay_seconds
    while True:
        state = read_state()
        if done(state):
            return state
        if time.monotonic() - started > policy.timeout_seconds:
            raise TransientError(f"{what}: not finished after {policy.timeout_seconds:.0f}s")
        time.sleep(delay)
        delay = min(policy.max_delay_seconds, delay * 1.5)
