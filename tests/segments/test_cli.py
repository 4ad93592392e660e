"""`tessera segments ...` end to end on a temp project and a temp DuckDB warehouse."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from tessera.segments import cli
from tessera.segments.jinja import RelationResolver, render_segment_sql
from tessera.settings import Settings
from tessera.warehouse import Warehouse


def run(settings: Settings, project: Path, *argv: str) -> int:
    parser = argparse.ArgumentParser(prog="tessera")
    cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["segments", "--project-dir", str(project), *argv])
    return args.func(args, settings)


def build_segment(warehouse: Warehouse, project: Path, name: str) -> None:
    """What dbt does for a segment model, without needing the dbt project's other models."""
    text = (project / "models" / "segments" / f"{name}.sql").read_text()
    sql = render_segment_sql(text, name, RelationResolver())
    with warehouse.session() as session:
        session.execute(f"create or replace table segments.{name} as {sql}")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "project" / "models" / "segments").mkdir(parents=True)
    return tmp_path / "project"


def test_new_list_validate_refresh_preview_chart(
    settings: Settings,
    warehouse: Warehouse,
    project: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(settings, project, "new", "welcome_series", "--owner", "growth") == 0
    assert (project / "models" / "segments" / "welcome_series.sql").exists()
    assert run(settings, project, "new", "gb_customers", "--refresh", "hourly") == 0
    gb_sql = project / "models" / "segments" / "gb_customers.sql"
    gb_sql.write_text(
        "select person_id, email from {{ ref('customer_profiles') }} where country = 'GB'"
    )

    assert run(settings, project, "list") == 0
    out = capsys.readouterr().out
    assert "welcome_series" in out and "growth" in out and "not built" in out

    assert run(settings, project, "validate") == 0
    assert "2 segment(s) valid" in capsys.readouterr().out

    for name in ("welcome_series", "gb_customers"):
        build_segment(warehouse, project, name)
    assert run(settings, project, "refresh") == 0
    out = capsys.readouterr().out
    assert "welcome_series" in out and "100" in out  # half the 200 persons consent to email
    with warehouse.session(read_only=True) as session:
        assert session.scalar("select count(*) from segments.segment_sizes") == 2

    assert run(settings, project, "preview", "welcome_series", "--rows", "3") == 0
    out = capsys.readouterr().out
    assert "welcome_series: 100 rows, 100 persons" in out
    assert "sample (3 rows)" in out
    assert "gb_customers" in out  # the overlap table

    output = settings.artifacts_dir / "chart.png"
    assert run(settings, project, "chart", "--output", str(output)) == 0
    assert output.read_bytes()[:4] == b"\x89PNG"


def test_validate_reports_each_problem_and_fails(
    settings: Settings,
    warehouse: Warehouse,
    project: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(settings, project, "new", "bad_one") == 0
    (project / "models" / "segments" / "bad_one.sql").write_text(
        "select person_id,\n  getenv('HOME') as home\nfrom {{ ref('customer_profiles') }}"
    )
    assert run(settings, project, "validate", "bad_one") == 1
    out = capsys.readouterr().out
    assert "invalid" in out and "line 2, column 3" in out and "getenv()" in out


def test_validate_without_a_warehouse_checks_rules_only(
    settings: Settings, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(settings, project, "new", "offline_one") == 0
    assert run(settings, project, "validate") == 0
    assert "columns not checked" in capsys.readouterr().out


def test_builds_refuse_an_invalid_segment_before_dbt_runs(
    settings: Settings, project: Path
) -> None:
    from dataclasses import replace

    from orchestration.cli import build_parser
    from tessera.segments.checks import InvalidSegmentsError, require_valid_segments

    assert run(settings, project, "new", "good_one") == 0
    require_valid_segments(project)  # a valid catalog passes
    assert run(settings, project, "new", "bad_one") == 0
    (project / "models" / "segments" / "bad_one.sql").write_text(
        "select person_id,\n  getenv('HOME') as home\nfrom {{ ref('customer_profiles') }}"
    )
    with pytest.raises(InvalidSegmentsError) as refused:
        require_valid_segments(project)
    message = str(refused.value)
    assert "bad_one.sql (line 2, column 3)" in message and "getenv()" in message
    assert "good_one" not in message

    # so does the Dagster dbt asset, without retrying, when the run selects that segment
    from dagster import AssetKey, Failure

    from orchestration.dbt_assets import refuse_invalid_segments

    profiles = AssetKey(["profiles", "customer_profiles"])
    refuse_invalid_segments(project, [profiles, AssetKey(["segments", "good_one"])])
    with pytest.raises(Failure) as failed:
        refuse_invalid_segments(project, [profiles, AssetKey(["segments", "bad_one"])])
    assert "getenv()" in str(failed.value.description) and not failed.value.allow_retries

    # `tessera build` stops there too: the error is the validator's, not dbt's (this temp
    # project has no dbt_project.yml, so dbt would fail differently had it run)
    args = build_parser().parse_args(["build"])
    with pytest.raises(InvalidSegmentsError, match="bad_one"):
        args.func(args, replace(settings, dbt_project_dir=project))
