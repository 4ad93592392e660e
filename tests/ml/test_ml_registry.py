"""Champion logic: the pointer moves only when a new model beats the champion."""

from __future__ import annotations

import json
import math

from ml.config import LightGBMParams
from ml.pipeline import train_and_register
from ml.registry import Registry, should_promote


def test_should_promote_needs_a_strictly_better_metric() -> None:
    assert should_promote(0.60, None, 0.0)
    assert should_promote(0.61, 0.60, 0.0)
    assert not should_promote(0.60, 0.60, 0.0)
    assert not should_promote(0.59, 0.60, 0.0)
    assert not should_promote(0.605, 0.60, 0.01)
    assert not should_promote(math.nan, 0.60, 0.0)
    assert should_promote(0.5, math.nan, 0.0)


def test_champion_moves_only_for_a_better_model(synthetic_settings, config, config_with) -> None:
    weak = config_with(
        lightgbm=LightGBMParams(num_threads=1, num_leaves=2, num_boost_round=1, learning_rate=0.01)
    )
    registry = Registry(synthetic_settings.artifacts_dir)

    first = train_and_register(synthetic_settings, weak, "purchase_30d")
    assert first.promoted and registry.champion("purchase_30d")["version"] == first.version

    better = train_and_register(synthetic_settings, config, "purchase_30d")
    assert better.promoted
    assert better.decision["champion_version"] == first.version
    assert (
        better.decision["champion_measured_by"] == "re-scored on the challenger's validation rows"
    )
    assert better.decision["challenger_value"] > better.decision["champion_value"]
    pointer = registry.champion("purchase_30d")
    assert pointer["version"] == better.version and pointer["replaced"] == first.version

    worse = train_and_register(synthetic_settings, weak, "purchase_30d")
    assert not worse.promoted
    assert registry.champion("purchase_30d")["version"] == better.version
    assert registry.versions("purchase_30d") == sorted(
        [first.version, better.version, worse.version]
    )
    log = (registry.model_dir("purchase_30d") / "promotions.jsonl").read_text().splitlines()
    assert [json.loads(line)["promoted"] for line in log] == [True, True, False]


def test_retraining_the_same_model_does_not_replace_the_champion(trained_copy, config) -> None:
    registry = Registry(trained_copy.artifacts_dir)
    before = registry.champion("churn_90d")["version"]
    again = train_and_register(trained_copy, config, "churn_90d")
    # Deterministic training on the same data: equal, not better.
    assert again.decision["challenger_value"] == again.decision["champion_value"]
    assert not again.promoted
    assert registry.champion("churn_90d")["version"] == before
