"""Which models exist, how they are trained and judged, and where their data lives.

Defaults describe the two shipped models. A YAML file with the same shape (see
`MLConfig.load`) overrides them, e.g. to change horizons, LightGBM parameters or thresholds.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ml.errors import MLError
from tessera.prediction_tasks import (
    PredictionTask,
    TaskDefinitionError,
    TaskDefinitions,
    load_task_definitions,
)
from tessera.settings import DBT_PROJECT_DIR
from tessera.yaml_strict import YamlFileError, load_yaml_file


class BaselineSpec(BaseModel):
    """The simple ranking a model must beat: one feature column, higher or lower is riskier."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    column: str
    higher_is_positive: bool = True

    def describe(self) -> str:
        order = "higher" if self.higher_is_positive else "lower"
        return f"rank by {self.column} ({order} = more likely)"


class ModelSpec(BaseModel):
    """One model per prediction task: the task (name, outcome, horizon, population) comes from
    dbt_project.yml (vars prediction_tasks); the rest is how the model is judged."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    outcome: Literal["purchase", "churn", "spend"] = "purchase"
    horizon_days: int = Field(gt=0)
    population: Literal["all", "buyers", "active"] = "all"
    baseline: BaselineSpec | None = None
    description: str = ""
    # SQL condition on ml_features columns selecting who gets scored: the population the
    # label is defined for (churn only means something for recent customers). None: all.
    score_population: str | None = None

    @property
    def label(self) -> str:
        """The label column in ml_labels is named after the task."""
        return self.name

    @property
    def baseline_spec(self) -> BaselineSpec:
        return self.baseline or DEFAULT_BASELINES[self.outcome]

    @classmethod
    def from_task(
        cls, task: PredictionTask, active_days: int, baseline: BaselineSpec | None = None
    ) -> ModelSpec:
        return cls(
            name=task.name,
            outcome=task.outcome,
            horizon_days=task.horizon_days,
            population=task.population,
            description=task.description,
            score_population=task.population_sql(active_days),
            baseline=baseline or DEFAULT_BASELINES[task.outcome],
        )


# The simple ranking each kind of task must beat.
DEFAULT_BASELINES = {
    "purchase": BaselineSpec(column="rfm_score", higher_is_positive=True),
    # A long time since the last purchase is the classic churn signal.
    "churn": BaselineSpec(column="recency_days", higher_is_positive=True),
    "spend": BaselineSpec(column="monetary_total", higher_is_positive=True),
}


class ModelOverride(BaseModel):
    """Per-task settings an ml config YAML may change (the task itself lives in dbt)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    task: str
    baseline: BaselineSpec | None = None


def task_definitions(dbt_project_dir: Path = DBT_PROJECT_DIR) -> TaskDefinitions:
    try:
        return load_task_definitions(dbt_project_dir)
    except TaskDefinitionError as exc:
        raise MLError(str(exc)) from exc


def models_from_tasks(
    definitions: TaskDefinitions, overrides: tuple[ModelOverride, ...] = ()
) -> tuple[ModelSpec, ...]:
    by_task = {o.task: o for o in overrides}
    unknown = sorted(set(by_task) - set(definitions.names))
    if unknown:
        raise MLError(
            f"ml config names task(s) {', '.join(unknown)} that {definitions.source} does not "
            f"define; prediction tasks: {', '.join(definitions.names)}"
        )
    return tuple(
        ModelSpec.from_task(
            task,
            definitions.active_days,
            by_task[task.name].baseline if task.name in by_task else None,
        )
        for task in definitions.tasks
    )


def _default_models() -> tuple[ModelSpec, ...]:
    return models_from_tasks(task_definitions())


def _default_fallback_days() -> int:
    return task_definitions().fallback_days


class LightGBMParams(BaseModel):
    """Defaults for the data customer tables are: few cutoffs, a few thousand to millions of
    rows, rare positives, features that are counts of the same few events. Small, heavily
    regularised trees at a moderate learning rate; leaves must hold a share of the training rows
    (min_data_in_leaf grows with them), so a small shop's model cannot memorise customers.
    On CDNOW (2,357 and 23,570 customers) these took the 39-week ROC AUC from below BG/NBD to
    above it (ml/README.md)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # 0.06 with 50 rounds of patience: half the rounds of 0.03 / 100 for the same validation
    # ROC AUC on CDNOW (0.7625 vs 0.7616 on 2,357 customers, 0.7820 vs 0.7815 on 23,570;
    # BENCHMARKS.md, issue 20); 0.1 / 30 lost 0.001-0.003 on the 39-week outcome.
    learning_rate: float = Field(default=0.06, gt=0)
    num_leaves: int = Field(default=7, ge=2)
    min_data_in_leaf: int = Field(default=100, ge=1)
    # leaves hold at least this share of the training rows (when more than min_data_in_leaf)
    min_leaf_share: float = Field(default=0.002, ge=0, lt=1)
    feature_fraction: float = Field(default=0.8, gt=0, le=1)
    bagging_fraction: float = Field(default=0.8, gt=0, le=1)
    bagging_freq: int = Field(default=1, ge=0)
    lambda_l2: float = Field(default=10.0, ge=0)
    max_bin: int = Field(default=255, ge=2)
    max_cat_to_onehot: int = Field(default=8, ge=1)
    cat_smooth: float = Field(default=10.0, ge=0)
    num_boost_round: int = Field(default=2000, ge=1)
    early_stopping_rounds: int = Field(default=50, ge=1)
    # Log loss is O(n) per round; AUC / average precision sort the validation set every
    # round, which costs as much as the boosting itself at a million rows.
    early_stopping_metric: Literal["binary_logloss", "auc", "average_precision"] = "binary_logloss"
    seed: int = 7
    # Boosters averaged into the model (different seeds; ml/ensemble.py). None: 5 when the
    # training rows hold fewer than `bag_below_persons` distinct persons, where one booster's
    # seed shows in the ranking (CDNOW's 2,357 customers: 0.772-0.777 ROC AUC), else 1.
    # Persons, not rows: a person's rows at successive cutoffs are nearly the same example,
    # so twelve monthly cutoffs of 23,570 customers (282,840 rows) are no noisier than one.
    # There one booster validated as well as five (ROC AUC 0.854 / 0.853 purchase_30d,
    # 0.743 / 0.744 churn_90d) in a fifth of the time (BENCHMARKS.md, issue 20).
    bagged_models: int | None = Field(default=None, ge=1)
    bag_below_persons: int = Field(default=10_000, ge=0)
    # None: Settings.threads. OpenMP threads spin while waiting, so on a machine shared
    # with other busy processes 1 thread can be several times faster than 2.
    num_threads: int | None = Field(default=None, ge=1)

    def models_to_bag(self, train_persons: int) -> int:
        if self.bagged_models is not None:
            return self.bagged_models
        return 5 if train_persons < self.bag_below_persons else 1

    def booster_params(self, threads: int, train_rows: int = 0) -> dict:
        params = self.model_dump(
            exclude={
                "num_boost_round",
                "early_stopping_rounds",
                "num_threads",
                "min_leaf_share",
                "bagged_models",
                "bag_below_persons",
            }
        )
        params["min_data_in_leaf"] = max(
            self.min_data_in_leaf, int(self.min_leaf_share * train_rows)
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

    # One model per prediction task of dbt_project.yml (vars prediction_tasks).
    models: tuple[ModelSpec, ...] = Field(default_factory=_default_models)
    # Label window used when a task's horizon is longer than the history can label
    # (dbt var prediction_fallback_days, which also decides the feature cutoffs).
    fallback_days: int = Field(default_factory=_default_fallback_days, gt=0)
    features_schema: str = "features"
    features_table: str = "ml_features"
    labels_table: str = "ml_labels"
    scores_schema: str = "ml"
    scores_table: str = "person_scores"
    lifetime_table: str = "person_lifetime_value"  # BTYD traits per buyer (ml/lifetime.py)
    clusters_table: str = "person_clusters"  # discovered segments (ml/clusters.py)
    # every person of this relation gets a cluster, with or without a feature row
    persons_relation: str | None = "profiles.customer_profiles"
    # k-means tries k from cluster_k_min to cluster_k_max and keeps the best silhouette
    cluster_k_min: int = Field(default=2, ge=2)
    cluster_k_max: int = Field(default=8, ge=2)
    # predicted CLV and expected purchases are also given over this horizon
    clv_horizon_days: int = Field(default=365, gt=0)
    key_columns: tuple[str, ...] = ("person_id", "cutoff_date")
    # Champions are compared on the challenger's validation rows, so the metric's
    # dependence on the base rate does not matter; PR AUC rewards a precise top of the list,
    # which is what a campaign targeting the top deciles uses.
    champion_metric: Literal["pr_auc", "roc_auc"] = "pr_auc"
    champion_min_improvement: float = 0.0
    # paired bootstrap rounds for the confidence intervals of model - baseline (and - champion)
    bootstrap_rounds: int = Field(default=400, ge=0)
    # BG/NBD fitted per cutoff: p_alive, expected purchases and P(purchase) over the task's
    # horizon as features (when ml_features has purchase_days, days_since_first_purchase and
    # recency_days)
    btyd_features: bool = True
    # Training rows come from the most recent training cutoffs, older ones only while the rows
    # stay within max_training_rows (never fewer than min_training_cutoffs). A person's rows
    # at successive monthly cutoffs are nearly the same example: on CDNOW's 23,570 customers
    # the 4 most recent of 11 cutoffs (94,280 rows) validated as well as all of them
    # (ROC AUC 0.8531 / 0.7440 vs 0.8528 / 0.7433) in a third of the time (BENCHMARKS.md,
    # issue 20). None: every training cutoff.
    max_training_rows: int | None = Field(default=100_000, gt=0)
    min_training_cutoffs: int = Field(default=3, ge=1)
    min_positives: int = Field(default=50, ge=1)
    min_negatives: int = Field(default=50, ge=1)
    min_validation_positives: int = Field(default=20, ge=1)
    score_batch_rows: int = Field(default=100_000, gt=0)
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
        if self.cluster_k_max < self.cluster_k_min:
            raise ValueError(
                f"cluster_k_max {self.cluster_k_max} is below cluster_k_min {self.cluster_k_min}"
            )
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

    @property
    def lifetime_relation(self) -> str:
        return f"{self.scores_schema}.{self.lifetime_table}"

    @property
    def clusters_relation(self) -> str:
        return f"{self.scores_schema}.{self.clusters_table}"

    @property
    def task_names(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.models)

    @classmethod
    def load(cls, path: Path | None, dbt_project_dir: Path = DBT_PROJECT_DIR) -> MLConfig:
        """One model per prediction task of `dbt_project_dir`, with the defaults of this
        class or the YAML file at `path` (every key optional; `models` lists per-task
        overrides such as `{task: purchase_30d, baseline: {column: ...}}`)."""
        definitions = task_definitions(dbt_project_dir)
        raw: dict = {}
        if path is not None:
            try:
                raw = load_yaml_file(Path(path))
            except YamlFileError as exc:
                raise MLError(f"ml config {exc}") from None
            if raw is None:  # a file saved empty, or the wrong file: not "use the defaults"
                raise MLError(
                    f"ml config {path} holds no settings (empty, or only comments): write "
                    "the settings to change (ml/ml.example.yml lists them), or leave out "
                    "--config for the defaults"
                )
            if not isinstance(raw, dict):
                raise MLError(f"invalid ml config {path}: expected a mapping of settings")
        if "fallback_days" in raw:
            raise MLError(
                f"invalid ml config {path}: key fallback_days is not an ml setting; the "
                f"fallback label window is dbt var prediction_fallback_days in "
                f"{definitions.source}"
            )
        listed = raw.pop("models", ()) or ()
        if not isinstance(listed, list | tuple):
            raise MLError(
                f"invalid ml config {path}: key models must be a list of per-task overrides "
                f"({{task: NAME, baseline: ...}}), got {listed!r}"
            )
        overrides = []
        for index, item in enumerate(listed):
            try:
                overrides.append(ModelOverride.model_validate(item))
            except ValidationError as exc:
                raise MLError(
                    f"invalid ml config {path}: {_problems(exc, f'models[{index}]')}; models "
                    f"lists per-task overrides ({{task: NAME, baseline: ...}}), the tasks "
                    f"themselves (outcome, horizon, population) are defined once in "
                    f"{definitions.source} (vars prediction_tasks)"
                ) from exc
        models = models_from_tasks(definitions, tuple(overrides))
        try:
            return cls.model_validate(
                {**raw, "models": models, "fallback_days": definitions.fallback_days}
            )
        except ValidationError as exc:
            raise MLError(f"invalid ml config {path}: {_problems(exc, '', cls)}") from exc
        except ValueError as exc:
            raise MLError(f"invalid ml config {path}: {exc}") from exc


def _known_keys(model: type[BaseModel], location: tuple) -> list[str]:
    """The keys allowed where `location` points (nested models followed by field name)."""
    for part in location[:-1]:
        field = model.model_fields.get(part) if isinstance(part, str) else None
        annotation = getattr(field, "annotation", None)
        nested = next(
            (
                t
                for t in (annotation, *getattr(annotation, "__args__", ()))
                if isinstance(t, type) and issubclass(t, BaseModel)
            ),
            None,
        )
        if nested is None:
            return []
        model = nested
    return list(model.model_fields)


def _problems(exc: ValidationError, prefix: str, model: type[BaseModel] | None = None) -> str:
    """A pydantic error as one line per problem, joined: key, what is wrong, the value."""
    problems = []
    for error in exc.errors():
        location = tuple(error["loc"])
        key = ".".join(str(p) for p in ((prefix,) if prefix else ()) + location) or "(top level)"
        if error["type"] == "extra_forbidden":
            known = _known_keys(model, location) if model is not None else []
            close = difflib.get_close_matches(str(location[-1]), known, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            problems.append(f"unknown key {key}{hint}")
        else:
            value = error.get("input")
            shown = "" if isinstance(value, dict) else f" (got {value!r})"
            problems.append(f"key {key}: {error['msg']}{shown}")
    return "; ".join(problems)
