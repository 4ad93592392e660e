"""ML assets: one training asset per prediction task, the scores table they feed, the BTYD
traits per buyer and the discovered segments.

Training reads the feature tables and writes a model version to the registry (the champion
pointer moves only when the challenger earns it); its materialization shows the validation
metrics beside the baseline and BG/NBD with bootstrap intervals, the lift and reliability
charts (reliability bins with their row counts), and the champion / "does not beat its
baseline" flags, with an asset check that fails (warning) when the model does not beat its
baseline. Scoring writes `ml.person_scores` with each champion. Problems of configuration
or data (MLError) fail the step once, with the cause as the message; only the warehouse's
transient errors are retried.
"""

import base64
from pathlib import Path

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)

from ml.config import MLConfig
from ml.errors import MLError
from orchestration.config import WAREHOUSE_POOL
from orchestration.dbt_assets import WAREHOUSE_RETRY
from orchestration.jobs import TRAINING_GROUP
from orchestration.resources import WarehouseResource
from tessera.settings import DBT_PROJECT_DIR

FEATURES = AssetKey(["features", "ml_features"])
LABELS = AssetKey(["features", "ml_labels"])
SCORING_GROUP = "ml"
HEADLINE = ("roc_auc", "pr_auc", "log_loss", "top_decile_lift", "top_3_deciles_gain")
BEATS_BASELINE_CHECK = "beats_baseline"


def scores_key(config: MLConfig) -> AssetKey:
    return AssetKey([config.scores_schema, config.scores_table])


def training_key(model: str) -> AssetKey:
    return AssetKey(["ml", f"{model}_model"])


def _fail(what: str, exc: Exception) -> Failure:
    """Configuration or data problems: retrying fails the same way, so fail once, clearly."""
    return Failure(description=f"{what}: {exc}", allow_retries=False)


def build_ml_assets(
    config: MLConfig | None = None, dbt_project_dir: Path = DBT_PROJECT_DIR
) -> list[AssetsDefinition]:
    """One training asset per prediction task, scoring, lifetime values and clusters. A
    configuration error (bad prediction_tasks, say) does not break the code location: the
    scoring step carries it and fails with it as its message."""
    if config is None:
        try:
            config = MLConfig.load(None, dbt_project_dir)
        except MLError as exc:
            return [_broken_config_asset(str(exc))]
    learned = [spec for spec in config.models if spec.outcome != "spend"]  # spend: BTYD
    trainers = [_training_asset(config, spec.name, spec.description) for spec in learned]
    return [
        *trainers,
        _scoring_asset(config),
        _lifetime_asset(config),
        _clusters_asset(config),
    ]


def _broken_config_asset(message: str) -> AssetsDefinition:
    @asset(
        key=AssetKey(["ml", "person_scores"]),
        deps=[FEATURES],
        group_name=SCORING_GROUP,
        description="The ml configuration is invalid; this step fails with the reason.",
    )
    def person_scores() -> MaterializeResult:
        raise Failure(description=f"invalid ml configuration: {message}", allow_retries=False)

    return person_scores


def _training_asset(config: MLConfig, model: str, description: str) -> AssetsDefinition:
    key = training_key(model)

    @asset(
        key=key,
        deps=[FEATURES, LABELS],
        group_name=TRAINING_GROUP,
        kinds={"lightgbm"},
        description=f"Train, evaluate against the baseline and BG/NBD, register: {description}",
        pool=WAREHOUSE_POOL,
        retry_policy=WAREHOUSE_RETRY,
        check_specs=[
            AssetCheckSpec(
                BEATS_BASELINE_CHECK,
                asset=key,
                description="The model beats its baseline on the champion metric with 95% "
                "confidence (paired bootstrap on the validation cutoff).",
            )
        ],
    )
    def train(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
        from ml.pipeline import train_and_register

        try:
            outcome = train_and_register(
                warehouse.settings(), config, model, progress=context.log.info
            )
        except MLError as exc:
            raise _fail(f"training {model} failed", exc) from exc
        meta = training_metadata(outcome)
        beats = bool(outcome.evaluation.get("beats_baseline", True))
        if not beats:
            context.log.warning(f"{model}: {flag_text(outcome)}")
        return MaterializeResult(
            metadata=meta,
            check_results=[
                AssetCheckResult(
                    check_name=BEATS_BASELINE_CHECK,
                    passed=beats,
                    severity=AssetCheckSeverity.WARN,
                    metadata=_interval_metadata(outcome.evaluation),
                )
            ],
        )

    return train


def _interval_metadata(evaluation: dict) -> dict:
    intervals = evaluation.get("intervals", {})
    meta: dict = {}
    for group, label in (("model_vs_baseline", "baseline"), ("model_vs_btyd", "btyd")):
        for metric, found in intervals.get(group, {}).items():
            meta[f"model_minus_{label}_{metric}"] = float(found["difference"])
            meta[f"model_minus_{label}_{metric}_ci"] = (
                f"{found['low']:+.4f} to {found['high']:+.4f}"
            )
    return meta


def flag_text(outcome) -> str:  # noqa: ANN001 - ml.pipeline.TrainOutcome
    decision = outcome.decision
    parts = []
    if not outcome.evaluation.get("beats_baseline", True):
        parts.append(
            f"⚠ DOES NOT BEAT ITS BASELINE ({outcome.evaluation['baseline_description']}) "
            f"on {decision['metric']} with 95% confidence"
        )
    parts.append("champion" if decision["promoted"] else "not promoted")
    parts.append(decision.get("reason", ""))
    return " | ".join(p for p in parts if p)


def training_metadata(outcome) -> dict:  # noqa: ANN001 - ml.pipeline.TrainOutcome
    evaluation = outcome.evaluation
    manifest = outcome.manifest
    meta: dict = {
        "flag": MetadataValue.text(flag_text(outcome)),
        "champion": bool(outcome.promoted),
        "beats_baseline": bool(evaluation.get("beats_baseline", True)),
        "model_version": outcome.version,
        "promoted_to_champion": outcome.promoted,
        "evaluated_on_cutoff": evaluation.get("evaluated_on_cutoff", ""),
        "label_horizon_days": int(manifest.get("label_horizon_days", 0)),
        "task_horizon_days": int(manifest.get("horizon_days", 0)),
        "training_plan": MetadataValue.md("\n".join(f"- {line}" for line in manifest["plan"])),
        "baseline": evaluation.get("baseline_description", ""),
        "registry_path": MetadataValue.path(str(outcome.path)),
        "metrics": MetadataValue.md(metrics_markdown(evaluation)),
        "lift_by_decile": MetadataValue.md(_lift_markdown(evaluation["model"]["lift"])),
        "reliability_bins": MetadataValue.md(
            reliability_markdown(evaluation["model"]["reliability"])
        ),
        **_interval_metadata(evaluation),
    }
    for name in HEADLINE:
        meta[f"model_{name}"] = float(evaluation["model"][name])
        meta[f"baseline_{name}"] = float(evaluation["baseline"][name])
        if "btyd" in evaluation:
            meta[f"btyd_{name}"] = float(evaluation["btyd"][name])
    for chart, label in (("lift_gains.png", "lift_chart"), ("reliability.png", "reliability")):
        image = _markdown_image(outcome.path / chart, label)
        if image:
            meta[label] = MetadataValue.md(image)
    return meta


def metrics_markdown(evaluation: dict) -> str:
    has_btyd = "btyd" in evaluation
    head = "| metric | model | baseline |" + (" BG/NBD |" if has_btyd else "")
    rows = [head, "|---|---:|---:|" + ("---:|" if has_btyd else "")]
    for name in HEADLINE:
        row = f"| {name} | {evaluation['model'][name]:.4f} | {evaluation['baseline'][name]:.4f} |"
        if has_btyd:
            row += f" {evaluation['btyd'][name]:.4f} |"
        rows.append(row)
    return "\n".join(rows)


def reliability_markdown(reliability: list[dict]) -> str:
    rows = [
        "| bin | predicted range | rows | mean predicted | observed rate |",
        "|---:|---|---:|---:|---:|",
    ]
    for r in reliability:
        predicted = "-" if r["mean_predicted"] is None else f"{r['mean_predicted']:.3f}"
        observed = "-" if r["observed_rate"] is None else f"{r['observed_rate']:.3f}"
        rows.append(
            f"| {r['bin']} | {r['lower']:.1f}-{r['upper']:.1f} | {r['rows']:,} | {predicted} "
            f"| {observed} |"
        )
    return "\n".join(rows)


def _lift_markdown(lift: list[dict]) -> str:
    rows = [
        "| decile | rows | positive rate | lift | cumulative gain |",
        "|---:|---:|---:|---:|---:|",
    ]
    for r in lift:
        rows.append(
            f"| {r['decile']} | {r['rows']:,} | {r['positive_rate']:.3f} | {r['lift']:.2f} "
            f"| {r['cumulative_gain']:.2f} |"
        )
    return "\n".join(rows)


def _markdown_image(path: Path | None, label: str) -> str | None:
    if path is None or not path.exists():
        return None
    encoded = base64.b64encode(path.read_bytes()).decode("ascii")
    return f"![{label}](data:image/png;base64,{encoded})"


def _scoring_asset(config: MLConfig) -> AssetsDefinition:
    @asset(
        key=scores_key(config),
        deps=[FEATURES, *(training_key(s.name) for s in config.models if s.outcome != "spend")],
        group_name=SCORING_GROUP,
        kinds={"lightgbm", "duckdb"},
        description="Every person scored by each prediction task's champion, with decile and "
        "top three reasons, written back to the warehouse.",
        pool=WAREHOUSE_POOL,
        retry_policy=WAREHOUSE_RETRY,
    )
    def person_scores(
        context: AssetExecutionContext, warehouse: WarehouseResource
    ) -> MaterializeResult:
        from ml.btyd_features import BTYDCache
        from ml.pipeline import score_registered
        from ml.registry import Registry

        settings = warehouse.settings()
        registry = Registry(settings.artifacts_dir)
        cache = BTYDCache()
        meta: dict = {}
        rows = 0
        for spec in config.models:
            if spec.outcome == "spend":
                continue  # predicted by BG/NBD x Gamma-Gamma: ml.person_lifetime_value
            try:
                outcome = score_registered(settings, config, spec.name, cache=cache)
            except MLError as exc:
                raise _fail(
                    f"scoring {spec.name} failed ({exc}); if no model is registered yet, "
                    "run the `retrain` or `full_refresh` job first",
                    exc,
                ) from exc
            context.log.info(
                f"{spec.name} {outcome.version}: {outcome.rows:,} rows "
                f"({outcome.rows_per_second:,.0f} rows/s)"
            )
            pointer = registry.champion(spec.name) or {}
            rows += outcome.rows
            meta[f"{spec.name}_version"] = outcome.version
            meta[f"{spec.name}_rows"] = outcome.rows
            meta[f"{spec.name}_rows_per_second"] = round(outcome.rows_per_second, 1)
            meta[f"{spec.name}_feature_cutoff"] = outcome.cutoff.isoformat()
            meta[f"{spec.name}_beats_baseline"] = bool(pointer.get("beats_baseline", True))
            if outcome.how:
                meta[f"{spec.name}_how"] = outcome.how
        meta["dagster/row_count"] = rows
        return MaterializeResult(metadata=meta)

    return person_scores


def _lifetime_asset(config: MLConfig) -> AssetsDefinition:
    @asset(
        key=AssetKey([config.scores_schema, config.lifetime_table]),
        deps=[FEATURES],
        group_name=SCORING_GROUP,
        kinds={"scipy", "duckdb"},
        description="BG/NBD + Gamma-Gamma per buyer at the scoring cutoff: probability alive, "
        "expected purchases, P(purchase) and predicted CLV over each task horizon and 365 days.",
        pool=WAREHOUSE_POOL,
        retry_policy=WAREHOUSE_RETRY,
    )
    def person_lifetime_value(
        context: AssetExecutionContext, warehouse: WarehouseResource
    ) -> MaterializeResult:
        from ml.errors import NotEnoughDataError
        from ml.pipeline import publish_lifetime

        try:
            outcome = publish_lifetime(warehouse.settings(), config)
        except NotEnoughDataError as exc:
            context.log.warning(f"no BTYD traits: {exc}")
            return MaterializeResult(metadata={"skipped": str(exc), "dagster/row_count": 0})
        except MLError as exc:
            raise _fail("BTYD traits failed", exc) from exc
        params = outcome.params
        return MaterializeResult(
            metadata={
                "dagster/row_count": outcome.buyers,
                "feature_cutoff": outcome.cutoff.isoformat(),
                "horizons_days": ", ".join(map(str, outcome.horizons)),
                "bgnbd": MetadataValue.json(params.get("bgnbd") or {}),
                "gamma_gamma": MetadataValue.json(params.get("gamma_gamma") or {}),
                "seconds": round(outcome.seconds, 2),
            }
        )

    return person_lifetime_value


def _clusters_asset(config: MLConfig) -> AssetsDefinition:
    @asset(
        key=AssetKey([config.scores_schema, config.clusters_table]),
        deps=[FEATURES],
        group_name=SCORING_GROUP,
        kinds={"scikitlearn", "duckdb"},
        description="Discovered segments: k-means on standardised RFM, engagement and channel "
        "features, k by silhouette; one row per person.",
        pool=WAREHOUSE_POOL,
        retry_policy=WAREHOUSE_RETRY,
    )
    def person_clusters(
        context: AssetExecutionContext, warehouse: WarehouseResource
    ) -> MaterializeResult:
        from ml.errors import NotEnoughDataError
        from ml.pipeline import cluster_and_publish

        try:
            outcome = cluster_and_publish(warehouse.settings(), config, progress=context.log.info)
        except NotEnoughDataError as exc:
            context.log.warning(f"no clusters: {exc}")
            return MaterializeResult(metadata={"skipped": str(exc), "dagster/row_count": 0})
        except MLError as exc:
            raise _fail("clustering failed", exc) from exc
        table = ["| cluster | label | persons | what sets it apart |", "|---:|---|---:|---|"]
        for c in outcome.clusters:
            table.append(
                f"| {c['cluster_id']} | {c['label']} | {c['persons']:,} | "
                f"{'; '.join(c['traits'])} |"
            )
        meta: dict = {
            "dagster/row_count": outcome.persons,
            "k": outcome.k,
            "silhouette": round(outcome.silhouette, 4),
            "silhouette_by_k": MetadataValue.json(
                {str(k): round(v, 4) for k, v in outcome.silhouette_by_k.items()}
            ),
            "clusters": MetadataValue.md("\n".join(table)),
        }
        image = _markdown_image(outcome.chart, "clusters")
        if image:
            meta["chart"] = MetadataValue.md(image)
        return MaterializeResult(metadata=meta)

    return person_clusters
