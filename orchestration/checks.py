"""Asset checks of our own, beside the dbt tests: identity cluster size and profile quality.

Each check is built only when the model it watches exists in the dbt manifest.
"""

from collections.abc import Mapping

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetKey,
    asset_check,
)

from orchestration.config import WAREHOUSE_POOL
from orchestration.dbt_assets import WAREHOUSE_RETRY
from orchestration.failures import step_failures
from orchestration.resources import WarehouseResource

IDENTITY_GRAPH = AssetKey(["identity", "identity_graph"])
CUSTOMER_PROFILES = AssetKey(["profiles", "customer_profiles"])

# A person holding more identifiers than this is almost surely an over-merge (a shared device,
# a kiosk, a placeholder that slipped through the blocklist).
MAX_IDENTIFIERS_PER_PERSON = 200
MIN_CONTACTABLE_SHARE = 0.05


def build_checks(relations: Mapping[AssetKey, str]) -> list[AssetChecksDefinition]:
    checks = []
    if IDENTITY_GRAPH in relations:
        checks.append(largest_identity_cluster_check(relations[IDENTITY_GRAPH]))
    if CUSTOMER_PROFILES in relations:
        checks.append(profile_quality_check(relations[CUSTOMER_PROFILES]))
    return checks


def largest_identity_cluster_check(relation: str) -> AssetChecksDefinition:
    @asset_check(
        asset=IDENTITY_GRAPH,
        name="largest_identity_cluster",
        description=f"No person holds more than {MAX_IDENTIFIERS_PER_PERSON} identifiers.",
        pool=WAREHOUSE_POOL,
        retry_policy=WAREHOUSE_RETRY,
    )
    def largest_identity_cluster(
        context: AssetCheckExecutionContext, warehouse: WarehouseResource
    ) -> AssetCheckResult:
        with (
            step_failures(context, "largest_identity_cluster check"),
            warehouse.warehouse().session(read_only=True) as session,
        ):
            row = session.arrow(
                f"select person_id, count(*) as identifiers from {relation} "
                "group by person_id order by identifiers desc limit 1"
            ).to_pylist()
            persons = session.scalar(f"select count(distinct person_id) from {relation}")
        largest = int(row[0]["identifiers"]) if row else 0
        return AssetCheckResult(
            passed=largest <= MAX_IDENTIFIERS_PER_PERSON,
            severity=AssetCheckSeverity.ERROR,
            metadata={
                "largest_cluster_identifiers": largest,
                "largest_cluster_person_id": str(row[0]["person_id"]) if row else "",
                "persons": int(persons or 0),
                "threshold": MAX_IDENTIFIERS_PER_PERSON,
            },
        )

    return largest_identity_cluster


def profile_quality_check(relation: str) -> AssetChecksDefinition:
    @asset_check(
        asset=CUSTOMER_PROFILES,
        name="profile_quality",
        description="One row per person, no negative money or counts, and enough persons "
        "reachable by email or phone.",
        pool=WAREHOUSE_POOL,
        retry_policy=WAREHOUSE_RETRY,
    )
    def profile_quality(
        context: AssetCheckExecutionContext, warehouse: WarehouseResource
    ) -> AssetCheckResult:
        with (
            step_failures(context, "profile_quality check"),
            warehouse.warehouse().session(read_only=True) as session,
        ):
            stats = session.arrow(
                f"""
                select
                    count(*) as profiles,
                    count(*) - count(distinct person_id) as duplicate_person_ids,
                    count(*) - count(person_id) as null_person_ids,
                    sum(case when revenue_total < 0 or orders_count < 0 then 1 else 0 end)
                        as negative_money_or_counts,
                    sum(case when email is not null or phone is not null then 1 else 0 end)
                        as contactable
                from {relation}
                """
            ).to_pylist()[0]
        profiles = int(stats["profiles"])
        contactable_share = int(stats["contactable"]) / profiles if profiles else 0.0
        problems = [
            name
            for name in ("duplicate_person_ids", "null_person_ids", "negative_money_or_counts")
            if stats[name]
        ]
        if contactable_share < MIN_CONTACTABLE_SHARE:
            problems.append("contactable_share")
        return AssetCheckResult(
            passed=not problems,
            severity=AssetCheckSeverity.ERROR,
            description="; ".join(problems) or "profiles look healthy",
            metadata={
                **{k: int(v or 0) for k, v in stats.items()},
                "contactable_share": round(contactable_share, 4),
            },
        )

    return profile_quality
