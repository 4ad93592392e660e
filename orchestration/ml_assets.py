"""ML assets: one training asset per prediction task, the scores table they feed, the BTYD
traits per buyer and the discovered segments.

Training reads the feature tables and writes a model version to the registry (the champion
pointer moves only when the challenger earns it); its materialization shows the validation
metrics beside the baseline and BG/NBD with bootstrap intervals, the lift and reliability
charts (reliability bins with their row counts), and the champion / "does not beat its
baseline" flags, with an asset check that fails (warning) when the model does not beat its
baseline. Scoring writes `ml.person_scores` with each champion. Data too small for a model
(NotEnoughDataError: too few labels, too short a history) is not a failure: the task is
skipped with the reason (a warning, `skipped` metadata, the check failing as a warning), any
earlier champion stays, and scoring leaves a task with no champion out, so the segments still
build (`tessera demo --persons 300` goes on). Other problems of configuration or data
(MLError) fail the step once, with the cause as the message; only the warehouse's transient
errors are retried.
"""

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
from orchestration.ml_metadata import (
    flag_text,
    interval_metadata,
    markdown_image,
    training_metadata,
)
from orchestration.resources import WarehouseResource
from tessera.settings import DBT_PROJECT_DIR

FEATURES = AssetKey(["features", "ml_features"])
LABELS = AssetKey(["features", "ml_labels"])
SCORING_GROUP = "ml"
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
        from ml.errors import NotEnoughDataError
        from ml.pipeline import train_and_register

        try:
            outcome = train_and_register(
                warehouse.settings(), config, model, progress=context.log.info
            )
        except NotEnoughDataError as exc:
            context.log.warning(f"{model} skipped (not enough data): {exc}")
            return MaterializeResult(
                metadata={"skipped": str(exc)},
                check_results=[
                    AssetCheckResult(
                        check_name=BEATS_BASELINE_CHECK,
                        passed=False,
                        severity=AssetCheckSeverity.WARN,
                        description=f"no model trained: {exc}",
                    )
                ],
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
                    metadata=interval_metadata(outcome.evaluation),
                )
            ],
        )

    return train


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
            if registry.champion(spec.name) is None:
                reason = (
                    f"{spec.name} has no champion yet, not scored (its training registered "
                    "none: see the training step; the retrain or full_refresh job trains it)"
                )
                context.log.warning(reason)
                meta[f"{spec.name}_not_scored"] = reason
                continue
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
        if not any(key.endswith("_version") for key in meta):
            from ml.scoring import ensure_scores_table  # the segments that read scores build

            with warehouse.warehouse().session() as session:
                ensure_scores_table(session, config)
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
        image = markdown_image(outcome.chart, "clusters")
        if image:
            meta["chart"] = MetadataValue.md(image)
        return MaterializeResult(metadata=meta)

    return person_clusters
