"""Training on generated data where behaviour drives purchases: beats the baseline,
takes its features from the table, writes a complete registry entry, fails clearly."""

from __future__ import annotations

import json

import pytest

from ml.errors import MLError
from ml.pipeline import train_and_register
from ml.registry import Registry
from tessera.warehouse import Warehouse


@pytest.mark.parametrize("model", ["purchase_30d", "churn_90d"])
def test_model_beats_the_baseline(trained_settings, model: str) -> None:
    registry = Registry(trained_settings.artifacts_dir)
    metrics = registry.load(model).metrics
    assert metrics["model"]["roc_auc"] > metrics["baseline"]["roc_auc"] + 0.05
    assert metrics["model"]["pr_auc"] > metrics["baseline"]["pr_auc"] + 0.05
    assert metrics["model"]["log_loss"] < metrics["baseline"]["log_loss"]
    assert metrics["model"]["top_decile_lift"] > metrics["baseline"]["top_decile_lift"]


def test_registry_entry_has_model_metrics_features_and_manifest(trained_settings) -> None:
    registry = Registry(trained_settings.artifacts_dir)
    entry = registry.load("purchase_30d")
    files = {p.name for p in entry.path.iterdir()}
    assert {"model.txt", "metrics.json", "features.json", "manifest.json"} <= files
    assert {"lift_gains.png", "reliability.png"} <= files
    manifest = entry.manifest
    assert manifest["training_cutoff"] < manifest["validation_cutoff"]
    assert manifest["rows"]["train"] > 0 and manifest["rows"]["validation"] > 0
    assert manifest["git_sha"]
    metrics = entry.metrics
    assert len(metrics["model"]["reliability"]) == 10
    assert [r["decile"] for r in metrics["model"]["lift"]] == list(range(10, 0, -1))
    assert metrics["baseline_description"].startswith("rank by rfm_score")
    champion = json.loads((registry.model_dir("purchase_30d") / "champion.json").read_text())
    assert champion["version"] == entry.version


def test_features_come_from_the_table(synthetic_settings, config) -> None:
    with Warehouse(synthetic_settings).session() as session:
        session.execute("alter table features.ml_features drop column store_share")
        session.execute("alter table features.ml_features add column loyalty_tier varchar")
        session.execute(
            "update features.ml_features set loyalty_tier = "
            "case when frequency_orders > 2 then 'gold' else 'basic' end"
        )
        session.execute("alter table features.ml_features add column last_order_at timestamp")
    outcome = train_and_register(synthetic_settings, config, "purchase_30d")
    features = json.loads((outcome.path / "features.json").read_text())
    assert "store_share" not in features["features"]
    assert "loyalty_tier" in features["features"]
    assert set(features["categorical"]) == {
        "lifecycle_stage",
        "country",
        "first_channel",
        "loyalty_tier",
    }
    assert features["categories"]["loyalty_tier"] == ["basic", "gold"]
    assert "last_order_at" in features["ignored_columns"]
    assert not {"person_id", "cutoff_date"} & set(features["features"])


def test_empty_feature_table_is_a_clear_error(synthetic_settings, config) -> None:
    with Warehouse(synthetic_settings).session() as session:
        session.execute("delete from features.ml_features")
    with pytest.raises(MLError, match="features.ml_features is empty"):
        train_and_register(synthetic_settings, config, "purchase_30d")
    assert Registry(synthetic_settings.artifacts_dir).versions("purchase_30d") == []


def test_no_labelled_cutoff_is_a_clear_error(synthetic_settings, config) -> None:
    with Warehouse(synthetic_settings).session() as session:
        session.execute("update features.ml_labels set churn_90d = null")
    with pytest.raises(MLError, match="no labelled rows for churn_90d"):
        train_and_register(synthetic_settings, config, "churn_90d")


def test_missing_feature_table_says_how_to_build_it(settings, config) -> None:
    with Warehouse(settings).session() as session:
        session.execute("create schema if not exists raw")
    with pytest.raises(MLError, match=r"features.ml_features does not exist.*tessera build"):
        train_and_register(settings, config, "purchase_30d")


def test_too_few_positives_is_a_clear_error(synthetic_settings, config) -> None:
    with Warehouse(synthetic_settings).session() as session:
        session.execute(
            "update features.ml_labels set purchase_30d = 0 "
            "where cutoff_date < (select max(cutoff_date) from features.ml_labels) "
            "and person_id > 'p00000010'"
        )
    with pytest.raises(MLError, match=r"too few positives to train purchase_30d: \d+ positive"):
        train_and_register(synthetic_settings, config, "purchase_30d")
