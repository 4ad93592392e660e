"""Fixtures for the ml tests: a private DuckDB warehouse with synthetic feature tables."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from ml.config import LightGBMParams, MLConfig
from ml.synthetic import SyntheticSpec, write_synthetic_tables
from tessera.settings import Settings
from tessera.warehouse import Warehouse

PERSONS = 3000
N_CUTOFFS = 6


def make_settings(directory: Path) -> Settings:
    return dataclasses.replace(
        Settings.from_env({}),
        warehouse_path=directory / "warehouse.duckdb",
        artifacts_dir=directory / "artifacts",
        threads=1,
    )


def fast_config(**overrides: object) -> MLConfig:
    """Default models, small enough to train in about a second on one thread; no charts
    (the session's trained registry keeps them, and tests them once)."""
    params = LightGBMParams(
        num_threads=1, num_boost_round=300, early_stopping_rounds=20, bagged_models=1
    )
    return MLConfig(**{"lightgbm": params, "write_charts": False, **overrides})


def write_synthetic(settings: Settings, persons: int = PERSONS, n_cutoffs: int = N_CUTOFFS):
    with Warehouse(settings).session() as session:
        return write_synthetic_tables(session, SyntheticSpec.monthly(persons, n_cutoffs))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def synthetic_settings(settings: Settings) -> Settings:
    write_synthetic(settings)
    return settings


@pytest.fixture(scope="session")
def trained_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A warehouse with synthetic tables and both models trained once (champions).

    Shared by the whole session: tests that change the warehouse or the registry use
    `trained_copy` instead.
    """
    from ml.pipeline import train_and_register

    settings = make_settings(tmp_path_factory.mktemp("ml_trained"))
    write_synthetic(settings)
    config = fast_config(write_charts=True)
    for spec in config.models:
        train_and_register(settings, config, spec.name)
    return settings


@pytest.fixture
def config() -> MLConfig:
    return fast_config()


@pytest.fixture
def config_with():
    """Factory for a fast config with overrides, e.g. config_with(min_positives=10)."""
    return fast_config


@pytest.fixture
def trained_copy(trained_settings: Settings, tmp_path: Path) -> Settings:
    """A private copy of the trained warehouse and registry, free to modify."""
    copy = make_settings(tmp_path)
    shutil.copyfile(trained_settings.warehouse_path, copy.warehouse_path)
    shutil.copytree(trained_settings.artifacts_dir, copy.artifacts_dir)
    return copy


@pytest.fixture(scope="session")
def settings_factory():
    """make_settings(directory) for fixtures with a wider scope than `settings`."""
    return make_settings
