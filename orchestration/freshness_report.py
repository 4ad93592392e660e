"""Source freshness where **Materialize all** in the UI runs it: an asset of its own.

The `source_freshness` checks sit on the source tables (`raw/events` ...), which are external
assets. A job launched by a schedule or the sensor runs them, but the UI's Materialize all
selects only the checks of the assets it materializes, so from the UI they never ran. This
asset is materialized by both refresh jobs: one step judging every source with the same code
(orchestration.freshness), a table of all sources as its metadata, and one check per source
table (`raw__events` ...) passing, warning or failing as dbt's freshness config says.
"""

import re
from collections.abc import Iterator, Mapping
from typing import Any

from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    MaterializeResult,
    MetadataValue,
    asset,
)
from dagster_dbt import DbtCliResource, DbtProject

from orchestration.config import WAREHOUSE_POOL
from orchestration.failures import step_failures
from orchestration.freshness import freshness_result, freshness_sources, judge_sources
from orchestration.resources import WarehouseResource

FRESHNESS_REPORT = AssetKey(["sources", "source_freshness"])
FRESHNESS_REPORT_GROUP = "sources"


def report_check_name(source: AssetKey) -> str:
    """`raw/events` -> `raw__events` (check names are identifiers)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", "__".join(source.path))


def build_freshness_report(
    manifest: Mapping[str, Any], project: DbtProject
) -> AssetsDefinition | None:
    sources = freshness_sources(manifest)
    if not sources:
        return None

    @asset(
        key=FRESHNESS_REPORT,
        group_name=FRESHNESS_REPORT_GROUP,
        deps=list(sources),
        description="How fresh each source table is, judged by dbt's freshness config "
        "(warn_after / error_after on the newest loaded_at_field); one check per table.",
        check_specs=[
            AssetCheckSpec(
                report_check_name(key),
                asset=FRESHNESS_REPORT,
                description=f"{props['source_name']}.{props['name']} is fresh (dbt config).",
            )
            for key, props in sources.items()
        ],
        pool=WAREHOUSE_POOL,
    )
    def source_freshness_report(
        context: AssetExecutionContext, warehouse: WarehouseResource, dbt: DbtCliResource
    ) -> Iterator[Any]:
        with step_failures(context, "source freshness"):
            verdicts = judge_sources(warehouse.warehouse(), sources, dbt, project)
        results = {key: freshness_result(key, v, sources[key]) for key, v in verdicts.items()}
        statuses = [str(r.metadata["status"].value) for r in results.values()]
        yield MaterializeResult(
            metadata={
                "sources": len(results),
                "stale": sum(s in ("warn", "error") for s in statuses),
                "freshness": MetadataValue.md(_table(results)),
            }
        )
        for key, result in results.items():
            yield AssetCheckResult(
                asset_key=FRESHNESS_REPORT,
                check_name=report_check_name(key),
                passed=result.passed,
                severity=result.severity,
                description=f"{'/'.join(key.path)}: {result.description}",
                metadata=dict(result.metadata),
            )

    return source_freshness_report


def _table(results: Mapping[AssetKey, AssetCheckResult]) -> str:
    rows = [
        "| source | status | newest loaded at | age (h) | warn after (h) | error after (h) |",
        "|---|---|---|---:|---:|---:|",
    ]
    for key, result in sorted(results.items(), key=lambda item: item[0].path):
        meta = {name: value.value for name, value in result.metadata.items()}
        rows.append(
            f"| {'/'.join(key.path)} | {meta['status']} | {meta.get('max_loaded_at', '-')} "
            f"| {meta.get('age_hours', '-')} | {meta.get('warn_after_hours') or '-'} "
            f"| {meta.get('error_after_hours') or '-'} |"
        )
    return "\n".join(rows)
