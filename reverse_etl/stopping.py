"""Graceful stops: a first SIGTERM / SIGINT stops a sync cleanly, a second one at once.

A stop request is an object the executor polls between batches: once requested it takes no
new batch, waits for the batches on the wire up to a deadline, commits what was
acknowledged and ends the run `cancelled` with its counts. A second request (`halt`) stops
waiting. Nothing is lost either way: every acknowledgement is journaled as it arrives.

Signals only reach Python's main thread, so there are two ways in:
- `stop_on_signals(stop)` (the CLI, which runs the sync on its main thread) installs
  SIGTERM and SIGINT handlers for the run's duration and restores the previous ones after;
  off the main thread it installs nothing and says so.
- `run_stoppable(fn, stop)` (Dagster, or any host that turns a signal into an exception,
  e.g. KeyboardInterrupt or DagsterExecutionInterruptedError) runs the sync on a worker
  thread and waits on the calling thread: an interrupt raised there becomes a stop request,
  a second one a halt, and the interrupt is re-raised once the sync has ended.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

log = logging.getLogger("tessera.reverse_etl")

T = TypeVar("T")
DEFAULT_DEADLINE_SECONDS = 20.0


class StopRequest:
    """Set from a signal handler or another thread; read by the executor."""

    def __init__(self, deadline_seconds: float = DEFAULT_DEADLINE_SECONDS) -> None:
        self.deadline_seconds = deadline_seconds
        self.reason: str | None = None
        self.result: object = None  # what the stopped run returned (run_stoppable sets it)
        self.requested_at: float | None = None
        self._graceful = threading.Event()
        self._halt = threading.Event()

    def request(self, reason: str) -> None:
        """First call: stop gracefully. Later calls: halt (stop waiting at once)."""
        if self._graceful.is_set():
            self._halt.set()
            return
        self.reason = reason
        self.requested_at = time.monotonic()
        self._graceful.set()

    def halt(self, reason: str) -> None:
        if not self._graceful.is_set():
            self.request(reason)
        self._halt.set()

    @property
    def requested(self) -> bool:
        return self._graceful.is_set()

    @property
    def halted(self) -> bool:
        return self._halt.is_set()

    def remaining(self) -> float:
        """Seconds left to wait for in-flight batches (0 once halted or past the deadline)."""
        if self.halted or self.requested_at is None:
            return 0.0 if self.halted else self.deadline_seconds
        return max(0.0, self.requested_at + self.deadline_seconds - time.monotonic())


@contextmanager
def stop_on_signals(
    stop: StopRequest,
    on_first: Callable[[str], None] | None = None,
    on_second: Callable[[int], None] | None = None,
) -> Iterator[bool]:
    """SIGTERM/SIGINT -> `stop.request`; a second one -> `on_second(signum)` (default: halt).

    Yields whether handlers were installed (only possible on the main thread).
    """
    if threading.current_thread() is not threading.main_thread():
        log.info("not on the main thread: signals cannot be caught here; pass a StopRequest")
        yield False
        return
    signals = (signal.SIGTERM, signal.SIGINT)
    previous = {sig: signal.getsignal(sig) for sig in signals}

    def handler(signum: int, _frame: object) -> None:
        name = signal.Signals(signum).name
        if stop.requested:
            if on_second is not None:
                on_second(signum)
            stop.halt(name)
            return
        stop.request(name)
        if on_first is not None:
            on_first(name)

    for sig in signals:
        signal.signal(sig, handler)
    try:
        yield True
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def run_stoppable(fn: Callable[[], T], stop: StopRequest, poll_seconds: float = 0.2) -> T:
    """Run `fn` on a worker thread; interrupts raised on this thread become stop requests.

    The first interrupt (any BaseException that is not an Exception: KeyboardInterrupt,
    Dagster's DagsterExecutionInterruptedError, SystemExit) asks `fn` to stop gracefully and
    keeps waiting; a second one halts it and stops waiting after `poll_seconds` more. The
    interrupt is then re-raised, so the host sees the run as interrupted.
    """
    box: dict[str, object] = {}
    finished = threading.Event()  # not Thread.join: an interrupted join can leave the
    # thread looking finished (is_alive() False) while it still runs

    def target() -> None:
        try:
            box["result"] = fn()
        except BaseException as exc:  # handed to the waiting thread
            box["error"] = exc
        finally:
            finished.set()

    worker = threading.Thread(target=target, name="tessera-sync", daemon=True)
    worker.start()
    interrupt: BaseException | None = None
    while not finished.is_set():
        try:
            finished.wait(poll_seconds)
        except Exception:
            raise
        except BaseException as exc:
            if interrupt is None:
                interrupt = exc
                stop.request(type(exc).__name__)
                log.warning("stop requested (%s): finishing in-flight batches", type(exc).__name__)
            else:
                stop.halt(type(exc).__name__)
                with contextlib.suppress(BaseException):
                    finished.wait(poll_seconds)
                break
    if "error" in box and finished.is_set():
        error = box["error"]
        assert isinstance(error, BaseException)
        if interrupt is None or not isinstance(error, Exception):
            raise error
    stop.result = box.get("result")
    if interrupt is not None:
        raise interrupt
    return box["result"]  # type: ignore[return-value]
