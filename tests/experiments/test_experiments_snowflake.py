"""The experiments models on Snowflake's dialect (dbt-snowflake against a local fakesnow
server): the same arms as the documented rule, hence as on DuckDB, holdouts for the syncs,
and lift from the same macro."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from experiments_env import (
    EXPERIMENT_MODELS,
    SEGMENTS,
    expected_bucket,
    project_settings,
)

from tessera.datagen import generate
from tessera.dbt import run_dbt
from tessera.segments.membership import refresh_membership
from tessera.settings import Settings
from tessera.warehouse import Warehouse
from tests.snowflake.fakesnow_env import running_fakesnow, snowflake_settings

NO_UNIT_TESTS = ["--exclude-resource-type", "unit_test"]


@pytest.fixture(scope="module")
def snowflake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    root: Path = tmp_path_factory.mktemp("experiments_snowflake")
    project = project_settings(root)
    with running_fakesnow(root) as server:
        settings = dataclasses.replace(
            snowflake_settings(server, root),
            dbt_project_dir=project.dbt_project_dir,
            dbt_profiles_dir=Settings.from_env({}).dbt_profiles_dir,
        )
        generate(Warehouse(settings), persons=150, seed=7, end_date=None, progress=False)
        selected = ["+exp_audience", "+exp_tiny", "+" + EXPERIMENT_MODELS]
        run_dbt(settings, ["run", "--select", *selected], stream=False)
        with Warehouse(settings).session() as session:
            refresh_membership(session, SEGMENTS, measured_at=datetime(2026, 1, 1))
        run_dbt(settings, ["build", "--select", EXPERIMENT_MODELS, *NO_UNIT_TESTS], stream=False)
        yield settings


def test_assignments_holdouts_and_results_on_snowflake(snowflake: Settings) -> None:
    with Warehouse(snowflake).session(read_only=True) as session:
        assigned = session.df(
            "select person_id, arm from experiments.assignments where experiment = 'exp_split'"
        )
        members = session.df("select person_id from segments.exp_audience")
        holdouts = session.df(
            "select sync_name, person_id from experiments.sync_holdouts "
            "where sync_name = 'exp_upsert'"
        )
        results = session.df("select * from experiments.results where experiment = 'exp_split'")
    assigned.columns = [c.lower() for c in assigned.columns]
    members.columns = [c.lower() for c in members.columns]
    holdouts.columns = [c.lower() for c in holdouts.columns]
    results.columns = [c.lower() for c in results.columns]
    assert len(assigned) > 20 and set(assigned.person_id) == set(members.person_id)
    for person, arm in zip(assigned.person_id, assigned.arm, strict=True):
        bucket = expected_bucket("exp_split", person)
        assert arm == ("treatment" if bucket < 6000 else "holdout"), person
    held = set(assigned.person_id[assigned.arm == "holdout"])
    assert held and held <= set(holdouts.person_id)
    assert sorted(results.metric) == ["conversion_rate", "revenue_per_person"]
    assert set(results.persons_treatment + results.persons_holdout) == {len(assigned)}
