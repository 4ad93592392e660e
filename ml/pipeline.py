"""The three jobs behind `tessera ml train | evaluate | score`, with their sessions.

Each job opens warehouse sessions late and closes them early (DuckDB has one writer per
file): training and evaluation only read; scoring reads features and writes scores.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from ml.baseline import baseline_from_dict
from ml.config import MLConfig
from ml.data import (
    apply_categories,
    labelled_cutoffs,
    load_labelled,
    read_feature_schema,
)
from ml.errors import MLError
from ml.evaluation import compare_with_baseline, write_charts
from ml.metrics import pr_auc, roc_auc
from ml.registry import RegisteredModel, Registry, should_promote, write_json
from ml.scoring import BatchProgress, ScoreOutcome, check_features_available, score_model
from ml.train import IterationProgress, Progress, TrainedModel, predict_frame, train_model
from tessera.settings import Settings
from tessera.warehouse import Warehouse

METRIC_FUNCTIONS = {"pr_auc": pr_auc, "roc_auc": roc_auc}


@dataclass(frozen=True)
class TrainOutcome:
    model: str
    version: str
    path: Path
    promoted: bool
    decision: dict
    evaluation: dict
    manifest: dict


def _champion_on_challenger_rows(
    registry: Registry, trained: TrainedModel, metric: str
) -> tuple[str, float, str] | None:
    """(version, metric value, how it was measured) for the current champion, if any.

    The champion is re-scored on the challenger's validation rows, so both are judged on
    the same people and outcomes. If it cannot be (its features are gone, or it was trained
    on outcomes at or after this validation cutoff) its stored validation metric is used.
    """
    pointer = registry.champion(trained.spec.name)
    if pointer is None:
        return None
    champion = registry.load(trained.spec.name, pointer["version"])
    stored = float(champion.metrics["model"][metric])
    trained_until = date.fromisoformat(champion.manifest["training_cutoff"])
    if trained_until >= trained.split.validation_cutoff:
        return champion.version, stored, "stored metric (champion saw these outcomes)"
    frame = trained.validation.frame
    try:
        check_features_available(
            champion.name,
            champion.version,
            champion.features.schema,
            trained.features.schema,
            "the current feature table",
        )
    except MLError:
        return champion.version, stored, "stored metric (champion's features changed)"
    columns = list(champion.features.schema.features)
    champion_frame = apply_categories(frame[columns], champion.features.categories)
    probability = predict_frame(champion.booster, champion_frame)
    value = METRIC_FUNCTIONS[metric](trained.validation.label, probability)
    return champion.version, float(value), "re-scored on the challenger's validation rows"


def train_and_register(
    settings: Settings,
    config: MLConfig,
    model: str,
    progress: Progress = lambda _msg: None,
    on_iteration: IterationProgress | None = None,
) -> TrainOutcome:
    spec = config.model(model)
    registry = Registry(settings.artifacts_dir)
    with Warehouse(settings).session(read_only=True) as session:
        trained = train_model(session, config, spec, settings.threads, progress, on_iteration)

    metric = config.champion_metric
    challenger_value = float(trained.evaluation["model"][metric])
    current = _champion_on_challenger_rows(registry, trained, metric)
    champion_value = None if current is None else current[1]
    promoted = should_promote(challenger_value, champion_value, config.champion_min_improvement)
    decision = {
        "decided_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "metric": metric,
        "challenger_value": challenger_value,
        "champion_version": None if current is None else current[0],
        "champion_value": champion_value,
        "champion_measured_by": None if current is None else current[2],
        "min_improvement": config.champion_min_improvement,
        "promoted": promoted,
    }
    trained.evaluation["champion_decision"] = decision
    version, path = registry.save(
        model, trained.booster, trained.features, trained.manifest, trained.evaluation
    )
    decision["challenger_version"] = version
    if config.write_charts:
        write_charts(trained.evaluation, path)
    if promoted:
        registry.set_champion(
            model,
            {
                "version": version,
                "metric": metric,
                "value": challenger_value,
                "validation_cutoff": trained.manifest["validation_cutoff"],
                "promoted_at": decision["decided_at"],
                "replaced": decision["champion_version"],
            },
        )
    registry.record_decision(model, decision)
    return TrainOutcome(
        model, version, path, promoted, decision, trained.evaluation, trained.manifest
    )


@dataclass(frozen=True)
class EvaluateOutcome:
    model: str
    version: str
    cutoff: date
    path: Path
    evaluation: dict


def evaluate_registered(
    settings: Settings,
    config: MLConfig,
    model: str,
    version: str | None = None,
    cutoff: date | None = None,
) -> EvaluateOutcome:
    """Re-evaluate a registered model (champion by default) on a labelled cutoff.

    Defaults to the latest labelled cutoff: as new outcome windows complete, this shows
    how the champion holds up on people it has never seen, next to the baseline.
    """
    spec = config.model(model)
    registered: RegisteredModel = Registry(settings.artifacts_dir).load(model, version)
    with Warehouse(settings).session(read_only=True) as session:
        current = read_feature_schema(session, config)
        check_features_available(
            model, registered.version, registered.features.schema, current, config.features_relation
        )
        available = [s.cutoff for s in labelled_cutoffs(session, config, spec)]
        if not available:
            raise MLError(f"no labelled cutoffs for {model} in {config.labels_relation}")
        chosen = cutoff or available[-1]
        if chosen not in available:
            raise MLError(
                f"cutoff {chosen} has no {spec.label} labels; labelled cutoffs: "
                f"{', '.join(map(str, available))}"
            )
        data = load_labelled(session, config, registered.features.schema, spec, [chosen])
    frame = apply_categories(data.frame, registered.features.categories)
    probability = predict_frame(registered.booster, frame)
    baseline = baseline_from_dict(registered.metrics["baseline_calibration"])
    evaluation = compare_with_baseline(model, chosen, data.label, probability, baseline, frame)
    trained_until = date.fromisoformat(registered.manifest["training_cutoff"])
    evaluation["in_sample"] = chosen <= trained_until
    evaluation["model_version"] = registered.version
    out = registered.path / "evaluations" / chosen.isoformat()
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "metrics.json", evaluation)
    if config.write_charts:
        write_charts(evaluation, out)
    return EvaluateOutcome(model, registered.version, chosen, out, evaluation)


def score_registered(
    settings: Settings,
    config: MLConfig,
    model: str,
    version: str | None = None,
    on_batch: BatchProgress | None = None,
) -> ScoreOutcome:
    registered = Registry(settings.artifacts_dir).load(model, version)
    warehouse = Warehouse(settings)
    with warehouse.session() as reader, warehouse.session() as writer:
        return score_model(reader, writer, config, registered, on_batch)
