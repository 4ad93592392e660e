"""Prediction task definitions: read from dbt_project.yml, errors with file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from ml.config import MLConfig
from ml.errors import MLError
from tessera.prediction_tasks import TaskDefinitionError, load_task_definitions
from tessera.settings import DBT_PROJECT_DIR


def write_project(directory: Path, tasks_yaml: str) -> Path:
    (directory / "dbt_project.yml").write_text(
        "name: t\nvars:\n  label_active_days: 180\n  prediction_tasks:\n" + tasks_yaml
    )
    return directory


def test_the_shipped_tasks_drive_the_models() -> None:
    definitions = load_task_definitions(DBT_PROJECT_DIR)
    config = MLConfig.load(None)
    assert config.task_names == definitions.names == ("purchase_30d", "churn_90d")
    churn = config.model("churn_90d")
    assert (churn.outcome, churn.horizon_days, churn.population) == ("churn", 90, "active")
    assert churn.score_population == "recency_days <= 365"
    assert churn.label == "churn_90d"


def test_a_user_task_is_a_model_with_its_population(tmp_path: Path) -> None:
    project = write_project(
        tmp_path,
        "    - {name: buys_next_season, outcome: purchase, horizon_days: 273, "
        "population: buyers}\n"
        "    - {name: quiet_half_year, outcome: churn, horizon_days: 182}\n",
    )
    config = MLConfig.load(None, project)
    assert config.task_names == ("buys_next_season", "quiet_half_year")
    assert config.model("buys_next_season").score_population == "frequency_orders > 0"
    # churn defaults to the active population, with this project's label_active_days
    assert config.model("quiet_half_year").score_population == "recency_days <= 180"
    assert config.model("quiet_half_year").baseline_spec.column == "recency_days"


@pytest.mark.parametrize(
    ("tasks_yaml", "message"),
    [
        ("    - {name: p30, outcome: purchases, horizon_days: 30}\n", "outcome 'purchases'"),
        ("    - {name: p30, outcome: purchase, horizon_days: 0}\n", "horizon_days 0"),
        ("    - {name: p30, outcome: purchase, horizon_days: '30'}\n", "horizon_days '30'"),
        ("    - {name: P-30, outcome: purchase, horizon_days: 30}\n", "lower-case letters"),
        ("    - {name: c, outcome: churn, horizon_days: 30, population: all}\n", "churn needs"),
        ("    - {name: p, outcome: purchase, horizon_days: 3, label: x}\n", "unknown key(s) label"),
        (
            "    - {name: p, outcome: purchase, horizon_days: 3}\n"
            "    - {name: p, outcome: churn, horizon_days: 9}\n",
            "used twice",
        ),
    ],
)
def test_bad_tasks_name_the_problem_and_the_line(tmp_path: Path, tasks_yaml, message) -> None:
    project = write_project(tmp_path, tasks_yaml)
    with pytest.raises(
        TaskDefinitionError, match=r"dbt_project.yml, line [56], column \d+: prediction task"
    ) as info:
        load_task_definitions(project)
    assert message in str(info.value)
    with pytest.raises(MLError, match="dbt_project.yml, line"):
        MLConfig.load(None, project)


def test_ml_config_cannot_redefine_a_task(tmp_path: Path) -> None:
    config = tmp_path / "ml.yml"
    config.write_text("models:\n  - {task: purchase_30d, horizon_days: 90}\n")
    with pytest.raises(MLError, match="defined once in .*dbt_project.yml"):
        MLConfig.load(config)
    config.write_text("models:\n  - {task: purchase_90d}\n")
    with pytest.raises(MLError, match="does not define; prediction tasks: purchase_30d, churn_90d"):
        MLConfig.load(config)


def test_spend_tasks_are_btyd_columns_not_trained_models(tmp_path: Path) -> None:
    from rich.console import Console

    from ml.cli import learned
    from ml.lifetime import horizons as lifetime_horizons
    from tessera.segments.task_names import task_names

    project = write_project(
        tmp_path,
        "    - {name: buys_30d, outcome: purchase, horizon_days: 30}\n"
        "    - {name: spend_90d, outcome: spend, horizon_days: 90}\n",
    )
    config = MLConfig.load(None, project)
    console = Console(record=True, width=200)
    assert learned(config, list(config.task_names), console) == ["buys_30d"]
    assert "ml.person_lifetime_value.predicted_clv_90d" in console.export_text()
    # a segment picking person_scores rows of a spend task would select nobody
    assert task_names(project) == ("buys_30d",)
    assert 90 in lifetime_horizons(config)  # predicted spend over the task horizon
