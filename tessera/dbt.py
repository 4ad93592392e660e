"""Run the dbt CLI against Tessera's project with the right project and profiles dirs."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tessera.settings import Settings


class DbtError(RuntimeError):
    """dbt exited non-zero; the message carries the failing nodes and dbt's own summary."""


@dataclass(frozen=True)
class DbtRun:
    args: tuple[str, ...]
    seconds: float
    results: list[dict]

    def node_timings(self) -> dict[str, float]:
        return {r["unique_id"]: r.get("execution_time", 0.0) for r in self.results}


def dbt_executable() -> str:
    candidate = Path(sys.executable).with_name("dbt")
    return str(candidate) if candidate.exists() else "dbt"


def dbt_command(settings: Settings, args: Sequence[str], vars: dict | None = None) -> list[str]:
    """`dbt <args>` against Tessera's project, profiles dir and target."""
    cmd = [
        dbt_executable(),
        *args,
        "--project-dir",
        str(settings.dbt_project_dir),
        "--profiles-dir",
        str(settings.dbt_profiles_dir),
        "--target",
        settings.dbt_target,
    ]
    if vars:
        cmd += ["--vars", json.dumps(vars)]
    return cmd


def run_dbt(
    settings: Settings,
    args: Sequence[str],
    vars: dict | None = None,
    stream: bool = True,
) -> DbtRun:
    """Run `dbt <args>`; raise DbtError naming the failures when dbt fails."""
    cmd = dbt_command(settings, args, vars)
    _target_path(settings, args).joinpath("run_results.json").unlink(missing_ok=True)
    started = time.perf_counter()
    proc = subprocess.run(
        cmd,
        cwd=settings.dbt_project_dir,
        env=settings.dbt_env(),
        text=True,
        stdout=None if stream else subprocess.PIPE,
        stderr=subprocess.STDOUT if not stream else None,
    )
    seconds = time.perf_counter() - started
    results = _read_run_results(_target_path(settings, args) / "run_results.json")
    if proc.returncode != 0:
        failures = [
            f"{r['unique_id']}: {(r.get('message') or '').strip()}"
            for r in results
            if r.get("status") in ("error", "fail", "runtime error")
        ]
        detail = "\n  ".join(failures) if failures else (proc.stdout or "")[-3000:]
        raise DbtError(f"dbt {' '.join(args)} failed (exit {proc.returncode}):\n  {detail}")
    return DbtRun(args=tuple(args), seconds=seconds, results=results)


def _target_path(settings: Settings, args: Sequence[str]) -> Path:
    args = list(args)
    if "--target-path" in args:
        return Path(args[args.index("--target-path") + 1])
    return settings.dbt_project_dir / "target"


def _read_run_results(path: Path) -> list[dict]:
    if not path.exists():
        return []
    try:
        return json.loads(path.read_text()).get("results", [])
    except json.JSONDecodeError:
        return []
