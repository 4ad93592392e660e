"""Segments that pick scores by a model name must name a prediction task that exists."""

from __future__ import annotations

import pytest

from tessera.segments.validate import SegmentValidationError, validate_sql

SEGMENT = """select p.person_id
from profiles.customer_profiles p
join ml.person_scores s on s.person_id = p.person_id
where s.model {condition} and s.decile >= 9"""


@pytest.mark.parametrize("condition", ["= 'purchase_30d'", "in ('purchase_30d', 'churn_90d')"])
def test_existing_tasks_pass(condition: str) -> None:
    validated = validate_sql(SEGMENT.format(condition=condition), "likely")
    assert "ml.person_scores" in validated.relations


@pytest.mark.parametrize(
    ("condition", "unknown"),
    [
        ("= 'purchase_30'", "purchase_30"),
        ("in ('purchase_30d', 'churn_180d')", "churn_180d"),
    ],
)
def test_unknown_task_fails_with_the_names_that_exist(condition: str, unknown: str) -> None:
    with pytest.raises(SegmentValidationError) as info:
        validate_sql(SEGMENT.format(condition=condition), "likely")
    issue = next(i for i in info.value.issues if i.code == "unknown_task")
    assert f"model '{unknown}' is not a prediction task" in issue.message
    assert "tasks: purchase_30d, churn_90d" in issue.message
    assert issue.line == 4 and issue.column is not None


def test_other_model_columns_are_not_checked() -> None:
    # `model` of another relation (a segment's own column) is not a score's model name
    validate_sql(
        "select person_id from profiles.customer_profiles where lifecycle_stage = 'new'", "x"
    )


def test_a_starter_segment_with_a_misspelt_task_fails_project_validation(tmp_path) -> None:
    """Through `tessera segments validate`'s project check: the file, line and the names."""
    import shutil

    from tessera.segments.checks import check_project
    from tessera.settings import DBT_PROJECT_DIR

    project = tmp_path / "dbt_project"
    shutil.copytree(
        DBT_PROJECT_DIR,
        project,
        ignore=shutil.ignore_patterns("target", "logs", "dbt_packages", "*.duckdb"),
    )
    segment = project / "models" / "segments" / "likely_buyers_30d.sql"
    segment.write_text(segment.read_text().replace("'purchase_30d'", "'purchase_30days'"))
    result = check_project(project, ["likely_buyers_30d"], compile_with_dbt=False)
    (report,) = result.reports
    assert not report.ok
    (issue,) = [i for i in report.issues if i.code == "unknown_task"]
    assert "model 'purchase_30days' is not a prediction task" in issue.message
    assert "tasks: purchase_30d, churn_90d" in issue.message
    assert issue.file == "models/segments/likely_buyers_30d.sql" and issue.line == 11
