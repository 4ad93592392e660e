"""Helpers for the orchestration tests: a small generated warehouse, private dbt target,
artifacts and Dagster dirs, and local emulators standing in for the configured destinations
(so syncs run for real against 127.0.0.1)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from orchestration.local_destinations import LocalDestinations, start_local_destinations
from orchestration.ui import prepare_dagster_home
from tessera.settings import PROJECT_ROOT

# Enough persons for both models' minimum positives and negatives per training window.
PERSONS = 1200
SEED = 11
END_DATE = "2026-10-31"
PROJECT_SYNCS_DIR = PROJECT_ROOT / "dbt_project" / "syncs"


@dataclass
class OrchestrationEnv:
    """Environment variables for one isolated Tessera + Dagster set-up, and its emulators."""

    root: Path
    env: dict[str, str]
    destinations: LocalDestinations

    @property
    def warehouse(self) -> Path:
        return Path(self.env["TESSERA_WAREHOUSE"])

    @property
    def emulators(self) -> dict:
        return self.destinations.emulators


def generate_warehouse(path: Path, persons: int = PERSONS) -> Path:
    env = {**os.environ, "TESSERA_WAREHOUSE": str(path), "TESSERA_TARGET": "duckdb"}
    cmd = [sys.executable, "-m", "tessera.cli", "datagen", "--persons", str(persons)]
    cmd += ["--seed", str(SEED), "--end-date", END_DATE]
    proc = subprocess.run(cmd, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"datagen failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return path


def isolated_env(root: Path, generated: Path, dbt_target: Path) -> OrchestrationEnv:
    """A private copy of the generated warehouse plus private artifact and Dagster dirs, with
    emulators started for the project's destinations. `dbt_target` is shared by the session's
    tests (they run one at a time) so the manifest is parsed once, never in dbt_project/."""
    warehouse = root / "warehouse.duckdb"
    shutil.copyfile(generated, warehouse)
    prepare_dagster_home(root / "dagster_home")
    destinations = start_local_destinations(PROJECT_SYNCS_DIR, root / "syncs")
    env = {
        **os.environ,
        **destinations.env,
        "TESSERA_TARGET": "duckdb",
        "TESSERA_WAREHOUSE": str(warehouse),
        "TESSERA_ARTIFACTS": str(root / "artifacts"),
        "TESSERA_DBT_TARGET_PATH": str(dbt_target),
        "TESSERA_SYNCS_DIR": str(destinations.syncs_dir),
        "DAGSTER_HOME": str(root / "dagster_home"),
    }
    return OrchestrationEnv(root=root, env=env, destinations=destinations)
