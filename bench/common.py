"""Shared set-up for benchmarks: a generated warehouse per scale, reused across benchmarks."""

from __future__ import annotations

import dataclasses
import shutil
from datetime import date
from pathlib import Path

from tessera.settings import Settings

BENCH_SEED = 7
BENCH_END_DATE = date(2026, 10, 31)
# part of the cached warehouse's name: raise it when the generator's output changes, so a
# benchmark never measures a warehouse an older generator wrote (2: raw tables in load order)
GENERATED_LAYOUT = 2


def bench_settings(warehouse: Path) -> Settings:
    return dataclasses.replace(Settings.from_env({}), warehouse_path=warehouse)


def generated_warehouse(scale: int, workdir: Path) -> Settings:
    """A private copy of a generated warehouse at `scale` persons for this benchmark.

    The generated file is cached beside the benchmark folders (one per scale) so that the
    staging, identity and profile benchmarks do not each pay for generation.
    """
    cache = cached_generated_warehouse(scale, workdir.parent)
    target = workdir / "warehouse.duckdb"
    shutil.copyfile(cache, target)
    return bench_settings(target)


def cached_generated_warehouse(scale: int, folder: Path) -> Path:
    """The generated warehouse at `scale` persons cached in `folder`, generated if missing
    (seed and end date of this module). Copy it before writing to it."""
    from tessera.datagen import generate
    from tessera.warehouse import Warehouse

    cache = folder / f"_generated-{scale}-v{GENERATED_LAYOUT}.duckdb"
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
    return cache


def build_synthetic_segment(settings: Settings, table: str, rows: int) -> None:
    """`segments.<table>` with `rows` persons (email, phone, names, lifecycle) and a
    customer_profiles table consenting all of them, for the sync benchmarks."""
    from tessera.warehouse import Warehouse

    with Warehouse(settings).session() as s:
        s.execute("create schema if not exists segments")
        s.execute("create schema if not exists profiles")
        s.execute(
            f"""create or replace table segments.{table} as
            select 'p' || lpad(cast(i as varchar), 9, '0') as person_id,
                   'person.' || i || '@example.com' as email,
                   '+1415' || lpad(cast(i % 10000000 as varchar), 7, '0') as phone,
                   'First' || i as first_name,
                   'Last' || (i % 997) as last_name,
                   case when i % 3 = 0 then 'lapsed' else 'active' end as lifecycle_stage
            from range({rows}) as t(i)"""
        )
        s.execute(
            f"""create or replace table profiles.customer_profiles as
            select person_id, true as consent_email, true as consent_sms, true as consent_ads
            from segments.{table}"""
        )
