"""Train one propensity model: time split, LightGBM with early stopping, honest evaluation."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import lightgbm as lgb
import numpy as np
import pandas as pd
import pyarrow.compute as pc

from ml import btyd_features, ensemble, horizon
from ml.baseline import Baseline
from ml.btyd_features import BTYDCache
from ml.config import MLConfig, ModelSpec
from ml.data import (
    CutoffStats,
    LabelledData,
    apply_categories,
    fit_categories,
    read_feature_schema,
    require_rows,
)
from ml.errors import MLError
from ml.evaluation import Reference, compare_with_baseline
from ml.plan import plan_training
from ml.registry import FeatureInfo, git_revision
from ml.split import TimeSplit, load_split
from tessera.warehouse import Session

Progress = Callable[[str], None]
IterationProgress = Callable[[int, int], None]


@dataclass
class TrainedModel:
    spec: ModelSpec
    booster: lgb.Booster
    features: FeatureInfo
    split: TimeSplit
    manifest: dict
    evaluation: dict
    validation: LabelledData  # kept so a champion can be re-scored on the same rows
    seconds: dict[str, float] = field(default_factory=dict)


def _iteration_callback(total: int, on_iteration: IterationProgress) -> Callable:
    def callback(env: lgb.callback.CallbackEnv) -> None:
        on_iteration(env.iteration + 1, total)

    return callback


def train_model(
    session: Session,
    config: MLConfig,
    spec: ModelSpec,
    threads: int,
    progress: Progress = lambda _msg: None,
    on_iteration: IterationProgress | None = None,
    cache: BTYDCache | None = None,
) -> TrainedModel:
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    schema = read_feature_schema(session, config)
    require_rows(session, config)
    plan = plan_training(session, config, spec)
    for line in plan.describe():
        progress(f"{spec.name}: {line}")
    split = plan.split
    train, valid = load_split(session, config, schema, spec, split, plan.label)
    fits = {}
    if config.btyd_features and btyd_features.has_inputs(schema.features):
        fits = btyd_features.fit_cutoffs(
            session, config.features_relation, split.used_cutoffs, cache
        )
        schema = schema.with_derived(btyd_features.FEATURES)
        for data in (train, valid):
            add_btyd(data, fits, spec.horizon_days)
    seconds["load"] = time.perf_counter() - started
    if len(train) == 0:
        raise MLError(f"empty training set for {spec.name} on {split.train_cutoffs}")
    progress(
        f"{spec.name}: {len(train):,} training rows ({int(train.label.sum()):,} positive), "
        f"{len(valid):,} validation rows ({int(valid.label.sum()):,} positive), "
        f"{len(schema.features)} features ({len(schema.categorical)} categorical"
        + (f", {len(schema.derived)} from BG/NBD" if schema.derived else "")
        + ")"
    )

    categories = fit_categories(train.frame, schema)
    train.frame = apply_categories(train.frame, categories)
    valid.frame = apply_categories(valid.frame, categories)
    medians = {
        name: float(np.nanmedian(train.frame[name])) if train.frame[name].notna().any() else None
        for name in schema.numeric
    }
    baseline = Baseline.fit(spec.baseline_spec, train.frame, train.label)

    params = config.lightgbm.booster_params(threads, len(train))
    fit_started = time.perf_counter()
    dtrain = lgb.Dataset(train.frame, label=train.label, categorical_feature="auto")
    dvalid = lgb.Dataset(valid.frame, label=valid.label, reference=dtrain)
    persons = len(pc.unique(train.person_id))
    bagged = config.lightgbm.models_to_bag(persons)
    boosters, iterations = [], []
    for member in range(bagged):
        callbacks = [lgb.early_stopping(config.lightgbm.early_stopping_rounds, verbose=False)]
        if on_iteration is not None:
            callbacks.append(_iteration_callback(config.lightgbm.num_boost_round, on_iteration))
        member_booster = lgb.train(
            {**params, "seed": params["seed"] + member},
            dtrain,
            num_boost_round=config.lightgbm.num_boost_round,
            valid_sets=[dvalid],
            valid_names=["validation"],
            callbacks=callbacks,
        )
        boosters.append(member_booster)
        iterations.append(int(member_booster.best_iteration or member_booster.current_iteration()))
    booster = ensemble.merge(boosters)
    if bagged > 1:
        progress(
            f"{spec.name}: {bagged} boosters (seeds {params['seed']}..."
            f"{params['seed'] + bagged - 1}) averaged: {persons:,} persons in training is "
            "few enough for one seed's luck to show"
        )
    seconds["fit"] = time.perf_counter() - fit_started

    probability = predict_frame(booster, valid.frame)
    reference = btyd_reference(spec, plan.label.horizon_days, fits, split, valid)
    evaluation = compare_with_baseline(
        spec.name,
        split.validation_cutoff,
        valid.label,
        probability,
        baseline,
        valid.frame,
        reference=reference,
        bootstrap_rounds=config.bootstrap_rounds,
        metric=config.champion_metric,
    )
    evaluation["feature_importance_gain"] = _importance(booster)
    evaluation["label_horizon_days"] = plan.label.horizon_days
    evaluation["task_horizon_days"] = spec.horizon_days
    mapping = None
    if plan.horizon_mapped:
        target = None
        fit = fits.get(split.validation_cutoff)
        if fit is not None and fit.purchases is not None:
            target = valid.frame["btyd_purchase_probability"].to_numpy(dtype=np.float64)
        mapping = horizon.fit_mapping(
            spec.outcome, plan.label.horizon_days, spec.horizon_days, probability, target
        )
        progress(f"{spec.name}: {horizon.describe(mapping)}")
    evaluation["horizon_mapping"] = mapping
    seconds["total"] = time.perf_counter() - started
    manifest = {
        "task": {
            "name": spec.name,
            "outcome": spec.outcome,
            "horizon_days": spec.horizon_days,
            "population": spec.population,
        },
        "label": plan.label.name,
        "label_horizon_days": plan.label.horizon_days,
        "horizon_days": spec.horizon_days,
        "plan": plan.describe(),
        "history": {
            "first_record": plan.history.first_record,
            "scoring_cutoff": plan.history.scoring_cutoff,
            "days": plan.history.days,
        },
        "description": spec.description,
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "training_cutoffs": [c.isoformat() for c in split.train_cutoffs],
        "training_cutoff": split.train_cutoffs[-1].isoformat(),
        "validation_cutoff": split.validation_cutoff.isoformat(),
        "purged_cutoffs": [c.isoformat() for c in split.purged_cutoffs],
        "unused_cutoffs": [c.isoformat() for c in split.unused_cutoffs],
        "rows": {
            "train": len(train),
            "train_positives": int(train.label.sum()),
            "validation": len(valid),
            "validation_positives": int(valid.label.sum()),
            "labelled_per_cutoff": {s.cutoff.isoformat(): _stat(s) for s in plan.stats},
        },
        "btyd_fits": [fit.to_dict() for fit in fits.values()],
        "horizon_mapping": mapping,
        "best_iteration": int(sum(iterations)),
        "bagged_models": bagged,
        "best_iteration_per_model": iterations,
        "champion_metric": config.champion_metric,
        "lightgbm_version": lgb.__version__,
        "lightgbm_params": params,
        "git_sha": git_revision(),
        "seconds": seconds,
    }
    return TrainedModel(
        spec=spec,
        booster=booster,
        features=FeatureInfo(
            schema,
            categories,
            medians,
            btyd_horizon_days=spec.horizon_days if schema.derived else None,
            horizon_mapping=mapping,
        ),
        split=split,
        manifest=manifest,
        evaluation=evaluation,
        validation=valid,
        seconds=seconds,
    )


def add_btyd(data: LabelledData, fits: dict, horizon_days: int) -> None:
    """Fill the BTYD feature columns of loaded rows, each with its own cutoff's fit."""
    columns = {
        name: data.frame[name].to_numpy(dtype=np.float64, na_value=np.nan)
        for name in btyd_features.INPUT_COLUMNS
    }
    values = btyd_features.add_features(columns, data.cutoff, fits, horizon_days)
    for name, column in values.items():
        data.frame[name] = column


def btyd_reference(
    spec: ModelSpec, label_days: int, fits: dict, split: TimeSplit, valid: LabelledData
) -> Reference | None:
    """BG/NBD's own ranking of the validation rows over the label window: the classic
    model the LightGBM must also beat (expected purchases; fewer = likelier churn)."""
    fit = fits.get(split.validation_cutoff)
    if fit is None or fit.purchases is None:
        return None
    columns = [
        valid.frame[name].to_numpy(dtype=np.float64, na_value=np.nan)
        for name in btyd_features.INPUT_COLUMNS
    ]
    values = btyd_features.feature_columns(fit, *columns, label_days)
    expected = values["btyd_expected_purchases"]
    probability = values["btyd_purchase_probability"]
    fallback = float(np.mean(valid.label))
    if spec.outcome == "churn":
        rank, probability = -expected, 1.0 - probability
    else:
        rank = expected
    rank = np.where(np.isnan(rank), -np.inf, rank)
    probability = np.where(np.isnan(probability), fallback, probability)
    return Reference(
        f"BG/NBD expected purchases over {label_days} days"
        + (" (fewer = likelier churn)" if spec.outcome == "churn" else ""),
        rank,
        probability,
    )


def _stat(stats: CutoffStats) -> dict:
    return {"rows": stats.rows, "positives": stats.positives}


def _importance(booster: lgb.Booster) -> dict[str, float]:
    gains = booster.feature_importance(importance_type="gain")
    ranked = sorted(zip(booster.feature_name(), gains, strict=True), key=lambda kv: -kv[1])
    return {name: round(float(gain), 3) for name, gain in ranked}


def predict_frame(booster: lgb.Booster, frame: pd.DataFrame) -> np.ndarray:
    return booster.predict(frame, num_iteration=booster.best_iteration or None)
