"""The time split: validation strictly after training, and no outcome window crosses it."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from ml.data import CutoffStats, labelled_cutoffs, read_feature_schema
from ml.errors import MLError
from ml.split import load_split, time_split, within_row_budget
from tessera.warehouse import Warehouse


def stats(*days: str) -> list[CutoffStats]:
    return [CutoffStats(date.fromisoformat(d), 100, 10) for d in days]


def test_validation_is_latest_and_training_windows_end_before_it() -> None:
    cutoffs = ("2026-04-01", "2026-05-01", "2026-06-01", "2026-07-01", "2026-08-01")
    split = time_split(stats(*reversed(cutoffs)), horizon_days=30, model="m")
    assert split.validation_cutoff == date(2026, 8, 1)
    assert split.train_cutoffs == tuple(date.fromisoformat(c) for c in cutoffs[:-1])
    for cutoff in split.train_cutoffs:
        assert cutoff + timedelta(days=30) <= split.validation_cutoff


def test_long_horizon_purges_cutoffs_whose_outcomes_overlap_validation() -> None:
    split = time_split(
        stats("2026-04-01", "2026-05-01", "2026-06-01", "2026-07-01", "2026-08-01"),
        horizon_days=90,
        model="churn_90d",
    )
    assert split.train_cutoffs == (date(2026, 4, 1), date(2026, 5, 1))
    assert split.purged_cutoffs == (date(2026, 6, 1), date(2026, 7, 1))


def test_the_row_budget_keeps_the_most_recent_training_cutoffs() -> None:
    days = [f"2026-{m:02d}-01" for m in range(1, 13)]  # 100 rows each
    split = time_split(stats(*days), horizon_days=30, model="m")
    assert len(split.train_cutoffs) == 11
    within = within_row_budget(split, stats(*days), max_rows=450, min_cutoffs=3)
    assert within.train_cutoffs == tuple(date(2026, m, 1) for m in (8, 9, 10, 11))
    assert within.unused_cutoffs == tuple(date(2026, m, 1) for m in range(1, 8))
    assert within.validation_cutoff == split.validation_cutoff
    # never fewer than min_cutoffs, however large they are; no budget: every cutoff
    few = within_row_budget(split, stats(*days), max_rows=50, min_cutoffs=3)
    assert few.train_cutoffs == tuple(date(2026, m, 1) for m in (9, 10, 11))
    assert within_row_budget(split, stats(*days), None, 3) == split


def test_no_training_cutoff_far_enough_back_is_a_clear_error() -> None:
    with pytest.raises(MLError, match="at least 90 days before the validation cutoff"):
        time_split(stats("2026-07-01", "2026-08-01"), horizon_days=90, model="churn_90d")


def test_no_labelled_cutoff_is_a_clear_error() -> None:
    with pytest.raises(MLError, match="no labelled rows for purchase_30d"):
        time_split([], horizon_days=30, model="purchase_30d")


@pytest.mark.parametrize("model", ["purchase_30d", "churn_90d"])
def test_split_of_loaded_rows_never_leaks(synthetic_settings, config, model: str) -> None:
    spec = config.model(model)
    with Warehouse(synthetic_settings).session(read_only=True) as session:
        schema = read_feature_schema(session, config)
        split = time_split(labelled_cutoffs(session, config, spec), spec.horizon_days, model)
        train, valid = load_split(session, config, schema, spec, split)
    assert len(train) > 0 and len(valid) > 0
    validation_day = np.datetime64(split.validation_cutoff, "D")
    assert (train.cutoff < validation_day).all()
    assert (valid.cutoff == validation_day).all()
    train_keys = set(zip(train.person_id.to_pylist(), train.cutoff.tolist(), strict=True))
    valid_keys = set(zip(valid.person_id.to_pylist(), valid.cutoff.tolist(), strict=True))
    assert not train_keys & valid_keys
    latest_train = max(train.cutoff).astype(object)
    assert latest_train + timedelta(days=spec.horizon_days) <= split.validation_cutoff
