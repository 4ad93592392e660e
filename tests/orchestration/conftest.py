"""Fixtures for the orchestration tests: a small generated warehouse and isolated dirs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.orchestration.orchestration_env import OrchestrationEnv, generate_warehouse, isolated_env


@pytest.fixture(scope="session")
def generated_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Raw data for a few hundred persons, generated once per session and copied per test."""
    return generate_warehouse(tmp_path_factory.mktemp("orchestration-data") / "generated.duckdb")


@pytest.fixture(scope="session")
def dbt_target(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("orchestration-dbt-target")


@pytest.fixture
def orchestration_env(
    tmp_path: Path, generated_warehouse: Path, dbt_target: Path
) -> Iterator[OrchestrationEnv]:
    env = isolated_env(tmp_path, generated_warehouse, dbt_target)
    try:
        yield env
    finally:
        env.destinations.stop()


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Expose each phase's report on the item, so fixtures can tell a failed test apart."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)
