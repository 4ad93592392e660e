"""Top reasons per scored person from per-feature contributions (ml/explain.py).

Contributions (in log-odds) sum to the person's raw score minus the model's average. For a
person scored above average the reasons are the features that pushed the score up most;
below average, the ones that pulled it down most. Only contributions in that direction are
named, so a reason always explains why the score is where it is. A reason names the column
and the person's value in plain words: "cart_adds_30d high" (above the training median),
"recency_days low", "aov missing", "country = NL", "country other" (unseen in training).

Reasons are computed as integer ids into a small vocabulary of such texts, vectorised over
a whole batch; the texts are attached in the warehouse by a join (or `texts` for a few rows).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

N_REASONS = 3
NO_REASON = -1
HIGH, LOW, MISSING = 0, 1, 2


@dataclass(frozen=True)
class ReasonVocabulary:
    texts: tuple[str, ...]
    base: np.ndarray  # first id of each feature's texts
    is_categorical: np.ndarray  # bool per feature
    n_levels: np.ndarray  # number of training categories per categorical feature
    medians: np.ndarray  # training median per numeric feature (NaN for categoricals)

    @classmethod
    def build(
        cls,
        features: tuple[str, ...],
        categorical: tuple[str, ...],
        categories: dict[str, list[str]],
        medians: dict[str, float],
    ) -> ReasonVocabulary:
        texts: list[str] = []
        base, is_cat, n_levels, median = [], [], [], []
        for name in features:
            base.append(len(texts))
            if name in categorical:
                levels = categories.get(name, [])
                texts += [f"{name} = {level}" for level in levels]
                texts += [f"{name} missing", f"{name} other"]
                is_cat.append(True)
                n_levels.append(len(levels))
                median.append(np.nan)
            else:
                texts += [f"{name} high", f"{name} low", f"{name} missing"]
                is_cat.append(False)
                n_levels.append(0)
                median.append(medians.get(name, np.nan))
        return cls(
            tuple(texts),
            np.array(base, dtype=np.int64),
            np.array(is_cat, dtype=bool),
            np.array(n_levels, dtype=np.int64),
            np.array(median, dtype=np.float64),
        )

    def ids(self, feature: np.ndarray, value: np.ndarray, unseen: np.ndarray) -> np.ndarray:
        """Reason id for each (feature index, the person's value of it) pair."""
        base = self.base[feature]
        with np.errstate(invalid="ignore"):
            numeric = np.where(
                np.isnan(value),
                MISSING,
                np.where(value > self.medians[feature], HIGH, LOW),
            )
        levels = self.n_levels[feature]
        category = np.where(
            unseen, levels + 1, np.where(np.isnan(value), levels, np.nan_to_num(value))
        )
        return base + np.where(self.is_categorical[feature], category, numeric).astype(np.int64)

    def texts_of(self, ids: np.ndarray) -> np.ndarray:
        lookup = np.array((*self.texts, None), dtype=object)
        return lookup[np.where(ids == NO_REASON, len(self.texts), ids)]


def top_reason_ids(
    contributions: np.ndarray,
    matrix: np.ndarray,
    unseen: np.ndarray,
    vocabulary: ReasonVocabulary,
) -> np.ndarray:
    """(n_rows, N_REASONS) reason ids, strongest first; NO_REASON where none applies."""
    per_feature = contributions[:, :-1]  # last column is the expected value
    n_rows, n_features = per_feature.shape
    direction = np.where(per_feature.sum(axis=1) >= 0, 1.0, -1.0)
    strength = per_feature * direction[:, None]
    k = min(N_REASONS, n_features)
    top = (
        np.argpartition(-strength, k - 1, axis=1)[:, :k]
        if k < n_features
        else (np.tile(np.arange(n_features), (n_rows, 1)))
    )
    rows = np.arange(n_rows)[:, None]
    order = np.argsort(-strength[rows, top], axis=1, kind="stable")
    top = top[rows, order]
    ids = vocabulary.ids(top, matrix[rows, top], unseen[rows, top])
    ids = np.where(strength[rows, top] > 0, ids, NO_REASON)
    if k < N_REASONS:
        ids = np.hstack([ids, np.full((n_rows, N_REASONS - k), NO_REASON)])
    return ids
