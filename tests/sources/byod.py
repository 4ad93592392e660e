"""Helpers for the bring-your-own-data tests: warehouses of loader-shaped tables, real dbt runs."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import duckdb

from tessera.dbt import run_dbt
from tessera.settings import Settings


def settings_for(warehouse: Path, **changes) -> Settings:
    return dataclasses.replace(Settings.from_env({}), warehouse_path=warehouse, **changes)


def dbt(settings: Settings, args: list[str], vars: dict | None = None) -> list[dict]:
    """Run dbt against the warehouse with its own target path; the run's results."""
    target = settings.warehouse_path.parent / "target"
    run = run_dbt(settings, [*args, "--target-path", str(target)], vars=vars, stream=False)
    return run.results


def rows(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


def scalar(warehouse: Path, sql: str):
    return rows(warehouse, sql)[0][0]


def dump(value) -> str:
    return json.dumps(value, default=str)
