"""One run per sync at a time: an advisory lock on a file, released by the kernel on exit.

`fcntl.flock` is held by the open file description, so a process killed with SIGKILL
cannot leave the lock stuck; the file's content (pid, start time) only feeds the message.
"""

from __future__ import annotations

import fcntl
import os
import socket
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType


class SyncLockedError(RuntimeError):
    """Another run of the same sync holds the lock."""


class SyncLock:
    def __init__(self, lock_dir: Path, sync_name: str) -> None:
        self.path = lock_dir / f"sync_{sync_name}.lock"
        self.sync_name = sync_name
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "unknown process"
            os.close(fd)
            raise SyncLockedError(
                f"sync {self.sync_name!r} is already running ({holder}); "
                f"wait for it to finish (lock file {self.path})"
            ) from None
        os.ftruncate(fd, 0)
        started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()} since {started}".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> SyncLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
