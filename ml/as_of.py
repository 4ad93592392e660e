"""`--as-of DATE`: rebuild the feature and label tables as if today were DATE.

Runs dbt on the feature models only, with var features_as_of: the scoring cutoff becomes
DATE, cutoffs are generated before it, and labels only count outcomes before it, while
profiles and segments keep their own as_of. The next `tessera build` brings the feature
tables back to today.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import pandas as pd

from ml.config import MLConfig
from ml.data import _as_date
from ml.errors import MLError
from tessera.dbt import DbtError, run_dbt
from tessera.settings import Settings
from tessera.warehouse import Warehouse

FEATURE_MODELS = ("int_feature_cutoffs", "ml_features", "ml_labels", "ml_prediction_tasks")
ACTIVITY_TABLE = "int_person_daily_activity"


def current_scoring_cutoff(settings: Settings, config: MLConfig) -> date | None:
    with Warehouse(settings).session(read_only=True) as session:
        if not session.table_exists(config.features_schema, "int_feature_cutoffs"):
            return None
        value = session.scalar(
            f"select max(cutoff_date) from {config.features_schema}.int_feature_cutoffs "
            "where is_scoring_cutoff"
        )
    return None if value is None else _as_date(value)


def activity_span(settings: Settings, config: MLConfig) -> tuple[date, date] | None:
    """First and last day with activity (features.int_person_daily_activity, which --as-of
    does not rebuild), or None when the table is missing or empty."""
    with Warehouse(settings).session(read_only=True) as session:
        if not session.table_exists(config.features_schema, ACTIVITY_TABLE):
            return None
        row = session.df(
            f"select min(activity_date) as first_day, max(activity_date) as last_day "
            f"from {config.features_schema}.{ACTIVITY_TABLE}"
        )
    first, last = row["first_day"].iloc[0], row["last_day"].iloc[0]
    if pd.isna(first) or pd.isna(last):
        return None
    return _as_date(first), _as_date(last)


def check_as_of(as_of: date, span: tuple[date, date] | None) -> None:
    """An --as-of date the data can answer: after the first day with activity (before it no
    one has a history) and at most the day after the last (later, every customer would look
    lapsed, and the scores written would replace today's with that fiction)."""
    if span is None:
        return
    first, last = span
    latest = last + timedelta(days=1)
    if as_of > latest:
        raise MLError(
            f"--as-of {as_of} is after the data ends: the latest activity is on {last}, so "
            f"the latest --as-of is {latest} (the default scoring cutoff); nothing was rebuilt"
        )
    if as_of <= first:
        raise MLError(
            f"--as-of {as_of} is too early: the data begins on {first}, so no person has a "
            f"history before it; use a date from {first + timedelta(days=1)} "
            f"to {latest}; nothing was rebuilt"
        )


def rebuild_features_as_of(
    settings: Settings, config: MLConfig, as_of: date, progress: Callable[[str], None]
) -> None:
    check_as_of(as_of, activity_span(settings, config))
    if current_scoring_cutoff(settings, config) == as_of:
        progress(f"feature tables are already as of {as_of}")
        return
    progress(
        f"rebuilding the feature and label tables as of {as_of} (dbt var features_as_of; "
        "profiles keep their own as_of, the next `tessera build` returns them to today)"
    )
    try:
        run_dbt(
            settings,
            ["run", "--select", *FEATURE_MODELS],
            vars={"features_as_of": as_of.isoformat()},
            stream=False,
        )
    except DbtError as exc:
        raise MLError(f"cannot build the features as of {as_of}: {exc}") from exc
    if current_scoring_cutoff(settings, config) != as_of:
        raise MLError(f"the feature tables did not move to {as_of}")
