"""The fakesnow server the Snowflake suite runs against, and Settings for either target.

Every connection to one `fakesnow -s` server shares one in-memory database, so dbt, the
generator and the Python layers all see the same tables, as on one Snowflake account.
(`-d` is passed for completeness; in server mode fakesnow keeps databases in memory.)
"""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tessera.settings import Settings

STARTUP_SECONDS = 60


@dataclasses.dataclass(frozen=True)
class FakesnowServer:
    host: str
    port: int
    env: dict[str, str]  # the SNOWFLAKE_* variables the profile and Settings read


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(server: subprocess.Popen, host: str, port: int, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        try:
            socket.create_connection((host, port), timeout=1).close()
            return
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"fakesnow server did not start on {host}:{port}; its log:\n"
                    + log.read_text()[-3000:]
                ) from None
            time.sleep(0.2)


@contextmanager
def running_fakesnow(root: Path) -> Iterator[FakesnowServer]:
    """`fakesnow -s` on a free loopback port, stopped (SIGINT, then kill) on exit."""
    host, port = "127.0.0.1", free_port()
    log = root / "fakesnow.log"
    fakesnow = Path(sys.executable).with_name("fakesnow")
    with log.open("w") as out:
        server = subprocess.Popen(
            [str(fakesnow), "-s", "--host", host, "-p", str(port), "-d", str(root / "db")],
            cwd=root,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(server, host, port, log)
        env = {
            "SNOWFLAKE_ACCOUNT": "fakesnow",
            "SNOWFLAKE_USER": "fake",
            "SNOWFLAKE_PASSWORD": "snow",
            "SNOWFLAKE_DATABASE": "TESSERA",
            "SNOWFLAKE_SCHEMA": "analytics",
            "SNOWFLAKE_HOST": host,
            "SNOWFLAKE_PORT": str(port),
            "SNOWFLAKE_PROTOCOL": "http",
        }
        # dbt runs as a subprocess whose profile reads these from the environment.
        with pytest.MonkeyPatch.context() as mp:
            for name, value in env.items():
                mp.setenv(name, value)
            yield FakesnowServer(host=host, port=port, env=env)
    finally:
        server.send_signal(signal.SIGINT)  # fakesnow's server stops cleanly on SIGINT
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=20)


def snowflake_settings(server: FakesnowServer, directory: Path) -> Settings:
    """Settings for the fakesnow server, with artifacts (ml registry) under `directory`."""
    env = {**os.environ, **server.env, "TESSERA_TARGET": "snowflake"}
    return dataclasses.replace(
        Settings.from_env(env), artifacts_dir=directory / "artifacts", threads=2
    )


def duckdb_settings(directory: Path) -> Settings:
    return dataclasses.replace(
        Settings.from_env({}),
        warehouse_path=directory / "warehouse.duckdb",
        artifacts_dir=directory / "artifacts",
        threads=2,
    )
