"""`--as-of DATE`: rebuild the feature and label tables as if today were DATE.

Runs dbt on the feature models only, with var features_as_of: the scoring cutoff becomes
DATE, cutoffs are generated before it, and labels only count outcomes before it, while
profiles and segments keep their own as_of. The next `tessera build` brings the feature
tables back to today.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from ml.config import MLConfig
from ml.data import _as_date
from ml.errors import MLError
from tessera.dbt import DbtError, run_dbt
from tessera.settings import Settings
from tessera.warehouse import Warehouse

FEATURE_MODELS = ("int_feature_cutoffs", "ml_features", "ml_labels", "ml_prediction_tasks")


def current_scoring_cutoff(settings: Settings, config: MLConfig) -> date | None:
    with Warehouse(settings).session(read_only=True) as session:
        if not session.table_exists(config.features_schema, "int_feature_cutoffs"):
            return None
        value = session.scalar(
            f"select max(cutoff_date) from {config.features_schema}.int_feature_cutoffs "
            "where is_scoring_cutoff"
        )
    return None if value is None else _as_date(value)


def rebuild_features_as_of(
    settings: Settings, config: MLConfig, as_of: date, progress: Callable[[str], None]
) -> None:
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
