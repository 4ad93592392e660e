"""Bagged boosters merged into one: the same raw scores and additive contributions."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd

from ml.ensemble import merge
from ml.pipeline import train_and_register


def test_merged_booster_scores_the_mean_of_its_members() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=800),
            "b": rng.normal(size=800),
            "c": pd.Categorical(rng.choice(list("xyz"), 800)),
        }
    )
    y = ((frame["a"] + (frame["c"] == "x") + rng.normal(size=800)) > 0).astype(int)
    members = [
        lgb.train(
            {"objective": "binary", "verbosity": -1, "num_leaves": 4, "seed": seed,
             "bagging_fraction": 0.7, "bagging_freq": 1, "feature_fraction": 0.7},
            lgb.Dataset(frame, y),
            20 + 5 * seed,
            valid_sets=[lgb.Dataset(frame, y)],
            callbacks=[lgb.early_stopping(5, verbose=False)],
        )
        for seed in range(3)
    ]  # fmt: skip
    merged = merge(members)
    mean_raw = np.mean(
        [m.predict(frame, raw_score=True, num_iteration=m.best_iteration or None) for m in members],
        axis=0,
    )
    np.testing.assert_allclose(merged.predict(frame, raw_score=True), mean_raw, atol=1e-12)
    contributions = merged.predict(frame, pred_contrib=True)
    np.testing.assert_allclose(contributions.sum(axis=1), mean_raw, atol=1e-12)
    assert merge(members[:1]) is members[0]


def test_training_bags_small_data_and_registers_one_model(synthetic_settings, config_with) -> None:
    from ml.config import LightGBMParams

    config = config_with(
        lightgbm=LightGBMParams(
            num_threads=1, num_boost_round=200, early_stopping_rounds=10, bagged_models=3
        )
    )
    outcome = train_and_register(synthetic_settings, config, "purchase_30d")
    assert outcome.manifest["bagged_models"] == 3
    per_model = outcome.manifest["best_iteration_per_model"]
    assert len(per_model) == 3 and outcome.manifest["best_iteration"] == sum(per_model)
    saved = lgb.Booster(model_file=str(outcome.path / "model.txt"))
    assert saved.num_trees() == sum(per_model)  # one model: every member's trees
    assert outcome.evaluation["model"]["roc_auc"] > outcome.evaluation["baseline"]["roc_auc"]
