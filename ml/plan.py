"""The training plan of one task: which label, which cutoffs, and what the history allows.

A task's own label (its horizon) is used when the data has a validation cutoff with a
complete window and at least one training cutoff a whole horizon before it, with enough
positives. Otherwise, for purchase and churn, the model learns the same outcome over the
fallback window (dbt var prediction_fallback_days, 30 days by default), which the history
can label at many cutoffs, with BG/NBD features projected over the task's horizon, and its
probabilities are mapped to the task's horizon (ml/horizon.py). The plan says which, why,
and how much history there is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from ml.config import MLConfig, ModelSpec
from ml.data import CutoffStats, LabelSpec, _as_date, labelled_cutoffs
from ml.errors import MLError, NotEnoughDataError
from ml.split import TimeSplit, time_split, within_row_budget
from tessera.warehouse import Session

CUTOFFS_TABLE = "int_feature_cutoffs"


@dataclass(frozen=True)
class History:
    """How much history the features have: first record to the scoring cutoff."""

    first_record: date | None
    scoring_cutoff: date | None
    cutoffs_without_history: tuple[date, ...] = ()

    @property
    def days(self) -> int | None:
        if self.first_record is None or self.scoring_cutoff is None:
            return None
        return (self.scoring_cutoff - self.first_record).days

    def describe(self) -> str:
        if self.days is None:
            return "history: unknown (no features.int_feature_cutoffs)"
        text = (
            f"history: {self.first_record} to {self.scoring_cutoff} ({self.days} days, "
            f"{self.days / 30.44:.1f} months)"
        )
        if self.cutoffs_without_history:
            text += "; cutoffs before the first record have no rows and are ignored: " + ", ".join(
                map(str, self.cutoffs_without_history)
            )
        return text


@dataclass(frozen=True)
class TrainingPlan:
    spec: ModelSpec
    label: LabelSpec
    split: TimeSplit
    stats: tuple[CutoffStats, ...]
    history: History
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def horizon_mapped(self) -> bool:
        """True when the model learns a shorter window and is mapped to the task's horizon."""
        return self.label.horizon_days != self.spec.horizon_days

    def describe(self) -> list[str]:
        split = self.split
        purged = ", ".join(map(str, split.purged_cutoffs))
        lines = [
            self.history.describe(),
            f"label: {self.label.horizon_days}-day window"
            + ("" if not self.horizon_mapped else f" (task horizon {self.spec.horizon_days} days)"),
            f"train on {', '.join(map(str, split.train_cutoffs))}; validate on "
            f"{split.validation_cutoff}"
            + (f"; purged (outcome window overlaps validation): {purged}" if purged else ""),
            *(
                [
                    f"older cutoffs not used (the training rows are kept within "
                    f"max_training_rows): {', '.join(map(str, split.unused_cutoffs))}"
                ]
                if split.unused_cutoffs
                else []
            ),
            *self.notes,
        ]
        return lines


def read_history(session: Session, config: MLConfig) -> History:
    schema = config.features_schema
    if session.table_exists(schema, CUTOFFS_TABLE):
        frame = session.df(
            f"select cutoff_date, is_scoring_cutoff, has_history, first_record_date "
            f"from {schema}.{CUTOFFS_TABLE} order by cutoff_date"
        )
        if len(frame):
            first = frame["first_record_date"].dropna()
            scoring = frame.loc[frame["is_scoring_cutoff"].astype(bool), "cutoff_date"]
            return History(
                first_record=_as_date(first.iloc[0]) if len(first) else None,
                scoring_cutoff=_as_date(scoring.iloc[-1]) if len(scoring) else None,
                cutoffs_without_history=tuple(
                    _as_date(c)
                    for c, ok in zip(frame["cutoff_date"], frame["has_history"], strict=True)
                    if not ok
                ),
            )
    return History(None, None)


def check_counts(config: MLConfig, spec: ModelSpec, split: TimeSplit, stats: list) -> None:
    """Enough positives and negatives to learn and to judge, from the per-cutoff counts."""
    by_cutoff = {s.cutoff: s for s in stats}
    train_rows = sum(by_cutoff[c].rows for c in split.train_cutoffs)
    train_pos = sum(by_cutoff[c].positives for c in split.train_cutoffs)
    where = f"training cutoffs {', '.join(map(str, split.train_cutoffs))}"
    if train_pos < config.min_positives:
        raise NotEnoughDataError(
            f"too few positives to train {spec.name}: {train_pos} positive labels in {where} "
            f"({train_rows:,} rows); need at least {config.min_positives} (config "
            "min_positives). More persons or a longer history would do."
        )
    if train_rows - train_pos < config.min_negatives:
        raise NotEnoughDataError(
            f"too few negatives to train {spec.name}: {train_rows - train_pos} in {where}; "
            f"need at least {config.min_negatives} (config min_negatives)"
        )
    valid = by_cutoff[split.validation_cutoff]
    if valid.positives < config.min_validation_positives or valid.positives == valid.rows:
        raise NotEnoughDataError(
            f"validation cutoff {split.validation_cutoff} has {valid.positives} positive and "
            f"{valid.rows - valid.positives} negative labels; need at least "
            f"{config.min_validation_positives} positives (config min_validation_positives) "
            f"and one negative to judge {spec.name}"
        )


def _attempt(
    session: Session, config: MLConfig, spec: ModelSpec, label: LabelSpec
) -> tuple[TimeSplit, list[CutoffStats]]:
    stats = labelled_cutoffs(session, config, spec, label)
    split = time_split(stats, label.horizon_days, spec.name)
    check_counts(config, spec, split, stats)
    within = within_row_budget(split, stats, config.max_training_rows, config.min_training_cutoffs)
    try:
        check_counts(config, spec, within, stats)
    except NotEnoughDataError:
        return split, stats  # the budget left too few labels: train on every cutoff
    return within, stats


def plan_training(session: Session, config: MLConfig, spec: ModelSpec) -> TrainingPlan:
    history = read_history(session, config)
    if spec.outcome == "spend":
        raise MLError(
            f"{spec.name}: spend tasks are predicted by BG/NBD x Gamma-Gamma "
            "(`tessera ml score` writes predicted spend to ml.person_lifetime_value); "
            "LightGBM trains purchase and churn tasks"
        )
    check_task_table(session, config, spec)
    own = LabelSpec.of_task(spec)
    try:
        split, stats = _attempt(session, config, spec, own)
        return TrainingPlan(spec, own, split, tuple(stats), history)
    except NotEnoughDataError as exc:
        reason = str(exc)
    fallback_days = config.fallback_days
    if fallback_days >= spec.horizon_days:
        raise NotEnoughDataError(f"{reason}\n  {history.describe()}")
    window = LabelSpec.window(spec, fallback_days)
    try:
        split, stats = _attempt(session, config, spec, window)
    except NotEnoughDataError as exc:
        raise NotEnoughDataError(
            f"{reason}\n  nor with the {fallback_days}-day fallback window: {exc}\n  "
            f"{history.describe()}"
        ) from exc
    except MLError as exc:
        raise MLError(
            f"{reason}\n  nor with the {fallback_days}-day fallback window: {exc}\n  "
            f"{history.describe()}"
        ) from exc
    note = (
        f"how: the {spec.horizon_days}-day label cannot be used ({reason.splitlines()[0]}); "
        f"the model learns the {spec.outcome} outcome over {fallback_days}-day windows at "
        f"{len(split.used_cutoffs)} cutoffs, with BG/NBD features projected over "
        f"{spec.horizon_days} days, and its probabilities are mapped to {spec.horizon_days} "
        "days with BG/NBD (see ml/README.md)"
    )
    return TrainingPlan(spec, window, split, tuple(stats), history, (note,))


TASKS_TABLE = "ml_prediction_tasks"


def check_task_table(session: Session, config: MLConfig, spec: ModelSpec) -> None:
    """The labels must have been built from the same task definition the model uses."""
    schema = config.features_schema
    if not session.table_exists(schema, TASKS_TABLE):
        return  # feature tables written by other means (tests, benchmarks): labels as they are
    rows = session.df(
        f"select task_name, outcome, horizon_days, population from {schema}.{TASKS_TABLE}"
    )
    built = {r.task_name: r for r in rows.itertuples(index=False)}
    row = built.get(spec.name)
    if row is None:
        raise MLError(
            f"task {spec.name} is defined in dbt_project.yml but the labels were built for "
            f"{', '.join(sorted(built)) or 'no task'}: rebuild them "
            "(`tessera build --select features`)"
        )
    built_as = (row.outcome, int(row.horizon_days), row.population)
    wanted = (spec.outcome, spec.horizon_days, spec.population)
    if built_as != wanted:
        raise MLError(
            f"task {spec.name} is {wanted[0]} over {wanted[1]} days for population "
            f"{wanted[2]} in dbt_project.yml, but its labels were built as {built_as[0]} over "
            f"{built_as[1]} days for {built_as[2]} (different dbt vars?): rebuild them "
            "(`tessera build --select features`) with the same prediction_tasks"
        )
