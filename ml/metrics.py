"""Evaluation metrics in numpy: ranking (ROC AUC, PR AUC), probability (log loss,
reliability) and targeting (lift and cumulative gains by decile)."""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

N_DECILES = 10


def roc_auc(y: np.ndarray, score: np.ndarray) -> float:
    """Mann-Whitney form: probability a random positive outranks a random negative."""
    y = np.asarray(y, dtype=bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(score)  # ties get their average rank
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def pr_auc(y: np.ndarray, score: np.ndarray) -> float:
    """Average precision: the step-wise area under the precision-recall curve.

    Tied scores are one threshold (as in scikit-learn), so a coarse ranking such as an
    integer RFM score is not credited with an arbitrary order inside its ties.
    """
    y = np.asarray(y, dtype=np.float64)
    n_pos = y.sum()
    if n_pos == 0:
        return float("nan")
    order = np.argsort(-np.asarray(score, dtype=np.float64), kind="mergesort")
    s, yy = np.asarray(score)[order], y[order]
    last_of_tie = np.r_[s[1:] != s[:-1], True]
    tp = np.cumsum(yy)[last_of_tie]
    seen = (np.flatnonzero(last_of_tie) + 1).astype(np.float64)
    precision = tp / seen
    recall_gain = np.diff(np.r_[0.0, tp]) / n_pos
    return float(np.sum(precision * recall_gain))


def log_loss(y: np.ndarray, p: np.ndarray, eps: float = 1e-12) -> float:
    y = np.asarray(y, dtype=np.float64)
    p = np.clip(np.asarray(p, dtype=np.float64), eps, 1 - eps)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def reliability_table(y: np.ndarray, p: np.ndarray, bins: int = 10) -> list[dict]:
    """Equal-width probability bins: mean predicted vs observed positive rate per bin."""
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    index = np.minimum((p * bins).astype(int), bins - 1)
    rows = []
    for b in range(bins):
        mask = index == b
        n = int(mask.sum())
        rows.append(
            {
                "bin": b + 1,
                "lower": b / bins,
                "upper": (b + 1) / bins,
                "rows": n,
                "mean_predicted": float(p[mask].mean()) if n else None,
                "observed_rate": float(y[mask].mean()) if n else None,
            }
        )
    return rows


def expected_calibration_error(table: list[dict]) -> float:
    total = sum(r["rows"] for r in table)
    if total == 0:
        return float("nan")
    return float(
        sum(
            r["rows"] / total * abs(r["mean_predicted"] - r["observed_rate"])
            for r in table
            if r["rows"]
        )
    )


def decile_of_rank(score: np.ndarray) -> np.ndarray:
    """Deciles 1..10 by rank, 10 = highest scores; ties broken by position (stable)."""
    n = len(score)
    order = np.argsort(np.asarray(score, dtype=np.float64), kind="mergesort")
    deciles = np.empty(n, dtype=np.int16)
    deciles[order] = np.arange(n) * N_DECILES // max(n, 1) + 1
    return deciles


def lift_table(y: np.ndarray, score: np.ndarray) -> list[dict]:
    """Per decile from the top (10) down: positive rate, lift and cumulative gains.

    Rows are shuffled with a fixed seed before ranking so that ties (a coarse baseline)
    are spread over deciles instead of being ordered by how the rows happened to arrive.
    """
    y = np.asarray(y, dtype=np.float64)
    shuffle = np.random.default_rng(0).permutation(len(y))
    y, score = y[shuffle], np.asarray(score, dtype=np.float64)[shuffle]
    deciles = decile_of_rank(score)
    base_rate = y.mean() if len(y) else float("nan")
    total_pos = y.sum()
    rows, cum_rows, cum_pos = [], 0, 0.0
    for d in range(N_DECILES, 0, -1):
        mask = deciles == d
        n, pos = int(mask.sum()), float(y[mask].sum())
        cum_rows += n
        cum_pos += pos
        rate = pos / n if n else float("nan")
        rows.append(
            {
                "decile": d,
                "rows": n,
                "positives": int(pos),
                "positive_rate": rate,
                "lift": rate / base_rate if base_rate else float("nan"),
                "cumulative_share_of_rows": cum_rows / len(y) if len(y) else float("nan"),
                "cumulative_gain": cum_pos / total_pos if total_pos else float("nan"),
                "cumulative_lift": (cum_pos / cum_rows) / base_rate
                if cum_rows and base_rate
                else float("nan"),
            }
        )
    return rows


def evaluate_scores(y: np.ndarray, score: np.ndarray, probability: np.ndarray) -> dict:
    """All metrics for one scorer: ranking metrics on `score`, probability ones on `probability`."""
    reliability = reliability_table(y, probability)
    lift = lift_table(y, score)
    return {
        "rows": int(len(y)),
        "positives": int(np.sum(y)),
        "positive_rate": float(np.mean(y)) if len(y) else float("nan"),
        "roc_auc": roc_auc(y, score),
        "pr_auc": pr_auc(y, score),
        "log_loss": log_loss(y, probability),
        "expected_calibration_error": expected_calibration_error(reliability),
        "top_decile_lift": lift[0]["lift"],
        "top_3_deciles_gain": lift[2]["cumulative_gain"],
        "reliability": reliability,
        "lift": lift,
    }
