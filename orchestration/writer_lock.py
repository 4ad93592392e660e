"""One warehouse writer at a time, whatever the Dagster instance says.

DuckDB lets one process write a file. `make ui` gives the instance a one-slot pool for every
warehouse step (dagster.yaml), but a plain `dagster dev` starts an instance with no pool
limits: two steps of one run, or a sensor's run beside a manual one, would open the file
together and the second would fail on DuckDB's lock. So each warehouse step also takes an
exclusive advisory lock on a file beside the warehouse for its whole duration; a second
step waits for it (and says so in its log) instead of failing. With the pool configured, the
lock is never contended.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

LOG_EVERY_SECONDS = 60.0
POLL_SECONDS = 0.5


@dataclass
class WriterLock:
    """An exclusive lock on `<warehouse>.writers.lock`, held from `acquire` to `release`."""

    warehouse: Path
    holder: str  # who holds it, written into the file for whoever waits
    _file: IO[str] | None = None

    @property
    def path(self) -> Path:
        return self.warehouse.with_name(self.warehouse.name + ".writers.lock")

    def acquire(self, log: Callable[[str], None]) -> None:
        handle = self.path.open("a+")
        started = time.monotonic()
        next_log = started
        try:
            while True:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    now = time.monotonic()
                    if now >= next_log:
                        handle.seek(0)
                        other = handle.read().strip() or "another process"
                        log(
                            f"waiting for the warehouse {self.warehouse} "
                            f"({now - started:.0f} s so far): {other} is writing to it"
                        )
                        next_log = now + LOG_EVERY_SECONDS
                    time.sleep(POLL_SECONDS)
        except BaseException:
            handle.close()
            raise
        handle.seek(0)
        handle.truncate()
        handle.write(f"{self.holder} (pid {os.getpid()})")
        handle.flush()
        self._file = handle

    def release(self) -> None:
        if self._file is None:
            return
        self._file.seek(0)
        self._file.truncate()
        self._file.flush()
        fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
        self._file.close()
        self._file = None
