from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest
from experiments_env import build_warehouse, project_settings

from tessera.settings import Settings


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The experiments warehouse, built once per test process (about 90 s)."""
    settings = project_settings(tmp_path_factory.mktemp("experiments_template"))
    build_warehouse(settings)
    return settings


@pytest.fixture(scope="module")
def built(template: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A copy of the template for one module, which its tests may change in turn."""
    tmp: Path = tmp_path_factory.mktemp("experiments")
    settings = dataclasses.replace(
        template, warehouse_path=tmp / "wh.duckdb", artifacts_dir=tmp / "artifacts"
    )
    shutil.copyfile(template.warehouse_path, settings.warehouse_path)
    return settings
