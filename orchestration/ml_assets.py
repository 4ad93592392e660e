"""ML assets: one training asset per configured model, and the scores table they feed.

Training reads the feature tables and writes a model version to the registry (the champion
pointer moves only when the challenger wins); scoring writes `ml.person_scores` with each
model's champion. The segment models read that table, so they hang below it.
"""

import base64
from pathlib import Path

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)

from ml.config import MLConfig
from orchestration.config import WAREHOUSE_POOL
from orchestration.dbt_assets import WAREHOUSE_RETRY
from orchestration.jobs import TRAINING_GROUP
from orchestration.resources import WarehouseResource

FEATURES = AssetKey(["features", "ml_features"])
LABELS = AssetKey(["features", "ml_labels"])
SCORING_GROUP = "ml"
HEADLINE = ("roc_auc", "pr_auc", "log_loss", "top_decile_lift", "top_3_deciles_gain")


def scores_key(config: MLConfig) -> AssetKey:
    return AssetKey([config.scores_schema, config.scores_table])


def training_key(model: str) -> AssetKey:
    return AssetKey(["ml", f"{model}_model"])


def build_ml_assets(config: MLConfig) -> list[AssetsDefinition]:
    trainers = [_training_asset(config, spec.name, spec.description) for spec in config.models]
    return [*trainers, _scoring_asset(config)]


def _training_asset(config: MLConfig, model: str, description: str) -> AssetsDefinition:
    @asset(
        key=training_key(model),
        deps=[FEATURES, LABELS],
        group_name=TRAINING_GROUP,
        kinds={"lightgbm"},
        description=f"Train, evaluate against the baseline and register: {description}",
        pool=WAREHOUSE_POOL,
        retry_policy=WAREHOUSE_RETRY,
    )
    def train(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
        from ml.errors import MLError
        from ml.pipeline import train_and_register

        try:
            outcome = train_and_register(
                warehouse.settings(), config, model, progress=context.log.info
            )
        except MLError as exc:  # bad data or config: retrying would fail the same way
            raise Failure(
                description=f"training {model} failed: {exc}", allow_retries=False
            ) from exc
        return MaterializeResult(metadata=training_metadata(outcome))

    return train


def training_metadata(outcome) -> dict:  # noqa: ANN001 - ml.pipeline.TrainOutcome
    evaluation = outcome.evaluation
    meta: dict = {
        "model_version": outcome.version,
        "promoted_to_champion": outcome.promoted,
        "evaluated_on_cutoff": evaluation.get("evaluated_on_cutoff", ""),
        "baseline": evaluation.get("baseline_description", ""),
        "registry_path": MetadataValue.path(str(outcome.path)),
        "metrics": MetadataValue.md(_metrics_markdown(evaluation)),
        "lift_by_decile": MetadataValue.md(_lift_markdown(evaluation["model"]["lift"])),
    }
    for name in HEADLINE:
        meta[f"model_{name}"] = float(evaluation["model"][name])
        meta[f"baseline_{name}"] = float(evaluation["baseline"][name])
    for chart, label in (("lift_gains.png", "lift_chart"), ("reliability.png", "reliability")):
        image = _markdown_image(outcome.path / chart, label)
        if image:
            meta[label] = MetadataValue.md(image)
    return meta


def _metrics_markdown(evaluation: dict) -> str:
    rows = ["| metric | model | baseline |", "|---|---:|---:|"]
    for name in HEADLINE:
        rows.append(
            f"| {name} | {evaluation['model'][name]:.4f} | {evaluation['baseline'][name]:.4f} |"
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


def _markdown_image(path: Path, label: str) -> str | None:
    if not path.exists():
        return None
    encoded = base64.b64encode(path.read_bytes()).decode("ascii")
    return f"![{label}](data:image/png;base64,{encoded})"


def _scoring_asset(config: MLConfig) -> AssetsDefinition:
    @asset(
        key=scores_key(config),
        deps=[FEATURES, *(training_key(spec.name) for spec in config.models)],
        group_name=SCORING_GROUP,
        kinds={"lightgbm", "duckdb"},
        description="Every person scored by each model's champion, with decile and top "
        "three reasons, written back to the warehouse.",
        pool=WAREHOUSE_POOL,
        retry_policy=WAREHOUSE_RETRY,
    )
    def person_scores(
        context: AssetExecutionContext, warehouse: WarehouseResource
    ) -> MaterializeResult:
        from ml.errors import MLError
        from ml.pipeline import score_registered

        settings = warehouse.settings()
        meta: dict = {}
        rows = 0
        for spec in config.models:
            try:
                outcome = score_registered(settings, config, spec.name)
            except MLError as exc:
                raise Failure(
                    description=f"scoring {spec.name} failed: {exc}. If no model is registered "
                    "yet, run the `retrain` or `full_refresh` job first.",
                    allow_retries=False,
                ) from exc
            context.log.info(
                f"{spec.name} {outcome.version}: {outcome.rows:,} rows "
                f"({outcome.rows_per_second:,.0f} rows/s)"
            )
            rows += outcome.rows
            meta[f"{spec.name}_version"] = outcome.version
            meta[f"{spec.name}_rows"] = outcome.rows
            meta[f"{spec.name}_rows_per_second"] = round(outcome.rows_per_second, 1)
            meta[f"{spec.name}_feature_cutoff"] = outcome.cutoff.isoformat()
        meta["dagster/row_count"] = rows
        return MaterializeResult(metadata=meta)

    return person_scores
