"""The three jobs behind `tessera ml train | evaluate | score`, with their sessions.

Each job opens warehouse sessions late and closes them early (DuckDB has one writer per
file): training and evaluation only read; scoring reads features and writes scores.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from ml.baseline import baseline_from_dict
from ml.bootstrap import paired_difference
from ml.btyd_features import BTYDCache, fit_cutoffs
from ml.clusters import ClusterOutcome, discover_and_publish
from ml.config import MLConfig
from ml.data import (
    LabelSpec,
    apply_categories,
    labelled_cutoffs,
    load_labelled,
    read_feature_schema,
)
from ml.errors import MLError
from ml.evaluation import compare_with_baseline, write_charts
from ml.lifetime import LifetimeOutcome, publish_lifetime_values
from ml.metrics import pr_auc, roc_auc
from ml.registry import RegisteredModel, Registry, should_promote
from ml.registry_files import write_json
from ml.scoring import BatchProgress, ScoreOutcome, check_features_available, score_model
from ml.train import (
    IterationProgress,
    Progress,
    TrainedModel,
    add_btyd,
    predict_frame,
    train_model,
)
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


@dataclass(frozen=True)
class ChampionComparison:
    version: str
    value: float
    measured_by: str
    interval: dict | None = None  # challenger - champion, paired bootstrap
    can_score: bool = True  # False: the champion's features are gone from the tables
    # why the champion cannot score when can_score is False (None: its features are gone)
    unusable: str | None = None


def _champion_on_challenger_rows(
    registry: Registry, trained: TrainedModel, metric: str, rounds: int
) -> ChampionComparison | None:
    """The current champion judged on the challenger's validation rows, if any.

    The champion is re-scored on the challenger's validation rows, so both are judged on
    the same people and outcomes, with a paired bootstrap interval of the difference. If it
    cannot be (its features are gone, or it was trained on outcomes at or after this
    validation cutoff) its stored validation metric is used and the decision says so.
    """
    try:
        pointer = registry.champion(trained.spec.name)
        if pointer is None:
            return None
        champion = registry.load(trained.spec.name, pointer["version"])
        stored = float(champion.metrics["model"][metric])
    except (MLError, KeyError, TypeError, ValueError) as exc:
        # a champion that cannot be read cannot score either: the challenger replaces it,
        # or the task could never get a working champion again without hand repairs
        detail = str(exc) if isinstance(exc, MLError) else f"its metrics.json lacks {metric}"
        version = registry.champion_version_or_none(trained.spec.name)
        return ChampionComparison(
            version or "unreadable",
            float("nan"),
            "nothing: the champion cannot be loaded",
            can_score=False,
            unusable=f"the champion cannot be loaded ({detail})",
        )
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
        return ChampionComparison(
            champion.version, stored, "stored metric (champion's features changed)",
            can_score=False,
        )  # fmt: skip
    trained_until = date.fromisoformat(champion.manifest["training_cutoff"])
    if trained_until >= trained.split.validation_cutoff:
        return ChampionComparison(
            champion.version, stored, "stored metric (champion saw these outcomes)"
        )
    columns = list(champion.features.schema.features)
    champion_frame = apply_categories(frame[columns], champion.features.categories)
    probability = predict_frame(champion.booster, champion_frame)
    value = METRIC_FUNCTIONS[metric](trained.validation.label, probability)
    challenger = predict_frame(trained.booster, frame)
    interval = (
        paired_difference(
            trained.validation.label, challenger, probability, metric, rounds=rounds, seed=23
        ).to_dict()
        if rounds
        else None
    )
    return ChampionComparison(
        champion.version, float(value), "re-scored on the challenger's validation rows", interval
    )


def decide_promotion(
    challenger_value: float,
    beats_baseline: bool,
    current: ChampionComparison | None,
    min_improvement: float,
) -> tuple[bool, str]:
    """(promote?, why). The first model of a task becomes champion (flagged when it does not
    beat its baseline); after that a challenger must beat its baseline and the champion
    (the lower end of the bootstrap interval of the difference above the margin)."""
    if current is None:
        return True, "first model of this task"
    if not current.can_score and current.unusable:
        return True, f"{current.unusable}: replaced"
    if not current.can_score:
        return True, (
            "the champion's features are gone from the feature table, so it can no longer "
            "score: replaced"
        )
    if not beats_baseline:
        return False, "does not beat its baseline"
    if current.interval is not None:
        if current.interval["low"] > min_improvement:
            return True, "beats the champion (bootstrap interval above the margin)"
        return False, (
            "not better than the champion by the margin with confidence "
            f"(difference {current.interval['difference']:+.4f}, interval "
            f"{current.interval['low']:+.4f} to {current.interval['high']:+.4f})"
        )
    if should_promote(challenger_value, current.value, min_improvement):
        return True, f"beats the champion's {current.measured_by}"
    return False, f"not better than the champion's {current.measured_by}"


def train_and_register(
    settings: Settings,
    config: MLConfig,
    model: str,
    progress: Progress = lambda _msg: None,
    on_iteration: IterationProgress | None = None,
    cache: BTYDCache | None = None,
) -> TrainOutcome:
    spec = config.model(model)
    registry = Registry(settings.artifacts_dir)
    with Warehouse(settings).session(read_only=True) as session:
        trained = train_model(
            session, config, spec, settings.threads, progress, on_iteration, cache
        )

    metric = config.champion_metric
    challenger_value = float(trained.evaluation["model"][metric])
    beats_baseline = bool(trained.evaluation["beats_baseline"])
    current = _champion_on_challenger_rows(registry, trained, metric, config.bootstrap_rounds)
    promoted, why = decide_promotion(
        challenger_value, beats_baseline, current, config.champion_min_improvement
    )
    decision = {
        "decided_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "metric": metric,
        "challenger_value": challenger_value,
        "beats_baseline": beats_baseline,
        "baseline_interval": trained.evaluation.get("intervals", {})
        .get("model_vs_baseline", {})
        .get(metric),
        "champion_version": None if current is None else current.version,
        "champion_value": None if current is None or current.unusable else current.value,
        "champion_measured_by": None if current is None else current.measured_by,
        "champion_interval": None if current is None else current.interval,
        "min_improvement": config.champion_min_improvement,
        "promoted": promoted,
        "reason": why,
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
                "beats_baseline": beats_baseline,
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
        label_days = int(registered.manifest.get("label_horizon_days", spec.horizon_days))
        label = (
            LabelSpec.of_task(spec)
            if label_days == spec.horizon_days
            else LabelSpec.window(spec, label_days)
        )
        available = [s.cutoff for s in labelled_cutoffs(session, config, spec, label)]
        if not available:
            raise MLError(
                f"no cutoff has a complete {label_days}-day window for {model} in "
                f"{config.labels_relation}"
            )
        chosen = cutoff or available[-1]
        if chosen not in available:
            raise MLError(
                f"cutoff {chosen} has no {label_days}-day {spec.name} labels; labelled "
                f"cutoffs: {', '.join(map(str, available))}"
            )
        data = load_labelled(session, config, registered.features.schema, spec, [chosen], label)
        if registered.features.schema.derived:
            fits = fit_cutoffs(session, config.features_relation, [chosen])
            add_btyd(data, fits, registered.features.btyd_horizon_days or spec.horizon_days)
    frame = apply_categories(data.frame, registered.features.categories)
    probability = predict_frame(registered.booster, frame)
    baseline = baseline_from_dict(registered.metrics["baseline_calibration"])
    evaluation = compare_with_baseline(
        model,
        chosen,
        data.label,
        probability,
        baseline,
        frame,
        bootstrap_rounds=config.bootstrap_rounds,
        metric=config.champion_metric,
    )
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
    cache: BTYDCache | None = None,
) -> ScoreOutcome:
    registered = Registry(settings.artifacts_dir).load(model, version)
    warehouse = Warehouse(settings)
    with warehouse.session() as reader, warehouse.session() as writer:
        return score_model(reader, writer, config, registered, on_batch, cache=cache)


def publish_lifetime(
    settings: Settings, config: MLConfig, cache: BTYDCache | None = None
) -> LifetimeOutcome:
    """BG/NBD + Gamma-Gamma traits of every buyer at the scoring cutoff."""
    warehouse = Warehouse(settings)
    with warehouse.session() as reader, warehouse.session() as writer:
        return publish_lifetime_values(reader, writer, config, cache=cache)


def cluster_and_publish(
    settings: Settings,
    config: MLConfig,
    k: int | None = None,
    progress: Progress = lambda _msg: None,
) -> ClusterOutcome:
    """k-means segments of every person at the scoring cutoff -> ml.person_clusters."""
    chart_dir = settings.artifacts_dir / "clusters"
    chart_dir.mkdir(parents=True, exist_ok=True)
    warehouse = Warehouse(settings)
    with warehouse.session() as reader, warehouse.session() as writer:
        return discover_and_publish(reader, writer, config, chart_dir, k=k, progress=progress)
