"""Shared set-up for benchmarks: a generated warehouse per scale, reused across benchmarks."""

from __future__ import annotations

import dataclasses
import shutil
from datetime import date
from pathlib import Path

from tessera.settings import Settings

BENCH_SEED = 7
BENCH_END_DATE = date(2026, 10, 31)


def bench_settings(warehouse: Path) -> Settings:
    return dataclasses.replace(Settings.from_env({}), warehouse_path=warehouse)


def generated_warehouse(scale: int, workdir: Path) -> Settings:
    """A private copy of a generated warehouse at `scale` persons for this benchmark.

    The generated file is cached beside the benchmark folders (one per scale) so that the
    staging, identity and profile benchmarks do not each pay for generation.
    """
    from tessera.datagen import generate
    from tessera.warehouse import Warehouse

    cache = workdir.parent / f"_generated-{scale}.duckdb"
    if not cache.exists():
        tmp = cache.with_suffix(".partial")
        tmp.unlink(missing_ok=True)
        generate(
            Warehouse(bench_settings(tmp)),
            persons=scale,
            seed=BENCH_SEED,
            end_date=BENCH_END_DATE,
            progress=False,
        )
        tmp.rename(cache)
    target = workdir / "warehouse.duckdb"
    shutil.copyfile(cache, target)
    return bench_settings(target)
