"""A fresh copy of the project and a clean environment: what a newcomer has on a new clone.

Tests that must prove behaviour "with nothing set" copy the project's source into a temporary
folder and run it there in a subprocess whose environment holds no `TESSERA_*` (nor
`DAGSTER_HOME`) variable. `PYTHONPATH` points at the copy, so its `tessera` package (and its
PROJECT_ROOT) is the one imported, while dbt, Dagster and the libraries come from this venv.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tessera.settings import PROJECT_ROOT

# What a fresh clone holds (the source), without anything a previous run left behind.
_COPIED = ("pyproject.toml", "Makefile", "README.md", "tessera", "ml", "reverse_etl")
_COPIED_DIRS = ("dbt_project", "orchestration")
_LEFT_BEHIND = shutil.ignore_patterns(
    "__pycache__",
    "*.pyc",
    "target",
    "logs",
    "dbt_packages",
    ".user.yml",
    "*.duckdb",
    "*.duckdb.wal",
    "*.duckdb.tmp",
)


def copy_project(dest: Path) -> Path:
    """Copy the project's source to `dest` (created) and return it."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in (*_COPIED, *_COPIED_DIRS):
        source = PROJECT_ROOT / name
        if source.is_dir():
            shutil.copytree(source, dest / name, ignore=_LEFT_BEHIND)
        else:
            shutil.copy2(source, dest / name)
    return dest


def clean_env(project: Path, **extra: str) -> dict[str, str]:
    """This process's environment with every Tessera and Dagster setting removed."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("TESSERA_", "DAGSTER_", "DBT_"))
    }
    env["PYTHONPATH"] = str(project)
    env.update(extra)
    return env


def tessera_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "orchestration.cli", *args]


def run_tessera(
    project: Path, *args: str, cwd: Path | None = None, timeout: float = 900, **env: str
) -> subprocess.CompletedProcess[str]:
    """`tessera <args>` from the copy at `project`, in `cwd` (default: the copy's root)."""
    return subprocess.run(
        tessera_command(*args),
        cwd=cwd or project,
        env=clean_env(project, **env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
