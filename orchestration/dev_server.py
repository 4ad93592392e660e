"""`dagster dev` (webserver + daemon) as a child process group, for tests and benchmarks."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from tessera.settings import PROJECT_ROOT


class DevServerError(RuntimeError):
    """dagster dev exited or did not answer; the message carries its log's tail."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def log_tail(path: Path, lines: int = 40) -> str:
    return (
        "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""
    )


@dataclass
class DagsterDev:
    process: subprocess.Popen
    base_url: str
    log_path: Path

    def wait_until_ready(self, timeout_seconds: float = 240) -> None:
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise DevServerError(
                    f"dagster dev exited with {self.process.returncode}:\n{log_tail(self.log_path)}"
                )
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{self.base_url}/server_info", timeout=2).ok:
                    return
            time.sleep(1)
        raise DevServerError(
            f"dagster dev did not answer within {timeout_seconds:.0f}s:\n{log_tail(self.log_path)}"
        )

    def stop(self) -> None:
        """Interrupt the whole process group (webserver, daemon, run workers, dbt)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=20)
        # Run workers and dbt can outlive dagster dev's own shutdown; they share its group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)


def start_dagster_dev(env: dict[str, str], log_path: Path, port: int | None = None) -> DagsterDev:
    """Start `dagster dev` for this project (code location `tessera`, from pyproject.toml)."""
    port = port or free_port()
    dagster = Path(sys.executable).with_name("dagster")
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [str(dagster), "dev", "--host", "127.0.0.1", "--port", str(port)],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so stop() reaches every child
        )
    return DagsterDev(process=process, base_url=f"http://127.0.0.1:{port}", log_path=log_path)
