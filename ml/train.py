"""Train one propensity model: time split, LightGBM with early stopping, honest evaluation."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import lightgbm as lgb
import numpy as np
import pandas as pd

from ml.baseline import Baseline
from ml.config import MLConfig, ModelSpec
from ml.data import (
    CutoffStats,
    LabelledData,
    apply_categories,
    fit_categories,
    labelled_cutoffs,
    read_feature_schema,
    require_rows,
)
from ml.errors import MLError
from ml.evaluation import compare_with_baseline
from ml.registry import FeatureInfo, git_revision
from ml.split import TimeSplit, load_split, time_split
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


def check_class_balance(
    config: MLConfig, spec: ModelSpec, split: TimeSplit, train: LabelledData, valid: LabelledData
) -> None:
    train_pos = int(train.label.sum())
    train_neg = len(train) - train_pos
    where = f"training cutoffs {', '.join(map(str, split.train_cutoffs))}"
    if len(train) == 0:
        raise MLError(
            f"empty training set for {spec.name}: no labelled rows in {where}. "
            "Is features.ml_features populated for those cutoffs?"
        )
    if train_pos < config.min_positives:
        raise MLError(
            f"too few positives to train {spec.name}: {train_pos} positive {spec.label} "
            f"labels in {where} ({len(train):,} rows); need at least {config.min_positives} "
            "(config min_positives). Generate more persons or add older cutoffs."
        )
    if train_neg < config.min_negatives:
        raise MLError(
            f"too few negatives to train {spec.name}: {train_neg} in {where}; need at least "
            f"{config.min_negatives} (config min_negatives)"
        )
    valid_pos = int(valid.label.sum())
    if valid_pos < config.min_validation_positives or valid_pos == len(valid):
        raise MLError(
            f"validation cutoff {split.validation_cutoff} has {valid_pos} positive and "
            f"{len(valid) - valid_pos} negative {spec.label} labels; need at least "
            f"{config.min_validation_positives} positives and one negative to judge {spec.name}"
        )


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
) -> TrainedModel:
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    schema = read_feature_schema(session, config)
    require_rows(session, config)
    stats = labelled_cutoffs(session, config, spec)
    split = time_split(stats, spec.horizon_days, spec.name)
    purged = ", ".join(map(str, split.purged_cutoffs))
    progress(
        f"{spec.name}: train on {', '.join(map(str, split.train_cutoffs))}; "
        f"validate on {split.validation_cutoff}"
        + (f"; purged (outcome window overlaps validation): {purged}" if purged else "")
    )
    train, valid = load_split(session, config, schema, spec, split)
    seconds["load"] = time.perf_counter() - started
    check_class_balance(config, spec, split, train, valid)
    progress(
        f"{spec.name}: {len(train):,} training rows ({int(train.label.sum()):,} positive), "
        f"{len(valid):,} validation rows ({int(valid.label.sum()):,} positive), "
        f"{len(schema.features)} features ({len(schema.categorical)} categorical)"
    )

    categories = fit_categories(train.frame, schema)
    train.frame = apply_categories(train.frame, categories)
    valid.frame = apply_categories(valid.frame, categories)
    medians = {
        name: float(np.nanmedian(train.frame[name])) if train.frame[name].notna().any() else None
        for name in schema.numeric
    }
    baseline = Baseline.fit(spec.baseline, train.frame, train.label)

    params = config.lightgbm.booster_params(threads)
    fit_started = time.perf_counter()
    dtrain = lgb.Dataset(train.frame, label=train.label, categorical_feature="auto")
    dvalid = lgb.Dataset(valid.frame, label=valid.label, reference=dtrain)
    callbacks = [
        lgb.early_stopping(config.lightgbm.early_stopping_rounds, verbose=False),
    ]
    if on_iteration is not None:
        callbacks.append(_iteration_callback(config.lightgbm.num_boost_round, on_iteration))
    booster = lgb.train(
        params,
        dtrain,
        num_boost_round=config.lightgbm.num_boost_round,
        valid_sets=[dvalid],
        valid_names=["validation"],
        callbacks=callbacks,
    )
    seconds["fit"] = time.perf_counter() - fit_started

    probability = booster.predict(valid.frame, num_iteration=booster.best_iteration)
    evaluation = compare_with_baseline(
        spec.name, split.validation_cutoff, valid.label, probability, baseline, valid.frame
    )
    evaluation["feature_importance_gain"] = _importance(booster)
    seconds["total"] = time.perf_counter() - started
    manifest = {
        "label": spec.label,
        "horizon_days": spec.horizon_days,
        "description": spec.description,
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "training_cutoffs": [c.isoformat() for c in split.train_cutoffs],
        "training_cutoff": split.train_cutoffs[-1].isoformat(),
        "validation_cutoff": split.validation_cutoff.isoformat(),
        "purged_cutoffs": [c.isoformat() for c in split.purged_cutoffs],
        "rows": {
            "train": len(train),
            "train_positives": int(train.label.sum()),
            "validation": len(valid),
            "validation_positives": int(valid.label.sum()),
            "labelled_per_cutoff": {s.cutoff.isoformat(): _stat(s) for s in stats},
        },
        "best_iteration": int(booster.best_iteration or booster.current_iteration()),
        "champion_metric": config.champion_metric,
        "lightgbm_version": lgb.__version__,
        "lightgbm_params": params,
        "git_sha": git_revision(),
        "seconds": seconds,
    }
    return TrainedModel(
        spec=spec,
        booster=booster,
        features=FeatureInfo(schema, categories, medians),
        split=split,
        manifest=manifest,
        evaluation=evaluation,
        validation=valid,
        seconds=seconds,
    )


def _stat(stats: CutoffStats) -> dict:
    return {"rows": stats.rows, "positives": stats.positives}


def _importance(booster: lgb.Booster) -> dict[str, float]:
    gains = booster.feature_importance(importance_type="gain")
    ranked = sorted(zip(booster.feature_name(), gains, strict=True), key=lambda kv: -kv[1])
    return {name: round(float(gain), 3) for name, gain in ranked}


def predict_frame(booster: lgb.Booster, frame: pd.DataFrame) -> np.ndarray:
    return booster.predict(frame, num_iteration=booster.best_iteration or None)
