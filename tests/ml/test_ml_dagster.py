"""The ML assets in Dagster: what a user sees after training (metrics, charts, reliability
bins with counts, champion and baseline flags, a warning check) and how bad configuration
fails (once, with the cause)."""

from __future__ import annotations

import pytest
from dagster import AssetKey, DagsterEventType, materialize

from ml.config import BaselineSpec, MLConfig
from orchestration.ml_assets import BEATS_BASELINE_CHECK, build_ml_assets, training_key
from orchestration.resources import WarehouseResource
from tessera.warehouse import Warehouse
from tests.ml.conftest import fast_config, write_synthetic


@pytest.fixture
def dagster_env(monkeypatch: pytest.MonkeyPatch, synthetic_settings):
    monkeypatch.setenv("TESSERA_WAREHOUSE", str(synthetic_settings.warehouse_path))
    monkeypatch.setenv("TESSERA_ARTIFACTS", str(synthetic_settings.artifacts_dir))
    monkeypatch.setenv("TESSERA_THREADS", "1")
    warehouse = WarehouseResource(
        target="duckdb", duckdb_path=str(synthetic_settings.warehouse_path)
    )
    return synthetic_settings, {"warehouse": warehouse}


def _assets(config: MLConfig, model: str):
    every = build_ml_assets(config)
    return [
        a
        for a in every
        if training_key(model) in a.keys or AssetKey(["ml", "person_scores"]) in a.keys
    ]


def test_training_shows_metrics_charts_bins_and_flags(dagster_env) -> None:
    settings, resources = dagster_env
    config = fast_config(write_charts=True, bootstrap_rounds=100)
    config = config.model_copy(update={"models": (config.model("purchase_30d"),)})
    result = materialize(_assets(config, "purchase_30d"), resources=resources)
    assert result.success
    meta = result.asset_materializations_for_node("ml__purchase_30d_model")[0].metadata
    assert meta["champion"].value is True and meta["beats_baseline"].value is True
    assert "champion" in meta["flag"].value and "DOES NOT" not in meta["flag"].value
    bins = meta["reliability_bins"].value
    assert "| rows |" in bins and bins.count("\n") == 11  # header, rule, ten bins
    assert meta["lift_chart"].value.startswith("![lift_chart](data:image/png;base64,")
    assert meta["reliability"].value.startswith("![reliability](data:image/png;base64,")
    assert "model_minus_baseline_pr_auc_ci" in meta
    checks = result.get_asset_check_evaluations()
    assert [(c.check_name, c.passed) for c in checks] == [(BEATS_BASELINE_CHECK, True)]
    scores = result.asset_materializations_for_node("ml__person_scores")[0].metadata
    assert scores["dagster/row_count"].value == 3000


def test_a_model_that_does_not_beat_its_baseline_is_flagged(dagster_env) -> None:
    settings, resources = dagster_env
    with Warehouse(settings).session() as session:
        # labels that are coin flips: nothing can beat the baseline with confidence
        session.execute(
            "update features.ml_labels set purchase_30d = "
            "case when hash(person_id || cast(cutoff_date as varchar)) % 5 = 0 then 1 else 0 end"
        )
    config = fast_config(bootstrap_rounds=100)
    config = config.model_copy(update={"models": (config.model("purchase_30d"),)})
    result = materialize(_assets(config, "purchase_30d"), resources=resources)
    assert result.success  # kept and scored, but flagged
    meta = result.asset_materializations_for_node("ml__purchase_30d_model")[0].metadata
    assert meta["beats_baseline"].value is False
    assert "DOES NOT BEAT ITS BASELINE" in meta["flag"].value
    (check,) = result.get_asset_check_evaluations()
    assert check.passed is False and check.severity.value == "WARN"
    scores = result.asset_materializations_for_node("ml__person_scores")[0].metadata
    assert scores["purchase_30d_beats_baseline"].value is False


def test_configuration_errors_fail_once_with_the_cause(dagster_env) -> None:
    _, resources = dagster_env
    config = fast_config()
    bad = config.model("purchase_30d").model_copy(
        update={"baseline": BaselineSpec(column="no_such_column")}
    )
    config = config.model_copy(update={"models": (bad,)})
    training = [a for a in build_ml_assets(config) if training_key("purchase_30d") in a.keys]
    result = materialize(training, resources=resources, raise_on_error=False)
    assert not result.success
    failures = [e for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE]
    assert len(failures) == 1
    message = failures[0].step_failure_data.error.message
    assert "training purchase_30d failed" in message and "no_such_column" in message
    retries = [e for e in result.all_events if e.event_type == DagsterEventType.STEP_UP_FOR_RETRY]
    assert retries == []


def test_an_invalid_task_definition_fails_the_scoring_step(tmp_path, dagster_env) -> None:
    _, resources = dagster_env
    (tmp_path / "dbt_project.yml").write_text(
        "name: x\nvars:\n  prediction_tasks:\n    - {name: p, outcome: buy, horizon_days: 30}\n"
    )
    (asset,) = build_ml_assets(dbt_project_dir=tmp_path)
    result = materialize([asset], resources=resources, raise_on_error=False)
    failures = [e for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE]
    assert len(failures) == 1
    assert "outcome 'buy' must be one of purchase, churn, spend" in (
        failures[0].step_failure_data.error.message
    )


def test_the_demo_summary_flags_a_model_that_does_not_beat_its_baseline(
    dagster_env, tmp_path
) -> None:
    """`tessera demo` trains through these assets; its summary prints the flag in red."""
    import io

    from rich.console import Console

    from orchestration.demo_runs import materialize_ml_assets

    settings, _ = dagster_env
    with Warehouse(settings).session() as session:
        session.execute(
            "update features.ml_labels set purchase_30d = "
            "case when hash(person_id || cast(cutoff_date as varchar)) % 5 = 0 then 1 else 0 end"
        )
    config = fast_config(bootstrap_rounds=100)
    config = config.model_copy(update={"models": (config.model("purchase_30d"),)})
    printed = io.StringIO()
    console = Console(file=printed, width=250)
    assert materialize_ml_assets(settings, console, config=config, home=tmp_path / "home") == 0
    out = printed.getvalue()
    assert "WARNING: purchase_30d_model: ⚠ DOES NOT BEAT ITS BASELINE (rank by rfm_score" in out


def test_data_too_small_for_a_model_skips_it_and_the_demo_goes_on(
    monkeypatch: pytest.MonkeyPatch, settings, tmp_path
) -> None:
    """`tessera demo --persons 300` failed on purchase_30d's 15 validation positives: a task
    the data cannot support is skipped with the reason (the check fails as a warning), the
    other is trained and scored, and the scores table exists for the segments that read it."""
    import io

    from rich.console import Console

    from orchestration.demo_runs import materialize_ml_assets

    write_synthetic(settings, persons=120)
    monkeypatch.setenv("TESSERA_WAREHOUSE", str(settings.warehouse_path))
    monkeypatch.setenv("TESSERA_ARTIFACTS", str(settings.artifacts_dir))
    config = fast_config(bootstrap_rounds=100, min_positives=5, min_negatives=5)
    config = config.model_copy(
        update={"min_validation_positives": 10_000, "models": (config.model("purchase_30d"),)}
    )
    printed = io.StringIO()
    console = Console(file=printed, width=300)
    assert materialize_ml_assets(settings, console, config=config, home=tmp_path / "home") == 0
    out = printed.getvalue()
    assert "purchase_30d_model skipped (not enough data): validation cutoff" in out
    assert "need at least 10000 positives (config min_validation_positives)" in out
    assert "purchase_30d has no champion yet, not scored" in out
    with Warehouse(settings).session(read_only=True) as session:
        assert session.scalar("select count(*) from ml.person_scores") == 0

    resources = {"warehouse": WarehouseResource(duckdb_path=str(settings.warehouse_path))}
    result = materialize(_assets(config, "purchase_30d"), resources=resources)
    assert result.success
    meta = result.asset_materializations_for_node("ml__purchase_30d_model")[0].metadata
    assert meta["skipped"].value.startswith("validation cutoff")
    (check,) = result.get_asset_check_evaluations()
    assert check.passed is False and check.severity.value == "WARN"
    assert check.description.startswith("no model trained: validation cutoff")
    scores = result.asset_materializations_for_node("ml__person_scores")[0].metadata
    assert scores["dagster/row_count"].value == 0 and "purchase_30d_not_scored" in scores
