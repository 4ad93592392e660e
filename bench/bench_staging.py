"""`dbt build` of the staging layer (views plus their tests) on a generated warehouse."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from bench.common import generated_warehouse


def run(scale: int, workdir: Path) -> dict:
    from tessera.dbt import run_dbt

    settings = generated_warehouse(scale, workdir)
    target_path = workdir / "dbt_target"
    run = run_dbt(
        dataclasses.replace(settings),
        ["build", "--select", "staging", "--target-path", str(target_path)],
        stream=False,
    )
    tests = sum(1 for r in run.results if r["unique_id"].startswith(("test.", "unit_test.")))
    return {"dbt_build_s": run.seconds, "nodes": len(run.results), "tests": tests}
