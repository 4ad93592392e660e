"""A fakesnow HTTP server on 127.0.0.1 for the whole Snowflake suite (one subprocess,
started once per test session and killed at the end)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fakesnow_env import FakesnowServer, running_fakesnow


@pytest.fixture(scope="session")
def fakesnow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakesnowServer]:
    with running_fakesnow(tmp_path_factory.mktemp("fakesnow")) as server:
        yield server
