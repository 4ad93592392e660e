"""Map a model of a shorter window to the task's horizon, keeping its ranking.

When the history cannot label a task's horizon H, the model learns the outcome over a
shorter window L (ml/plan.py). Its probabilities are then mapped to H by a strictly
increasing function, so the ranking (ROC AUC, lift, deciles) is the model's and only the
level changes:
- `bgnbd_logit`: on the validation cutoff, logit(BG/NBD's probability over H) is regressed on
  logit(model probability over L) for the buyers there; the fitted line (slope > 0) maps
  every score. BG/NBD needs no labels, so it can speak for windows the data cannot label.
- `constant_hazard`: without BG/NBD (or a usable fit), a constant rate over time:
  purchase P_H = 1 - (1 - P_L)^(H/L), churn (no purchase) P_H = P_L^(H/L).
"""

from __future__ import annotations

import numpy as np

EPS = 1e-6
MIN_ROWS = 50


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), EPS, 1 - EPS)
    return np.log(p / (1 - p))


def constant_hazard(outcome: str, from_days: int, to_days: int) -> dict:
    return {"method": "constant_hazard", "outcome": outcome, "from_days": from_days,
            "to_days": to_days}  # fmt: skip


def fit_mapping(
    outcome: str,
    from_days: int,
    to_days: int,
    probability: np.ndarray,
    btyd_purchase_probability: np.ndarray | None,
) -> dict:
    """The mapping from the model's `from_days` probabilities to `to_days` ones."""
    if btyd_purchase_probability is None:
        return constant_hazard(outcome, from_days, to_days)
    target = np.asarray(btyd_purchase_probability, dtype=np.float64)
    if outcome == "churn":
        target = 1.0 - target
    known = np.isfinite(target) & np.isfinite(probability)
    if known.sum() < MIN_ROWS:
        return constant_hazard(outcome, from_days, to_days)
    x, y = _logit(probability[known]), _logit(target[known])
    if np.std(x) == 0:
        return constant_hazard(outcome, from_days, to_days)
    slope, intercept = np.polyfit(x, y, 1)
    if not np.isfinite(slope) or slope <= 0:
        return constant_hazard(outcome, from_days, to_days)
    return {
        "method": "bgnbd_logit",
        "outcome": outcome,
        "from_days": from_days,
        "to_days": to_days,
        "intercept": float(intercept),
        "slope": float(slope),
        "fitted_rows": int(known.sum()),
    }


def apply_mapping(mapping: dict | None, probability: np.ndarray) -> np.ndarray:
    if not mapping:
        return probability
    p = np.asarray(probability, dtype=np.float64)
    if mapping["method"] == "bgnbd_logit":
        z = mapping["intercept"] + mapping["slope"] * _logit(p)
        return 1.0 / (1.0 + np.exp(-z))
    power = mapping["to_days"] / mapping["from_days"]
    if mapping["outcome"] == "churn":
        return np.power(np.clip(p, 0, 1), power)
    return 1.0 - np.power(np.clip(1 - p, 0, 1), power)


def describe(mapping: dict | None) -> str:
    if not mapping:
        return "none (the model learns the task's own horizon)"
    if mapping["method"] == "bgnbd_logit":
        return (
            f"{mapping['from_days']}-day probabilities mapped to {mapping['to_days']} days by "
            f"BG/NBD (logit slope {mapping['slope']:.2f}, intercept {mapping['intercept']:.2f}, "
            f"fitted on {mapping['fitted_rows']:,} buyers)"
        )
    return (
        f"{mapping['from_days']}-day probabilities mapped to {mapping['to_days']} days with a "
        "constant purchase rate (no BG/NBD fit)"
    )
