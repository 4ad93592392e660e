"""Jobs and their schedules: full refresh, incremental refresh, weekly retrain."""

from __future__ import annotations

from typing import Any

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    ScheduleDefinition,
    define_asset_job,
)

from orchestration.dbt_assets import FULL_REFRESH_TAG

FULL_REFRESH = "full_refresh"
INCREMENTAL_REFRESH = "incremental_refresh"
RETRAIN = "retrain"
# What define_asset_job returns; its class is not part of Dagster's public API.
AssetJob = Any
TRAINING_GROUP = "ml_training"


def _dbt_tags(full_refresh: bool) -> dict[str, str]:
    return {FULL_REFRESH_TAG: str(full_refresh).lower()}


def build_jobs(
    has_training: bool,
    nightly_only: AssetSelection | None = None,
    source_checks: AssetSelection | None = None,
) -> list[AssetJob]:
    """`nightly_only`: models and checks the incremental refresh leaves to full_refresh.
    `source_checks`: checks on the source tables (their freshness), which both refreshes run:
    the source tables themselves are external, so `AssetSelection.all()` leaves them out."""
    everything = AssetSelection.all()
    if source_checks is not None:
        everything = everything | source_checks
    training = AssetSelection.groups(TRAINING_GROUP)
    left_to_nightly = training | nightly_only if nightly_only is not None else training
    jobs = [
        define_asset_job(
            FULL_REFRESH,
            selection=everything,
            tags=_dbt_tags(full_refresh=True),
            description="Rebuild every model from raw data, retrain, score, segment and sync.",
        ),
        define_asset_job(
            INCREMENTAL_REFRESH,
            selection=everything - left_to_nightly,
            tags=_dbt_tags(full_refresh=False),
            description="New events -> identity -> profiles -> scores -> segments -> syncs, "
            "with the current champion models. Runs the dbt tests tagged `critical`; the "
            "rest, and models tagged `nightly`, wait for full_refresh.",
        ),
    ]
    if has_training:
        jobs.append(
            define_asset_job(
                RETRAIN,
                selection=training.downstream(),
                tags=_dbt_tags(full_refresh=False),
                description="Retrain the models, then rescore and refresh what depends on it.",
            )
        )
    return jobs


def build_schedules(jobs: list[AssetJob]) -> list[ScheduleDefinition]:
    crons = {
        FULL_REFRESH: "0 2 * * *",  # nightly
        INCREMENTAL_REFRESH: "0 * * * *",  # hourly safety net behind the raw-events sensor
        RETRAIN: "0 3 * * 0",  # weekly, Sunday
    }
    return [
        ScheduleDefinition(
            name=f"{job.name}_schedule",
            job=job,
            cron_schedule=crons[job.name],
            execution_timezone="UTC",
            default_status=DefaultScheduleStatus.RUNNING,
        )
        for job in jobs
    ]
