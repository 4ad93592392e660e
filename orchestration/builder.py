"""Builds Tessera's one Dagster `Definitions` from the environment (TESSERA_TARGET ...).

dbt models come from the manifest (prepared here when missing or stale); ml training and
scoring hang off the feature models; one sync asset per configured sync hangs off its segment.
"""

from __future__ import annotations

from dagster import (
    AssetKey,
    AssetSelection,
    Definitions,
    in_process_executor,
    multiprocess_executor,
)

from orchestration.checks import build_checks
from orchestration.config import OrchestrationConfig
from orchestration.dbt_assets import (
    TesseraDbtTranslator,
    build_dbt_assets,
    load_manifest,
    nightly_only,
    source_specs,
)
from orchestration.dbt_project import ensure_manifest, tessera_dbt_project
from orchestration.experiment_assets import RESULTS, build_experiment_assets
from orchestration.failures import configuration_failure_asset
from orchestration.freshness import build_source_freshness_check, freshness_check_keys
from orchestration.freshness_report import build_freshness_report
from orchestration.jobs import INCREMENTAL_REFRESH, build_jobs, build_schedules
from orchestration.ml_assets import FEATURES, build_ml_assets
from orchestration.resources import build_resources
from orchestration.segment_assets import build_membership_asset
from orchestration.sensors import build_new_raw_data_sensor
from orchestration.sync_assets import SYNC_GROUP, build_sync_assets, load_catalog
from reverse_etl.config import ConfigError
from reverse_etl.runner import SyncPaths

# Stands in for the syncs when their YAML does not load (see sync_assets).
SYNC_CONFIGURATION = AssetKey(["sync", "configuration"])


def build_definitions(config: OrchestrationConfig | None = None) -> Definitions:
    config = config or OrchestrationConfig.from_env()
    settings = config.settings
    project = tessera_dbt_project(config)
    manifest_path = ensure_manifest(project, settings)
    manifest = load_manifest(manifest_path)
    relations = model_relations(manifest)

    assets: list = [build_dbt_assets(project, manifest_path)]
    has_training = FEATURES in relations
    if has_training:
        assets += build_ml_assets(dbt_project_dir=settings.dbt_project_dir)
    segments = [key for key in relations if key.path[0] == "segments"]
    if segments:
        assets.append(build_membership_asset(segments))
    if RESULTS in relations:
        assets += build_experiment_assets()  # issue 18: lift chart after experiments.results
    assets += sync_assets(sync_paths(config))
    report = build_freshness_report(manifest, project)
    if report is not None:
        assets.append(report)
    produced = {key for a in assets for key in a.keys}
    assets += source_specs(manifest, produced)

    checks = build_checks(relations)
    freshness = build_source_freshness_check(manifest, project)
    if freshness is not None:
        checks.append(freshness)
    jobs = build_jobs(
        has_training=has_training,
        nightly_only=nightly_only(manifest, project),
        source_checks=AssetSelection.checks(*freshness_check_keys(manifest)),
    )
    return Definitions(
        assets=assets,
        asset_checks=checks,
        jobs=jobs,
        schedules=build_schedules(jobs),
        sensors=[build_new_raw_data_sensor(INCREMENTAL_REFRESH, config.sensor_interval_seconds)],
        resources=build_resources(settings, project),
        # One DuckDB file takes one writer: run a job's steps one after another in one
        # process. Snowflake takes concurrent writers, so steps may run side by side there.
        executor=in_process_executor if settings.target == "duckdb" else multiprocess_executor,
    )


def sync_assets(paths: SyncPaths) -> list:
    """One asset per configured sync; when the sync YAML does not load, one asset that fails
    with the reason, so the refresh jobs still load and run everything else."""
    try:
        catalog = load_catalog(paths)
    except ConfigError as exc:
        return [configuration_failure_asset(SYNC_CONFIGURATION, SYNC_GROUP, "loading syncs", exc)]
    return [] if catalog is None else build_sync_assets(catalog, paths)


def sync_paths(config: OrchestrationConfig) -> SyncPaths:
    default = SyncPaths.default(config.settings, config.syncs_dir)
    return SyncPaths(
        syncs_dir=config.syncs_dir, segments_dir=default.segments_dir, lock_dir=default.lock_dir
    )


def model_relations(manifest: dict) -> dict[AssetKey, str]:
    translator = TesseraDbtTranslator()
    return {
        translator.get_asset_key(node): node["relation_name"]
        for node in manifest.get("nodes", {}).values()
        if node.get("resource_type") in ("model", "seed", "snapshot") and node.get("relation_name")
    }
