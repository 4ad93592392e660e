"""Run the real dbt CLI against a test warehouse with a private --target-path."""

from __future__ import annotations

import dataclasses
import json
import subprocess
from pathlib import Path

import duckdb
import pandas as pd

from tessera.dbt import dbt_command
from tessera.settings import Settings

IDENTITY_SELECTION = "staging identity"


@dataclasses.dataclass(frozen=True)
class DbtResult:
    returncode: int
    output: str
    results: list[dict]

    def failed_nodes(self) -> list[str]:
        return [
            r["unique_id"]
            for r in self.results
            if r.get("status") in ("error", "fail", "runtime error")
        ]


def settings_for(warehouse: Path) -> Settings:
    return dataclasses.replace(Settings.from_env({}), warehouse_path=warehouse)


def dbt(
    settings: Settings,
    target_path: Path,
    *args: str,
    vars: dict | None = None,
    check: bool = True,
) -> DbtResult:
    cmd = dbt_command(
        settings,
        [*args, "--target-path", str(target_path), "--log-path", str(target_path / "logs")],
        vars,
    )
    results_file = target_path / "run_results.json"
    results_file.unlink(missing_ok=True)
    proc = subprocess.run(
        cmd,
        cwd=settings.dbt_project_dir,
        env=settings.dbt_env(),
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    results = (
        json.loads(results_file.read_text()).get("results", []) if results_file.exists() else []
    )
    result = DbtResult(proc.returncode, proc.stdout, results)
    if check and proc.returncode != 0:
        raise AssertionError(f"dbt {' '.join(args)} failed:\n{proc.stdout[-4000:]}")
    return result


def build_identity(settings: Settings, target_path: Path, *extra: str, **kw) -> DbtResult:
    """`dbt build` of staging and identity with their data tests; tests that also need
    models outside the selection (profiles ...) are left out (cautious selection)."""
    return dbt(
        settings,
        target_path,
        "build",
        "--select",
        IDENTITY_SELECTION,
        "--indirect-selection",
        "cautious",
        *extra,
        **kw,
    )


def run_identity(settings: Settings, target_path: Path, *extra: str, **kw) -> DbtResult:
    """`dbt run` of staging and identity models (no data tests): the fast path for scenarios."""
    return dbt(settings, target_path, "run", "--select", IDENTITY_SELECTION, *extra, **kw)


def frame(path: Path, sql: str, parameters: list | None = None) -> pd.DataFrame:
    with duckdb.connect(str(path), read_only=True) as conn:
        return conn.execute(sql, parameters).df()


def person(path: Path, node_key: str) -> str | None:
    """The person an identifier (`type:value`) resolved to, or None when it is not in the graph."""
    df = frame(path, "select person_id from identity.identity_graph where node_key = ?", [node_key])
    return None if df.empty else df.person_id[0]


def graph(path: Path) -> dict[str, str]:
    df = frame(path, "select node_key, person_id from identity.identity_graph")
    return dict(zip(df.node_key, df.person_id, strict=True))


def partition(path: Path) -> set[frozenset[str]]:
    df = frame(path, "select node_key, person_id from identity.identity_graph")
    return set(df.groupby("person_id").node_key.apply(frozenset))


def full_rebuild_partition(path: Path, target_path: Path, vars: dict | None = None) -> set:
    """The partition a `--full-refresh` of staging and identity gives on the same raw data,
    in place: read the incremental result before calling this. The warehouse path, target and
    vars of the incremental runs keep dbt's saved parse valid (a copy under another path
    would make dbt parse the whole project again, ~5 s per test)."""
    run_identity(settings_for(path), target_path, "--full-refresh", vars=vars)
    return partition(path)
