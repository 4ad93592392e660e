"""Paired bootstrap intervals and the horizon mapping: small, exact properties."""

from __future__ import annotations

import numpy as np
import pytest

from ml import horizon
from ml.bootstrap import _Sorted, paired_difference, paired_differences, paired_differences_to
from ml.metrics import pr_auc, roc_auc


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    n = 4000
    y = rng.random(n) < 0.1
    strong = y * 1.5 + rng.normal(size=n)
    weak = y * 0.3 + rng.normal(size=n)
    coarse = np.round(strong)  # ties, as an integer RFM score has
    return y, strong, weak, coarse


def test_unweighted_metrics_match_the_plain_ones(data) -> None:
    y, strong, _, coarse = data
    for score in (strong, coarse):
        got = _Sorted(y, score).metrics(np.ones(len(y)))
        assert got["roc_auc"] == pytest.approx(roc_auc(y, score), abs=1e-12)
        assert got["pr_auc"] == pytest.approx(pr_auc(y, score), abs=1e-12)


def test_a_clearly_better_ranker_has_an_interval_above_zero(data) -> None:
    y, strong, weak, _ = data
    interval = paired_difference(y, strong, weak, "roc_auc", rounds=300)
    assert interval.low > 0 and interval.excludes_zero
    assert interval.low < interval.difference < interval.high


def test_the_same_ranker_has_an_interval_around_zero(data) -> None:
    y, strong, _, _ = data
    noisy = strong + np.random.default_rng(1).normal(scale=0.05, size=len(y))
    interval = paired_difference(y, strong, noisy, "pr_auc", rounds=300)
    assert interval.low < 0 < interval.high and not interval.excludes_zero


def test_large_inputs_resample_a_subset(data) -> None:
    y, strong, weak, _ = data
    interval = paired_difference(y, strong, weak, "roc_auc", rounds=50, max_rows=1000)
    assert interval.rows == 1000
    assert interval.difference == pytest.approx(roc_auc(y, strong) - roc_auc(y, weak))


def test_one_pass_for_both_metrics_gives_each_metrics_own_interval(data) -> None:
    y, strong, weak, coarse = data
    for max_rows in (200_000, 1000):  # the subset is drawn from the same stream too
        both = paired_differences(y, strong, coarse, rounds=60, seed=5, max_rows=max_rows)
        for metric in ("roc_auc", "pr_auc"):
            alone = paired_difference(
                y, strong, coarse, metric, rounds=60, seed=5, max_rows=max_rows
            )
            assert both[metric] == alone
    assert paired_differences(y, strong, weak, rounds=60)["roc_auc"].low > 0


def test_one_pass_against_several_references_gives_each_its_own_intervals(data) -> None:
    y, strong, weak, coarse = data
    for max_rows in (200_000, 1000):
        together = paired_differences_to(
            y, strong, {"weak": weak, "coarse": coarse}, rounds=60, seed=5, max_rows=max_rows
        )
        assert together["weak"] == paired_differences(
            y, strong, weak, rounds=60, seed=5, max_rows=max_rows
        )
        assert together["coarse"] == paired_differences(
            y, strong, coarse, rounds=60, seed=5, max_rows=max_rows
        )


@pytest.mark.parametrize("outcome", ["purchase", "churn"])
def test_horizon_mappings_keep_the_order_and_move_the_level(outcome) -> None:
    p = np.linspace(0.01, 0.9, 50)
    hazard = horizon.constant_hazard(outcome, 30, 273)
    mapped = horizon.apply_mapping(hazard, p)
    assert np.all(np.diff(mapped) > 0)  # strictly increasing: ranking unchanged
    if outcome == "purchase":
        assert np.all(mapped > p)  # more time, more buyers
        assert mapped[0] == pytest.approx(1 - 0.99 ** (273 / 30))
    else:
        assert np.all(mapped < p)  # more time, fewer who never buy
    target = 1 - (1 - p) ** 5
    fitted = horizon.fit_mapping(
        outcome, 30, 273, p, target if outcome == "purchase" else 1 - target
    )
    assert fitted["method"] == "bgnbd_logit" and fitted["slope"] > 0
    assert np.all(np.diff(horizon.apply_mapping(fitted, p)) > 0)


def test_no_usable_bgnbd_falls_back_to_a_constant_rate() -> None:
    p = np.linspace(0.01, 0.5, 100)
    assert horizon.fit_mapping("purchase", 30, 90, p, None)["method"] == "constant_hazard"
    # a BG/NBD that ranks the other way round cannot give an increasing map
    backwards = horizon.fit_mapping("purchase", 30, 90, p, 1 - p)
    assert backwards["method"] == "constant_hazard"
