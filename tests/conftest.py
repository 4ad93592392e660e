"""Fixtures shared across test folders."""

from __future__ import annotations

import contextlib
import importlib
import json
import shutil
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from tessera.settings import SnowflakeSettings


def pytest_configure(config: pytest.Config) -> None:
    """Signals as a terminal gives them, however the suite was started. A background job of a
    non-interactive shell (how a CI runner may start `make test`) ignores SIGINT; Dagster maps
    SIGTERM to SIGINT's handler, so after the first in-process run SIGTERM is ignored too, and
    every process a test starts inherits both: Ctrl-C tests would test nothing, and Dagster's
    compute-log `tail -F` children could not be stopped (they held a test's pipe open forever)."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if signal.getsignal(signal.SIGTERM) == signal.SIG_IGN:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Longest test files first, from the seconds tests/record_durations.py recorded.

    `make test` hands whole files to two workers in collection order (`--dist loadfile
    --no-loadscope-reorder`; xdist's own reorder puts files with the most tests first, which
    left the browser test, one test of five minutes, to start last). Longest first keeps both
    workers busy to the end. A file not recorded yet counts as short; the order of tests
    within a file is unchanged."""
    recorded = Path(__file__).with_name("file_durations.json")
    seconds: dict[str, int] = json.loads(recorded.read_text()) if recorded.exists() else {}
    root = config.rootpath
    position = {id(item): index for index, item in enumerate(items)}

    def key(item: pytest.Item) -> tuple[int, int]:
        try:
            name = item.path.relative_to(root).as_posix()
        except ValueError:
            name = item.path.as_posix()
        return -seconds.get(name, 0), position[id(item)]

    items.sort(key=key)


@pytest.fixture(scope="session")
def fakesnow_snowflake() -> Iterator[SnowflakeSettings]:
    """A fakesnow HTTP server in this process on a free loopback port, and the settings that
    reach it (database `tessera`, schema `public`).

    Started from the `fakesnow.server` module's app directly: `fakesnow.server()` looks the
    app up through the package attribute, which the submodule and the function of the same
    name overwrite in turn, so it breaks depending on import order.
    """
    import uvicorn

    app = importlib.import_module("fakesnow.server").app
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, name="fakesnow", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"fakesnow server did not start on 127.0.0.1:{port}")
        time.sleep(0.05)
    try:
        yield SnowflakeSettings(
            account="fakesnow",
            user="fake",
            password=SecretStr("snow"),
            database="tessera",
            schema="public",
            host="127.0.0.1",
            port=port,
            protocol="http",
        )
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        # fakesnow makes its stage bucket with mkdtemp at import and never removes it
        stage = importlib.import_module("fakesnow.transforms.stage")
        shutil.rmtree(stage.LOCAL_BUCKET_PATH, ignore_errors=True)
