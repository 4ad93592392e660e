"""Asset checks of our own, beside the dbt tests: identity cluster size, identity accuracy
against ground truth (where the warehouse has one), and profile quality.

Each check is built only when the model it watches exists in the dbt manifest.
"""

from collections.abc import Mapping

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetKey,
    MetadataValue,
    asset_check,
)

from orchestration.config import WAREHOUSE_POOL
from orchestration.failures import step_failures
from orchestration.resources import WarehouseResource
from tessera.identity.evaluate import TRUTH_TABLE, IdentityEvaluation, Thresholds
from tessera.warehouse import Warehouse

IDENTITY_GRAPH = AssetKey(["identity", "identity_graph"])
CUSTOMER_PROFILES = AssetKey(["profiles", "customer_profiles"])

# A person holding more identifiers than this is almost surely an over-merge (a shared device,
# a kiosk, a placeholder that slipped through the blocklist).
MAX_IDENTIFIERS_PER_PERSON = 200
MIN_CONTACTABLE_SHARE = 0.05
# The identity layer's own bars (tessera identity evaluate uses the same).
IDENTITY_THRESHOLDS = Thresholds()


def build_checks(relations: Mapping[AssetKey, str]) -> list[AssetChecksDefinition]:
    checks = []
    if IDENTITY_GRAPH in relations:
        checks.append(largest_identity_cluster_check(relations[IDENTITY_GRAPH]))
        checks.append(identity_accuracy_check())
    if CUSTOMER_PROFILES in relations:
        checks.append(profile_quality_check(relations[CUSTOMER_PROFILES]))
    return checks


def largest_identity_cluster_check(relation: str) -> AssetChecksDefinition:
    @asset_check(
        asset=IDENTITY_GRAPH,
        name="largest_identity_cluster",
        description=f"No person holds more than {MAX_IDENTIFIERS_PER_PERSON} identifiers.",
        pool=WAREHOUSE_POOL,
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


def identity_accuracy_check(thresholds: Thresholds = IDENTITY_THRESHOLDS) -> AssetChecksDefinition:
    @asset_check(
        asset=IDENTITY_GRAPH,
        name="identity_accuracy",
        description="Pairwise precision and recall of the identity graph against the ground "
        f"truth, where the warehouse has one (generated data): precision >= "
        f"{thresholds.min_precision}, recall of linkable pairs >= {thresholds.min_recall}.",
        pool=WAREHOUSE_POOL,
    )
    def identity_accuracy(
        context: AssetCheckExecutionContext, warehouse: WarehouseResource
    ) -> AssetCheckResult:
        with step_failures(context, "identity_accuracy check"):
            return identity_accuracy_result(warehouse.warehouse(), thresholds)

    return identity_accuracy


def identity_accuracy_result(warehouse: Warehouse, thresholds: Thresholds) -> AssetCheckResult:
    """Scored against truth.identifier_person when it exists; real data has no ground truth,
    and the check says so instead of pretending to have measured."""
    from tessera.identity.evaluate import evaluate_session

    with warehouse.session(read_only=warehouse.dialect == "duckdb") as session:
        if not session.table_exists(*TRUTH_TABLE.split(".")):
            return AssetCheckResult(
                passed=True,
                severity=AssetCheckSeverity.WARN,
                description=f"Not measured: no ground truth ({TRUTH_TABLE}) in this warehouse. "
                "Precision and recall are measured on generated data (`tessera datagen`).",
                metadata={"ground_truth": False},
            )
        result = evaluate_session(session)
    failures = result.failures(thresholds)
    return AssetCheckResult(
        passed=not failures,
        severity=AssetCheckSeverity.ERROR,
        description="; ".join(failures)
        or f"precision {result.precision:.4f}, recall of linkable pairs "
        f"{result.recall_of_linkable:.4f}",
        metadata=identity_accuracy_metadata(result, thresholds),
    )


def identity_accuracy_metadata(result: IdentityEvaluation, thresholds: Thresholds) -> dict:
    meta: dict = {"ground_truth": True}
    for name, value in result.as_dict().items():
        if isinstance(value, dict):
            meta[name] = MetadataValue.md(_reasons_markdown(value))
        elif isinstance(value, float):
            meta[name] = MetadataValue.float(round(value, 6))
        else:
            meta[name] = MetadataValue.int(int(value))
    meta["min_precision"] = thresholds.min_precision
    meta["min_recall_of_linkable"] = thresholds.min_recall
    return meta


def _reasons_markdown(pairs_by_reason: Mapping[str, int]) -> str:
    rows = ["| reason | pairs |", "|---|---:|"]
    for reason, pairs in sorted(pairs_by_reason.items(), key=lambda item: -item[1]):
        rows.append(f"| {reason} | {pairs:,} |")
    if len(rows) == 2:
        rows.append("| (none) | 0 |")
    return "\n".join(rows)


def profile_quality_check(relation: str) -> AssetChecksDefinition:
    @asset_check(
        asset=CUSTOMER_PROFILES,
        name="profile_quality",
        description="One row per person, no negative money or counts, and enough persons "
        "reachable by email or phone.",
        pool=WAREHOUSE_POOL,
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
