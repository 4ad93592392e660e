"""A small real warehouse for the experiments tests, built once per test module.

A copy of the dbt project (so the tests can declare their own experiments in a segment's
YAML, as a user does), 300 generated persons, the real `dbt run` of identity, profiles, two
test segments and the experiments models, and the segments' membership history recorded by
tessera.segments.membership, as the demo and the Dagster asset record it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
from datetime import date, datetime
from pathlib import Path

import pandas as pd

from tessera.datagen import generate
from tessera.dbt import run_dbt
from tessera.segments.membership import refresh_membership
from tessera.settings import Settings
from tessera.warehouse import Warehouse

AUDIENCE_SQL = """-- every known person with an email address: a test audience
with profiles as (

    select * from {{ ref('customer_profiles') }}

),

final as (

    select person_id, email, first_name, last_name
    from profiles
    where email is not null

)

select * from final
"""
TINY_SQL = AUDIENCE_SQL.replace(
    "where email is not null", "where email is not null\n    order by person_id\n    limit 3"
).replace("every known person", "three persons")

AUDIENCE_YAML = """version: 2
models:
  - name: exp_audience
    description: Test audience split by experiments.
    config:
      meta:
        syncs: [exp_upsert, exp_update, exp_insert, exp_mirror, exp_add_remove, exp_meta]
        experiments:
          - name: exp_split
            arms: {treatment: 60, holdout: 40}
            start_date: "2020-01-01"
            outcome: purchase
            window_days: 30
          - name: exp_future
            arms: {treatment: 50, holdout: 50}
            start_date: "2099-01-01"
            outcome: purchase
            window_days: 14
            syncs: []
  - name: exp_tiny
    description: Three persons.
    config:
      meta:
        experiments:
          - name: exp_tiny_split
            arms: {treatment: 50, holdout: 50}
            start_date: "2020-01-01"
            outcome: purchase
            window_days: 30
"""
SEGMENTS = ("exp_audience", "exp_tiny")
EXPERIMENT_MODELS = "path:models/experiments"


def project_settings(tmp: Path) -> Settings:
    project = tmp / "dbt_project"
    source = Settings.from_env({}).dbt_project_dir
    shutil.copytree(
        source,
        project,
        ignore=shutil.ignore_patterns("target", "logs", "dbt_packages", ".user.yml"),
    )
    segments = project / "models" / "segments"
    (segments / "exp_audience.sql").write_text(AUDIENCE_SQL)
    (segments / "exp_tiny.sql").write_text(TINY_SQL)
    (segments / "exp_audience.yml").write_text(AUDIENCE_YAML)
    return dataclasses.replace(
        Settings.from_env({}),
        warehouse_path=tmp / "wh.duckdb",
        artifacts_dir=tmp / "artifacts",
        dbt_project_dir=project,
        dbt_profiles_dir=project,
        syncs_dir=tmp / "syncs",
    )


# a fixed world: with today's date the persons the tests pick change every day
WORLD_END_DATE = date(2026, 12, 5)


def build_warehouse(settings: Settings, persons: int = 300) -> None:
    generate(Warehouse(settings), persons=persons, seed=7, end_date=WORLD_END_DATE, progress=False)
    run_dbt(
        settings,
        ["run", "--select", "+exp_audience", "+exp_tiny", "+" + EXPERIMENT_MODELS],
        stream=False,
    )
    record_membership(settings, datetime(2026, 1, 1))
    build_experiments(settings)


def record_membership(settings: Settings, at: datetime) -> None:
    with Warehouse(settings).session() as session:
        refresh_membership(session, SEGMENTS, measured_at=at)


def build_experiments(settings: Settings, as_of: str | None = None) -> None:
    run_dbt(
        settings,
        ["run", "--select", EXPERIMENT_MODELS],
        vars={"experiments_as_of": as_of} if as_of else None,
        stream=False,
    )


def query(settings: Settings, sql: str) -> pd.DataFrame:
    with Warehouse(settings).session(read_only=True) as session:
        return session.df(sql)


def expected_bucket(salt: str, person_id: str) -> int:
    """The documented rule, written independently of the SQL: md5, 7 hex digits, mod 10000."""
    return int(hashlib.md5(f"{salt}:{person_id}".encode()).hexdigest()[:7], 16) % 10_000
