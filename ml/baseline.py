"""The simple baseline a model must beat: rank by one feature column (e.g. rfm_score).

Ranking metrics (ROC AUC, PR AUC, lift, gains) use the column itself, oriented so that
higher means more likely; rows where it is null rank last. Log loss and the reliability
table need probabilities, so the baseline also maps the column to the positive rate of its
bin on the training rows (per distinct value when there are few, else quantile bins, with a
bin of its own for nulls). That calibration is fitted on training cutoffs only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ml.config import BaselineSpec
from ml.errors import MLError

MAX_BINS = 20
PRIOR_WEIGHT = 1.0


@dataclass(frozen=True)
class Baseline:
    spec: BaselineSpec
    edges: np.ndarray  # upper bin edges (inclusive), ascending
    rates: np.ndarray  # positive rate per bin, len(edges)
    null_rate: float

    @classmethod
    def fit(cls, spec: BaselineSpec, frame: pd.DataFrame, y: np.ndarray) -> Baseline:
        values = _column(spec, frame)
        y = np.asarray(y, dtype=np.float64)
        prior = float(y.mean()) if len(y) else 0.0
        known = ~np.isnan(values)
        distinct = np.unique(values[known])
        if len(distinct) <= MAX_BINS:
            edges = distinct
        else:
            edges = np.unique(np.quantile(values[known], np.linspace(0, 1, MAX_BINS + 1)[1:]))
        index = np.searchsorted(edges, values[known], side="left")
        index = np.minimum(index, len(edges) - 1)
        pos = np.bincount(index, weights=y[known], minlength=len(edges))
        n = np.bincount(index, minlength=len(edges))
        rates = (pos + PRIOR_WEIGHT * prior) / (n + PRIOR_WEIGHT)
        n_null = int((~known).sum())
        null_rate = (float(y[~known].sum()) + PRIOR_WEIGHT * prior) / (n_null + PRIOR_WEIGHT)
        return cls(spec=spec, edges=edges, rates=rates, null_rate=null_rate)

    def rank_score(self, frame: pd.DataFrame) -> np.ndarray:
        values = _column(self.spec, frame)
        oriented = values if self.spec.higher_is_positive else -values
        return np.where(np.isnan(oriented), -np.inf, oriented)

    def probability(self, frame: pd.DataFrame) -> np.ndarray:
        values = _column(self.spec, frame)
        known = ~np.isnan(values)
        out = np.full(len(values), self.null_rate)
        if len(self.edges):
            index = np.minimum(np.searchsorted(self.edges, values[known]), len(self.edges) - 1)
            out[known] = self.rates[index]
        return out

    def to_dict(self) -> dict:
        return {
            "column": self.spec.column,
            "higher_is_positive": self.spec.higher_is_positive,
            "description": self.spec.describe(),
            "calibration_bins": [
                {"upper_edge": float(e), "positive_rate": float(r)}
                for e, r in zip(self.edges, self.rates, strict=True)
            ],
            "null_positive_rate": self.null_rate,
        }


def _column(spec: BaselineSpec, frame: pd.DataFrame) -> np.ndarray:
    if spec.column not in frame.columns:
        raise MLError(
            f"baseline column {spec.column!r} is not in ml_features; change the model's "
            "baseline in the ml config or add the column to the feature model"
        )
    column = frame[spec.column]
    if isinstance(column.dtype, pd.CategoricalDtype):
        raise MLError(f"baseline column {spec.column!r} must be numeric, it is text")
    return column.to_numpy(dtype=np.float64, na_value=np.nan)


def baseline_from_dict(raw: dict) -> Baseline:
    """Rebuild a fitted baseline from the `baseline_calibration` block of metrics.json."""
    bins = raw.get("calibration_bins", [])
    return Baseline(
        spec=BaselineSpec(column=raw["column"], higher_is_positive=raw["higher_is_positive"]),
        edges=np.array([b["upper_edge"] for b in bins], dtype=np.float64),
        rates=np.array([b["positive_rate"] for b in bins], dtype=np.float64),
        null_rate=float(raw["null_positive_rate"]),
    )
