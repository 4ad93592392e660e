"""Helpers for the bring-your-own-data tests: warehouses of loader-shaped tables, real dbt runs."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb

from tessera.dbt import run_dbt
from tessera.settings import Settings


def tessera(warehouse: Path, *args: str) -> subprocess.CompletedProcess:
    """The console script as a user runs it: nothing set in the environment but the warehouse
    (and a wide terminal, so rich does not wrap the messages the tests read)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TESSERA_", "SNOWFLAKE_"))}
    env["TESSERA_WAREHOUSE"] = str(warehouse)
    env["COLUMNS"] = "250"
    return subprocess.run(
        [str(Path(sys.executable).with_name("tessera")), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


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
