from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from retl_helpers import (
    HUBSPOT_TOKEN,
    META_TOKEN,
    WEBHOOK_SECRET,
    build_warehouse,
    settings_for,
)

from reverse_etl.testing import EmulatorHandle, start_emulator
from tessera.settings import Settings


@pytest.fixture
def tokens(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {
        "TEST_HUBSPOT_TOKEN": HUBSPOT_TOKEN,
        "TEST_META_TOKEN": META_TOKEN,
        "TEST_WEBHOOK_SECRET": WEBHOOK_SECRET,
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


@pytest.fixture(scope="session")
def template_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2,000 persons built once; each test gets its own copy of the file."""
    settings = settings_for(tmp_path_factory.mktemp("template"))
    build_warehouse(settings, n=2000)
    return settings.warehouse_path


@pytest.fixture
def settings(tmp_path: Path, template_warehouse: Path) -> Settings:
    settings = settings_for(tmp_path)
    shutil.copyfile(template_warehouse, settings.warehouse_path)
    return settings


@pytest.fixture
def hubspot(tokens: dict[str, str]) -> Iterator[EmulatorHandle]:
    with start_emulator("hubspot", token=HUBSPOT_TOKEN) as handle:
        yield handle


@pytest.fixture
def meta(tokens: dict[str, str]) -> Iterator[EmulatorHandle]:
    with start_emulator("meta_audience", token=META_TOKEN) as handle:
        yield handle


@pytest.fixture
def webhook(tokens: dict[str, str]) -> Iterator[EmulatorHandle]:
    with start_emulator("webhook", token=WEBHOOK_SECRET) as handle:
        yield handle
