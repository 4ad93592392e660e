"""Which models exist, how they are trained and judged, and where their data lives.

Defaults describe the two shipped models. A YAML file with the same shape (see
`MLConfig.load`) overrides them, e.g. to change horizons, LightGBM parameters or thresholds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ml.errors import MLError


class BaselineSpec(BaseModel):
    """The simple ranking a model must beat: one feature column, higher or lower is riskier."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    column: str
    higher_is_positive: bool = True

    def describe(self) -> str:
        order = "higher" if self.higher_is_positive else "lower"
        return f"rank by {self.column} ({order} = more likely)"


class ModelSpec(BaseModel):
    """One propensity model: its label column in ml_labels and its outcome horizon."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    label: str
    horizon_days: int = Field(gt=0)
    baseline: BaselineSpec
    description: str = ""
    # SQL condition on ml_features columns selecting who gets scored: the population the
    # label is defined for (churn only means something for recent customers). None: all.
    score_population: str | None = None


class LightGBMParams(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    learning_rate: float = 0.1
    num_leaves: int = 31
    min_data_in_leaf: int = 50
    feature_fraction: float = 0.9
    bagging_fraction: float = 0.8
    bagging_freq: int = 1
    lambda_l2: float = 1.0
    max_bin: int = 255
    max_cat_to_onehot: int = 8
    cat_smooth: float = 10.0
    num_boost_round: int = 1000
    early_stopping_rounds: int = 50
    # Log loss is O(n) per round; AUC / average precision sort the validation set every
    # round, which costs as much as the boosting itself at a million rows.
    early_stopping_metric: Literal["binary_logloss", "auc", "average_precision"] = "binary_logloss"
    seed: int = 7
    # None: Settings.threads. OpenMP threads spin while waiting, so on a machine shared
    # with other busy processes 1 thread can be several times faster than 2.
    num_threads: int | None = None

    def booster_params(self, threads: int) -> dict:
        params = self.model_dump(
            exclude={"num_boost_round", "early_stopping_rounds", "num_threads"}
        )
        return {
            **params,
            "objective": "binary",
            "num_threads": self.num_threads or threads,
            "verbosity": -1,
            "deterministic": True,
            "force_row_wise": True,
        }


class MLConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    models: tuple[ModelSpec, ...] = (
        ModelSpec(
            name="purchase_30d",
            label="purchase_30d",
            horizon_days=30,
            baseline=BaselineSpec(column="rfm_score", higher_is_positive=True),
            description="Probability of any online or in-store purchase in the next 30 days.",
        ),
        ModelSpec(
            name="churn_90d",
            label="churn_90d",
            horizon_days=90,
            # A long time since the last purchase is the classic churn signal.
            baseline=BaselineSpec(column="recency_days", higher_is_positive=True),
            # ml_labels defines churn_90d for persons with a purchase in the 365 days
            # before the cutoff (dbt var label_active_days); score the same population.
            score_population="recency_days <= 365",
            description=(
                "Probability that a customer active in the past year makes no purchase "
                "in the next 90 days."
            ),
        ),
    )
    features_schema: str = "features"
    features_table: str = "ml_features"
    labels_table: str = "ml_labels"
    scores_schema: str = "ml"
    scores_table: str = "person_scores"
    key_columns: tuple[str, ...] = ("person_id", "cutoff_date")
    # Champions are compared on the challenger's validation rows, so the metric's
    # dependence on the base rate does not matter; PR AUC rewards a precise top of the list,
    # which is what a campaign targeting the top deciles uses.
    champion_metric: Literal["pr_auc", "roc_auc"] = "pr_auc"
    champion_min_improvement: float = 0.0
    min_positives: int = 50
    min_negatives: int = 50
    min_validation_positives: int = 20
    score_batch_rows: int = 100_000
    # "path": fast path attributions; "shap": LightGBM's exact TreeSHAP, ~100x slower
    # (see ml/explain.py for measurements).
    reason_method: Literal["path", "shap"] = "path"
    write_charts: bool = True  # PNG lift/gains and reliability charts with every evaluation
    lightgbm: LightGBMParams = LightGBMParams()

    @model_validator(mode="after")
    def _unique_names(self) -> MLConfig:
        names = [m.name for m in self.models]
        if len(names) != len(set(names)):
            raise ValueError(f"model names must be unique, got {names}")
        return self

    def model(self, name: str) -> ModelSpec:
        for spec in self.models:
            if spec.name == name:
                return spec
        known = ", ".join(m.name for m in self.models)
        raise MLError(f"unknown model {name!r}; configured models: {known}")

    @property
    def features_relation(self) -> str:
        return f"{self.features_schema}.{self.features_table}"

    @property
    def labels_relation(self) -> str:
        return f"{self.features_schema}.{self.labels_table}"

    @property
    def scores_relation(self) -> str:
        return f"{self.scores_schema}.{self.scores_table}"

    @classmethod
    def load(cls, path: Path | None) -> MLConfig:
        """Defaults, or the YAML file at `path` validated against this shape."""
        if path is None:
            return cls()
        try:
            raw = yaml.safe_load(Path(path).read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise MLError(f"cannot read ml config {path}: {exc}") from exc
        try:
            return cls.model_validate(raw)
        except ValueError as exc:
            raise MLError(f"invalid ml config {path}: {exc}") from exc
