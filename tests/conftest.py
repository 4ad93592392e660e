"""Fixtures shared across test folders."""

from __future__ import annotations

import contextlib
import importlib
import shutil
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from tessera.settings import SnowflakeSettings


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
