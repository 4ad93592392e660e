"""Evaluation metrics against hand-computed values."""

from __future__ import annotations

import math

import numpy as np

from ml.metrics import decile_of_rank, lift_table, log_loss, pr_auc, reliability_table, roc_auc


def test_roc_auc_perfect_reversed_and_tied() -> None:
    y = np.array([0, 0, 1, 1])
    assert roc_auc(y, np.array([0.1, 0.2, 0.8, 0.9])) == 1.0
    assert roc_auc(y, np.array([0.9, 0.8, 0.2, 0.1])) == 0.0
    assert roc_auc(y, np.array([0.5, 0.5, 0.5, 0.5])) == 0.5
    # one of four positive/negative pairs misordered
    assert roc_auc(y, np.array([0.1, 0.6, 0.5, 0.9])) == 0.75


def test_pr_auc_is_average_precision_with_ties_as_one_threshold() -> None:
    y = np.array([1, 0, 1, 0])
    # ranked: 1 (p=1), 0, 1 (p=2/3), 0 -> AP = (1 + 2/3) / 2
    assert math.isclose(pr_auc(y, np.array([0.9, 0.8, 0.7, 0.1])), (1 + 2 / 3) / 2)
    # all tied: one threshold, precision = base rate
    assert math.isclose(pr_auc(y, np.zeros(4)), 0.5)


def test_log_loss_of_known_probabilities() -> None:
    assert math.isclose(log_loss(np.array([1, 0]), np.array([0.8, 0.2])), -math.log(0.8))


def test_reliability_table_bins_rows_by_probability() -> None:
    table = reliability_table(np.array([0, 1, 1, 1]), np.array([0.05, 0.05, 0.95, 0.95]))
    assert len(table) == 10
    assert table[0]["rows"] == 2 and table[0]["observed_rate"] == 0.5
    assert table[9]["rows"] == 2 and table[9]["observed_rate"] == 1.0
    assert sum(r["rows"] for r in table) == 4


def test_deciles_put_highest_scores_in_ten() -> None:
    score = np.arange(100, dtype=float)[::-1]
    deciles = decile_of_rank(score)
    assert deciles[0] == 10 and deciles[-1] == 1
    assert np.bincount(deciles)[1:].tolist() == [10] * 10


def test_lift_and_gains_of_a_perfect_ranking() -> None:
    y = np.r_[np.ones(10), np.zeros(90)]
    rows = lift_table(y, -np.arange(100, dtype=float))
    assert rows[0]["decile"] == 10
    assert rows[0]["lift"] == 10.0 and rows[0]["cumulative_gain"] == 1.0
    assert rows[-1]["cumulative_share_of_rows"] == 1.0 and rows[-1]["cumulative_gain"] == 1.0
