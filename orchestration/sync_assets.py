"""One asset per reverse-ETL sync, downstream of its segment, with its error rate as a check."""

from pathlib import Path

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    MaterializeResult,
    asset,
)

from orchestration.config import WAREHOUSE_POOL
from orchestration.dbt_assets import WAREHOUSE_RETRY
from orchestration.resources import WarehouseResource
from reverse_etl.config import DESTINATIONS_FILE, Catalog, SyncConfig
from reverse_etl.runner import SyncPaths

SYNC_GROUP = "syncs"
ERROR_RATE_CHECK = "sync_error_rate"
# HubSpot asks integrations to keep errors under 5% of requests; the same bar serves the rest.
MAX_ERROR_RATE = 0.05


def sync_key(name: str) -> AssetKey:
    return AssetKey(["sync", name])


def load_catalog(paths: SyncPaths) -> Catalog | None:
    """The configured syncs, or None when the project has no destinations.yml yet."""
    if not (paths.syncs_dir / DESTINATIONS_FILE).exists():
        return None
    return paths.catalog()


def build_sync_assets(catalog: Catalog, paths: SyncPaths) -> list[AssetsDefinition]:
    return [_sync_asset(sync, catalog, paths) for sync in catalog.syncs.values()]


def _sync_asset(sync: SyncConfig, catalog: Catalog, paths: SyncPaths) -> AssetsDefinition:
    key = sync_key(sync.name)
    destination = catalog.destination_for(sync)

    @asset(
        key=key,
        deps=[AssetKey([sync.segment_schema, sync.segment_table])],
        group_name=SYNC_GROUP,
        kinds={destination.type},
        description=f"{sync.mode} {sync.segment} -> {destination.name} ({destination.type}) "
        f"{sync.object}: only added, changed, removed and failed rows are sent.",
        check_specs=[
            AssetCheckSpec(
                ERROR_RATE_CHECK,
                asset=key,
                description=f"Rows rejected by the destination stay under {MAX_ERROR_RATE:.0%}.",
            )
        ],
        pool=WAREHOUSE_POOL,
        retry_policy=WAREHOUSE_RETRY,
    )
    def run_one_sync(
        context: AssetExecutionContext, warehouse: WarehouseResource
    ) -> MaterializeResult:
        from reverse_etl.runner import run_sync

        result = run_sync(
            warehouse.settings(), paths.catalog(), sync.name, lock_dir=_lock_dir(paths)
        )
        counts = result.plan.counts
        attempted = result.stats.sent_ok + result.stats.rejected
        error_rate = result.stats.rejected / attempted if attempted else 0.0
        context.log.info(
            f"sync {sync.name}: {result.status}, planned {dict(counts)}, "
            f"sent {result.stats.sent_ok:,}, rejected {result.stats.rejected:,}"
        )
        return MaterializeResult(
            metadata={
                "status": result.status,
                "run_id": result.run_id,
                "destination": destination.name,
                "mode": sync.mode,
                **{f"planned_{kind}": int(counts.get(kind, 0)) for kind in sorted(counts)},
                "sent_ok": result.stats.sent_ok,
                "rejected": result.stats.rejected,
                "requests": result.stats.calls,
                "rate_limited": result.stats.rate_limited,
                "rows_per_second": round(result.rows_per_second, 1),
                "seconds": round(result.seconds, 2),
            },
            check_results=[
                AssetCheckResult(
                    check_name=ERROR_RATE_CHECK,
                    passed=error_rate <= MAX_ERROR_RATE,
                    severity=AssetCheckSeverity.WARN,
                    metadata={
                        "error_rate": round(error_rate, 4),
                        "rejected": result.stats.rejected,
                        "attempted": attempted,
                        "threshold": MAX_ERROR_RATE,
                    },
                )
            ],
        )

    return run_one_sync


def _lock_dir(paths: SyncPaths) -> Path:
    paths.lock_dir.mkdir(parents=True, exist_ok=True)
    return paths.lock_dir
