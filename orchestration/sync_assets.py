"""One asset per reverse-ETL sync, downstream of its segment, with its error rate as a check.

Failures read well in the UI: a configuration error (bad YAML, a missing credential, a
segment or column that does not exist, credentials the destination refuses) fails the step
once, with the cause as its message (`dagster.Failure(allow_retries=False)`), and so does
a run whose every row the destination refused (recorded `failed`, as in the CLI); only
transient errors (a busy warehouse file, another run holding the sync's lock, a destination
still failing after the client's own retries) are retried, through
`orchestration.failures.step_failure`, like every other warehouse step. The asset has no
retry policy on purpose: Dagster turns an interrupt into a retry when a policy is set,
which would start the sync again after the run was cancelled.
Cancelling a run stops the sync gracefully: the sync runs on a worker thread while the step
waits, so Dagster's interrupt (SIGTERM / SIGINT become DagsterExecutionInterruptedError on
the step's thread) turns into a stop request: no new batches, in-flight ones acknowledged
and committed, the run recorded `cancelled`; a second interrupt stops waiting. Signal
handlers are never installed here, so this works on any thread.
"""

from collections import Counter
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

from orchestration.config import WAREHOUSE_POOL
from orchestration.failures import step_failure
from orchestration.resources import WarehouseResource
from reverse_etl.config import DESTINATIONS_FILE, Catalog, ConfigError, SyncConfig
from reverse_etl.destinations.base import AllRowsRejectedError
from reverse_etl.runner import RunResult, SyncPaths

SYNC_GROUP = "syncs"
ERROR_RATE_CHECK = "sync_error_rate"
# HubSpot asks integrations to keep errors under 5% of requests; the same bar serves the rest.
MAX_ERROR_RATE = 0.05
STOP_DEADLINE_SECONDS = 20.0  # within Kubernetes' default 30 s termination grace period
TRANSIENT_RETRIES = 2
TRANSIENT_WAIT_SECONDS = 10


def sync_key(name: str) -> AssetKey:
    return AssetKey(["sync", name])


def load_catalog(paths: SyncPaths) -> Catalog | None:
    """The configured syncs, or None when the project has no destinations.yml yet."""
    if not (paths.syncs_dir / DESTINATIONS_FILE).exists():
        return None
    return paths.catalog()


def build_sync_assets(catalog: Catalog, paths: SyncPaths) -> list[AssetsDefinition]:
    return [_sync_asset(sync, catalog, paths) for sync in catalog.syncs.values()]


def configuration_error(exc: BaseException) -> bool:
    """Errors no retry can fix: the step fails once, with the cause as its message."""
    from reverse_etl.destinations.base import DestinationAuthError
    from reverse_etl.planner import PlanError
    from tessera.settings import SettingsError

    return isinstance(exc, ConfigError | PlanError | DestinationAuthError | SettingsError)


def _sync_asset(sync: SyncConfig, catalog: Catalog, paths: SyncPaths) -> AssetsDefinition:
    key = sync_key(sync.name)
    destination = catalog.destination_for(sync)

    @asset(
        key=key,
        deps=[
            AssetKey([sync.segment_schema, sync.segment_table]),
            AssetKey(["experiments", "sync_holdouts"]),  # issue 18: holdouts before sends
        ],
        group_name=SYNC_GROUP,
        kinds={destination.type},
        description=f"{sync.mode} {sync.segment} -> {destination.name} ({destination.type}) "
        f"{sync.object}: only added, changed, removed and failed rows are sent; deletion "
        "requests, revoked consent and holdouts are kept out.",
        check_specs=[
            AssetCheckSpec(
                ERROR_RATE_CHECK,
                asset=key,
                description=f"Rows rejected by the destination stay under {MAX_ERROR_RATE:.0%}.",
            )
        ],
        pool=WAREHOUSE_POOL,
    )
    def run_one_sync(
        context: AssetExecutionContext, warehouse: WarehouseResource
    ) -> MaterializeResult:
        from reverse_etl.runner import run_sync
        from reverse_etl.stopping import StopRequest, run_stoppable

        stop = StopRequest(deadline_seconds=STOP_DEADLINE_SECONDS)
        try:
            settings = warehouse.settings()

            def run() -> RunResult:
                return run_sync(
                    settings,
                    paths.catalog(),
                    sync.name,
                    lock_dir=_lock_dir(paths),
                    stop=stop,
                    origin=f"dagster run {context.run.run_id[:8]}",
                )

            result = run_stoppable(run, stop)
        except Exception as exc:
            if isinstance(exc, AllRowsRejectedError):
                raise _all_rejected_failure(sync, exc) from None
            if configuration_error(exc):
                raise Failure(
                    description=f"sync {sync.name}: {type(exc).__name__}: {exc}",
                    metadata={"sync": sync.name, "error": type(exc).__name__},
                    allow_retries=False,
                ) from None
            # transient errors are retried (twice); anything else fails once, with its cause
            raise step_failure(
                context, f"sync {sync.name}", exc, TRANSIENT_RETRIES, TRANSIENT_WAIT_SECONDS
            ) from exc
        except BaseException:
            stopped = stop.result
            if isinstance(stopped, RunResult):
                context.log.warning(
                    f"sync {sync.name} {stopped.status}: {stopped.stats.sent_ok:,} rows "
                    "acknowledged and committed; the next run sends the rest"
                )
            raise
        return _materialization(context, sync, destination.name, settings, result)

    return run_one_sync


def _all_rejected_failure(sync: SyncConfig, exc: AllRowsRejectedError) -> Failure:
    """The destination answered and refused every row: the run is `failed`, as in the CLI,
    and the step fails once (sent again at once, the same rows are refused again; they are
    recorded in tessera_sync.errors and the next scheduled run retries them)."""
    result = exc.result
    metadata: dict[str, object] = {"sync": sync.name, "status": "failed"}
    if isinstance(result, RunResult):
        metadata |= {"run_id": result.run_id, "sent": 0, "rejected": result.stats.rejected}
    return Failure(
        description=f"sync {sync.name} failed: {exc}", metadata=metadata, allow_retries=False
    )


def _materialization(
    context: AssetExecutionContext,
    sync: SyncConfig,
    destination: str,
    settings: object,
    result: RunResult,
) -> MaterializeResult:
    counts = result.plan.counts
    stats = result.stats
    attempted = stats.sent_ok + stats.rejected
    error_rate = stats.rejected / attempted if attempted else 0.0
    removed = sum(stats.ok_by_kind.get(k, 0) for k in ("removed", "suppressed", "erased"))
    context.log.info(
        f"sync {sync.name}: {result.status}, planned {dict(counts)}, "
        f"sent {stats.sent_ok:,}, rejected {stats.rejected:,}, "
        f"not delivered {stats.not_delivered:,}" + (f" ({result.error})" if result.error else "")
    )
    return MaterializeResult(
        metadata={
            "status": result.status,
            "run_id": result.run_id,
            "destination": destination,
            "mode": sync.mode,
            "sent": stats.sent_ok,
            "added": stats.ok_by_kind.get("added", 0),
            "changed": stats.ok_by_kind.get("changed", 0) + stats.ok_by_kind.get("retry", 0),
            "removed": removed,
            "rejected": stats.rejected,
            # batches the destination never took (down, timeouts): pending, sent next run
            "not_delivered": stats.not_delivered,
            **{f"planned_{kind}": int(counts.get(kind, 0)) for kind in sorted(counts)},
            "requests": stats.calls,
            "rate_limited": stats.rate_limited,
            "rows_per_second": round(result.rows_per_second, 1),
            "seconds": round(result.seconds, 2),
            "recovered_from_journal": result.recovered_rows,
            "errors": MetadataValue.md(_errors_markdown(settings, sync.name, result)),
        },
        check_results=[
            AssetCheckResult(
                check_name=ERROR_RATE_CHECK,
                passed=error_rate <= MAX_ERROR_RATE,
                severity=AssetCheckSeverity.WARN,
                metadata={
                    "error_rate": round(error_rate, 4),
                    "rejected": stats.rejected,
                    "attempted": attempted,
                    "threshold": MAX_ERROR_RATE,
                },
            )
        ],
    )


def _errors_markdown(settings: object, sync_name: str, result: RunResult) -> str:
    """Where this run's rejected rows are, and their most common messages (scrubbed)."""
    where = (
        f"`tessera sync errors {sync_name}` · table `tessera_sync.errors` where "
        f"`run_id = '{result.run_id}'`"
    )
    if not result.stats.rejected:
        return f"No rows rejected. Rejected rows would be in {where}."
    from reverse_etl.alerts import scrub
    from tessera.warehouse import Warehouse

    with Warehouse(settings).session(read_only=True) as session:  # type: ignore[arg-type]
        ph = "?" if session.dialect == "duckdb" else "%s"
        frame = session.df(
            "select error, count(*) as n from tessera_sync.errors "
            f"where run_id = {ph} group by error order by n desc limit 1000",
            [result.run_id],
        )
    messages: Counter[str] = Counter()  # grouped once the values are scrubbed out
    for error, n in frame.itertuples(index=False):
        messages[scrub(str(error))[:200].replace("|", "/")] += int(n)
    lines = [f"{result.stats.rejected:,} rows rejected, retried next run: {where}", ""]
    lines += ["| rows | message |", "|---:|---|"]
    lines += [f"| {n:,} | {message} |" for message, n in messages.most_common(5)]
    return "\n".join(lines)


def _lock_dir(paths: SyncPaths) -> Path:
    paths.lock_dir.mkdir(parents=True, exist_ok=True)
    return paths.lock_dir
