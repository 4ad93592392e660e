"""Segment membership history: who entered and left each segment at every refresh."""

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    MaterializeResult,
    MetadataValue,
    asset,
)

from orchestration.config import WAREHOUSE_POOL
from orchestration.failures import step_failures
from orchestration.resources import WarehouseResource

SEGMENTS_GROUP = "segments"
MEMBERSHIP_KEY = AssetKey(["segments", "segment_membership"])


def build_membership_asset(segment_keys: list[AssetKey]) -> AssetsDefinition:
    names = sorted(key.path[-1] for key in segment_keys)

    @asset(
        key=MEMBERSHIP_KEY,
        deps=segment_keys,
        group_name=SEGMENTS_GROUP,
        kinds={"duckdb"},
        description="One row per stay of a person in a segment (entered_at, exited_at), and "
        "each segment's size at every refresh (segments.segment_sizes).",
        pool=WAREHOUSE_POOL,
    )
    def segment_membership(
        context: AssetExecutionContext, warehouse: WarehouseResource
    ) -> MaterializeResult:
        from tessera.segments.membership import refresh_membership

        with (
            step_failures(context, "segment membership"),
            warehouse.warehouse().session() as session,
        ):
            built = [name for name in names if session.table_exists("segments", name)]
            changes = refresh_membership(session, built)
        rows = ["| segment | size | entered | exited |", "|---|---:|---:|---:|"]
        meta: dict = {}
        for change in changes:
            rows.append(
                f"| {change.segment} | {change.size:,} | {change.entered:,} | {change.exited:,} |"
            )
            meta[f"size/{change.segment}"] = change.size
        context.log.info(f"membership recorded for {len(changes)} segments")
        return MaterializeResult(
            metadata={"segment_sizes": MetadataValue.md("\n".join(rows)), **meta}
        )

    return segment_membership
