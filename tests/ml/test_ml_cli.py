"""`tessera ml train | evaluate | score` through the real CLI entry point."""

from __future__ import annotations

import pytest

from orchestration.cli import main
from tessera.warehouse import Warehouse


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, synthetic_settings):
    monkeypatch.setenv("TESSERA_TARGET", "duckdb")
    monkeypatch.setenv("TESSERA_WAREHOUSE", str(synthetic_settings.warehouse_path))
    monkeypatch.setenv("TESSERA_ARTIFACTS", str(synthetic_settings.artifacts_dir))
    monkeypatch.setenv("TESSERA_THREADS", "1")
    monkeypatch.setenv("COLUMNS", "160")
    return synthetic_settings


def test_train_evaluate_score_end_to_end(cli_env, tmp_path, capsys: pytest.CaptureFixture) -> None:
    config = tmp_path / "ml.yml"
    config.write_text(
        "write_charts: false\n"
        "lightgbm: {num_threads: 1, learning_rate: 0.1, early_stopping_rounds: 10}\n"
    )
    assert main(["ml", "train", "--model", "purchase_30d", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "ROC AUC" in out and "baseline: rank by rfm_score" in out
    assert "now the champion" in out

    assert main(["ml", "evaluate", "--model", "purchase_30d", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "PR AUC" in out and "in-sample" not in out

    assert main(["ml", "score", "--model", "purchase_30d"]) == 0
    assert "scored 3,000 persons" in capsys.readouterr().out
    with Warehouse(cli_env).session(read_only=True) as session:
        assert session.scalar("select count(*) from ml.person_scores") == 3000


def test_failures_explain_themselves(cli_env, tmp_path, capsys: pytest.CaptureFixture) -> None:
    assert main(["ml", "score", "--model", "churn_90d"]) == 1
    assert "no champion" in capsys.readouterr().out

    assert main(["ml", "train", "--model", "next_best_offer"]) == 1
    assert "unknown model 'next_best_offer'" in capsys.readouterr().out

    bad = tmp_path / "bad.yml"
    bad.write_text("lightgbm: {learning_rte: 0.1}\n")
    assert main(["ml", "train", "--config", str(bad)]) == 1
    assert "invalid ml config" in capsys.readouterr().out

    with Warehouse(cli_env).session() as session:
        session.execute("delete from features.ml_features")
    assert main(["ml", "train", "--model", "purchase_30d"]) == 1
    assert "features.ml_features is empty" in capsys.readouterr().out


def test_example_config_is_valid_and_matches_the_defaults() -> None:
    from ml.config import MLConfig
    from tessera.settings import PROJECT_ROOT

    assert MLConfig.load(PROJECT_ROOT / "ml" / "ml.example.yml") == MLConfig()


def coin_flip_labels(settings) -> None:
    """purchase_30d labels unrelated to anything: no model can beat its baseline."""
    with Warehouse(settings).session() as session:
        session.execute(
            "update features.ml_labels set purchase_30d = "
            "case when hash(person_id || cast(cutoff_date as varchar)) % 5 = 0 then 1 else 0 end"
        )


def test_a_model_that_does_not_beat_its_baseline_is_flagged_loudly(
    cli_env, tmp_path, capsys: pytest.CaptureFixture
) -> None:
    coin_flip_labels(cli_env)
    config = tmp_path / "ml.yml"
    config.write_text(
        "write_charts: false\nbootstrap_rounds: 100\n"
        "lightgbm: {num_threads: 1, learning_rate: 0.1, early_stopping_rounds: 10}\n"
    )
    assert main(["ml", "train", "--model", "purchase_30d", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "WARNING: purchase_30d does NOT beat its baseline (rank by rfm_score" in out
    assert "now the champion (first model of this task)" in out  # kept, but flagged

    assert main(["ml", "score", "--model", "purchase_30d"]) == 0
    out = capsys.readouterr().out
    assert "scored 3,000 persons" in out
    assert "WARNING: the purchase_30d champion does NOT beat its baseline" in out
