"""Segments on Snowflake (a fakesnow server): the `snowflake_segments` target of profiles.yml
and a configured segments role hold every segment build to that role, and the dbt guard
refuses a hostile segment at parse on the Snowflake target as on DuckDB.

What fakesnow cannot show: it has no roles or grants (`current_role()` is always `duckdb`),
so these tests prove the refusals, not that the grants in README hold on a real account.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from hostile_cases import HOSTILE
from hostile_harness import copy_project, put_cases

from tessera.dbt import dbt_executable
from tessera.settings import SnowflakeSettings


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield copy_project(tmp_path_factory.mktemp("sf_segments") / "project")


@pytest.fixture(scope="module")
def env(fakesnow_snowflake: SnowflakeSettings) -> dict[str, str]:
    """What a user of the Snowflake targets exports: the account, nothing segment-specific."""
    sf = fakesnow_snowflake
    environment = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SNOWFLAKE_", "TESSERA_"))  # nothing the newcomer would not set
    }
    return {
        **environment,
        "SNOWFLAKE_ACCOUNT": sf.account,
        "SNOWFLAKE_USER": sf.user,
        "SNOWFLAKE_PASSWORD": sf.password.get_secret_value(),
        "SNOWFLAKE_DATABASE": sf.database,
        "SNOWFLAKE_HOST": str(sf.host),
        "SNOWFLAKE_PORT": str(sf.port),
        "SNOWFLAKE_PROTOCOL": str(sf.protocol),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }


def dbt(project: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [dbt_executable(), *args, "--project-dir", str(project), "--profiles-dir", str(project)],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_the_segments_target_builds_only_as_the_segments_role(
    project: Path, env: dict[str, str]
) -> None:
    proc = dbt(project, env, "build", "--select", "lapsed_vips", "--target", "snowflake_segments")
    assert proc.returncode != 0
    assert (
        "segments build on Snowflake only as role TESSERA_SEGMENTS (current role: duckdb)"
        in proc.stdout
    ), proc.stdout[-3000:]


def test_a_configured_segments_role_refuses_the_main_role(
    project: Path, env: dict[str, str]
) -> None:
    proc = dbt(
        project,
        {**env, "TESSERA_SNOWFLAKE_SEGMENTS_ROLE": "tessera_segments"},
        "build",
        "--select",
        "lapsed_vips",
        "--target",
        "snowflake",
    )
    assert proc.returncode != 0
    assert "only as role tessera_segments (current role: duckdb)" in proc.stdout, proc.stdout[
        -3000:
    ]


def test_a_segment_naming_another_table_is_refused_at_parse_on_snowflake(
    project: Path, env: dict[str, str]
) -> None:
    [case] = [c for c in HOSTILE if c.id == "yml_schema_alias_scores"]
    put_cases(project, [case])
    try:
        proc = dbt(project, env, "build", "--select", case.name, "--target", "snowflake")
    finally:
        put_cases(project, [])
    assert proc.returncode != 0
    assert "segment boundary" in proc.stdout, proc.stdout[-3000:]
    assert "schema" in proc.stdout.split("segment boundary", 1)[1][:400]


def test_a_segment_test_reading_staging_is_refused_on_snowflake(
    project: Path, env: dict[str, str]
) -> None:
    """dbt-snowflake has its own test materialization; the project's override holds there."""
    [case] = [c for c in HOSTILE if c.id == "yml_relationships_to_staging"]
    put_cases(project, [case])
    try:
        proc = dbt(project, env, "test", "--select", case.name, "--target", "snowflake")
    finally:
        put_cases(project, [])
    assert proc.returncode != 0
    assert "reads staging.stg_crm__contacts, which segments may not read" in proc.stdout, (
        proc.stdout[-3000:]
    )
