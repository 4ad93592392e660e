"""Whether dbt's manifest.json is as new as the files dbt parses (no dbt or Dagster import)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

# Files and folders dbt parses; a change to any of them makes the manifest stale.
_PARSED_PATHS = (
    "dbt_project.yml",
    "profiles.yml",
    "models",
    "macros",
    "tests",
    "seeds",
    "snapshots",
)
_PARSED_SUFFIXES = {".sql", ".yml", ".yaml", ".csv", ".py", ".md"}


def manifest_is_stale(manifest: Path, project_dir: Path) -> bool:
    built = manifest.stat().st_mtime
    return any(path.stat().st_mtime > built for path in _parsed_files(project_dir))


def _parsed_files(project_dir: Path) -> Iterator[Path]:
    for name in _PARSED_PATHS:
        path = project_dir / name
        if path.is_file():
            yield path
        elif path.is_dir():
            yield path  # a folder's mtime moves when a file in it is added or deleted
            yield from (p for p in path.rglob("*") if p.is_dir() or p.suffix in _PARSED_SUFFIXES)
