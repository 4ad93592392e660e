"""Source freshness in the UI, from dbt's own freshness config.

Each source table with `freshness` (warn_after / error_after) and a `loaded_at_field` in its
sources YAML gets a `source_freshness` asset check on its asset (`raw/events` ...). One
multi-asset check step judges them all as `dbt source freshness` does: the newest
`loaded_at_field` (rows matching the config's `filter`), its age against now (naive
timestamps taken as UTC), `error` past error_after, `warn` past warn_after, else `pass`;
a warn is a WARN check failure, an error an ERROR one. dbt's YAML stays the one place the
thresholds live.

It asks the warehouse directly, one `max()` per table, rather than running `dbt source
freshness`: that command is a whole dbt start-up and parse, 18 s per refresh where these
queries took 0.25 s (the demo's warehouse at 1,200 persons, same loaded machine), on top of
every incremental refresh. An optional source (`meta.required: false`) whose table is not
loaded is reported as absent and passes: there is nothing to be stale.
Sources configured with a `loaded_at_query` (Jinja dbt renders) are the exception: those are
handed to `dbt source freshness --select` itself. tests/orchestration compares the two.
"""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckKey,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    multi_asset_check,
)
from dagster_dbt import DbtCliResource, DbtProject

from orchestration.config import WAREHOUSE_POOL
from orchestration.dbt_assets import source_asset_key
from orchestration.failures import step_failures
from orchestration.resources import WarehouseResource
from tessera.warehouse import Session, Warehouse

FRESHNESS_CHECK = "source_freshness"
FRESHNESS_STEP = "source_freshness"
ABSENT = "absent"
_PERIOD_HOURS = {"minute": 1 / 60, "hour": 1.0, "day": 24.0}


def freshness_sources(manifest: Mapping[str, Any]) -> dict[AssetKey, Mapping[str, Any]]:
    """Source tables dbt can judge: a threshold and a loaded-at field or query."""
    found: dict[AssetKey, Mapping[str, Any]] = {}
    for props in manifest.get("sources", {}).values():
        if not _thresholds(props) or not (
            props.get("loaded_at_field") or props.get("loaded_at_query")
        ):
            continue
        found.setdefault(source_asset_key(props), props)
    return found


def freshness_check_keys(manifest: Mapping[str, Any]) -> list[AssetCheckKey]:
    return [AssetCheckKey(key, FRESHNESS_CHECK) for key in freshness_sources(manifest)]


def build_source_freshness_check(
    manifest: Mapping[str, Any], project: DbtProject
) -> AssetChecksDefinition | None:
    sources = freshness_sources(manifest)
    if not sources:
        return None
    specs = [
        AssetCheckSpec(
            FRESHNESS_CHECK,
            asset=key,
            description=f"Source freshness of {props['source_name']}.{props['name']} (dbt "
            f"config): {_describe_thresholds(props)} after the newest {_loaded_at(props)}.",
        )
        for key, props in sources.items()
    ]

    @multi_asset_check(
        specs=specs,
        name=FRESHNESS_STEP,
        description="Source freshness, as dbt's freshness config defines it, for every source "
        "table that has one.",
        pool=WAREHOUSE_POOL,
    )
    def source_freshness(
        context: AssetCheckExecutionContext, warehouse: WarehouseResource, dbt: DbtCliResource
    ) -> Iterator[AssetCheckResult]:
        with step_failures(context, "source freshness"):
            verdicts = judge_sources(warehouse.warehouse(), sources, dbt, project)
        for key, verdict in verdicts.items():
            yield freshness_result(key, verdict, sources[key])

    return source_freshness


@dataclass(frozen=True)
class Verdict:
    # pass | warn | error | runtime error, as dbt says; absent: an optional source not loaded
    status: str
    max_loaded_at: datetime | None = None
    age_seconds: float | None = None
    message: str = ""


def judge_sources(
    warehouse: Warehouse,
    sources: Mapping[AssetKey, Mapping[str, Any]],
    dbt: DbtCliResource | None = None,
    project: DbtProject | None = None,
    now: datetime | None = None,
) -> dict[AssetKey, Verdict]:
    """Each source's verdict: in SQL for a `loaded_at_field`, by dbt for a `loaded_at_query`."""
    by_query = {key: props for key, props in sources.items() if not props.get("loaded_at_field")}
    verdicts: dict[AssetKey, Verdict] = {}
    with warehouse.session(read_only=warehouse.dialect == "duckdb") as session:
        now = now or datetime.now(UTC)
        for key, props in sources.items():
            if key not in by_query:
                verdicts[key] = judge(session, props, now)
    if by_query:
        if dbt is None or project is None:
            raise ValueError("sources with a loaded_at_query need dbt to judge them")
        results = run_source_freshness(dbt, project, [p["unique_id"] for p in by_query.values()])
        by_id = {r.get("unique_id"): r for r in results}
        for key, props in by_query.items():
            verdicts[key] = verdict_from_dbt(by_id.get(props["unique_id"]))
    return verdicts


def judge(session: Session, props: Mapping[str, Any], now: datetime) -> Verdict:
    relation = f"{props['schema']}.{props.get('identifier') or props['name']}"
    if not session.table_exists(props["schema"], props.get("identifier") or props["name"]):
        if (props.get("meta") or {}).get("required") is False:
            return Verdict(ABSENT, message=f"optional source {relation} is not loaded here")
        return Verdict("runtime error", message=f"{relation} does not exist")
    condition = (props.get("freshness") or {}).get("filter")
    where = f" where {condition}" if condition else ""
    newest = session.scalar(f"select max({props['loaded_at_field']}) from {relation}{where}")
    if newest is None:
        return Verdict(
            "error", message=f"{relation} has no rows{' matching the filter' if where else ''}"
        )
    if not isinstance(newest, datetime):  # a date column
        newest = datetime.combine(newest, time.min)
    newest = newest.replace(tzinfo=UTC) if newest.tzinfo is None else newest.astimezone(UTC)
    age = (now - newest).total_seconds()
    error, warn = _hours(props, "error_after"), _hours(props, "warn_after")
    if error is not None and age > error * 3600:
        status = "error"
    elif warn is not None and age > warn * 3600:
        status = "warn"
    else:
        status = "pass"
    return Verdict(status, newest, age)


def verdict_from_dbt(result: Mapping[str, Any] | None) -> Verdict:
    if result is None:
        return Verdict("runtime error", message="dbt source freshness reported nothing")
    loaded = result.get("max_loaded_at")
    return Verdict(
        str(result.get("status") or "runtime error"),
        datetime.fromisoformat(str(loaded).replace("Z", "+00:00")) if loaded else None,
        result.get("max_loaded_at_time_ago_in_s"),
        str(result.get("message") or ""),
    )


def run_source_freshness(
    dbt: DbtCliResource, project: DbtProject, unique_ids: list[str] | None = None
) -> list[dict]:
    """Run `dbt source freshness` (for these sources); its per-source results (sources.json).
    A stale source makes dbt exit non-zero, which is a result here, not a failure."""
    target = Path(project.target_path) / "source_freshness"
    select = []
    if unique_ids:
        select = ["--select", *(f"source:{uid.split('.', 2)[2]}" for uid in unique_ids)]
    invocation = dbt.cli(
        ["source", "freshness", *select],
        manifest=project.manifest_path,
        target_path=target,
        raise_on_error=False,
    )
    invocation.wait()
    try:
        return list(invocation.get_artifact("sources.json").get("results") or [])
    except FileNotFoundError:
        error = invocation.get_error()
        raise RuntimeError(f"dbt source freshness wrote no results: {error}") from None


def freshness_result(key: AssetKey, verdict: Verdict, props: Mapping[str, Any]) -> AssetCheckResult:
    metadata: dict[str, Any] = {
        "status": verdict.status,
        "loaded_at": _loaded_at(props),
        "warn_after_hours": _hours(props, "warn_after"),
        "error_after_hours": _hours(props, "error_after"),
    }
    if verdict.max_loaded_at is not None:
        metadata["max_loaded_at"] = verdict.max_loaded_at.isoformat()
    if verdict.age_seconds is not None:
        metadata["age_hours"] = round(float(verdict.age_seconds) / 3600, 2)
    newest = f"newest {_loaded_at(props)} {_age(verdict.age_seconds)}"
    if verdict.status == ABSENT:  # nothing to be stale: the source is optional and not used
        return AssetCheckResult(
            asset_key=key,
            check_name=FRESHNESS_CHECK,
            passed=True,
            severity=AssetCheckSeverity.WARN,
            description=verdict.message,
            metadata=metadata,
        )
    if verdict.status == "pass":
        return AssetCheckResult(
            asset_key=key,
            check_name=FRESHNESS_CHECK,
            passed=True,
            description=newest,
            metadata=metadata,
        )
    if verdict.status in ("warn", "error") and verdict.age_seconds is not None:
        description = f"stale ({verdict.status}): {newest}"
    else:
        description = f"freshness not known: {_first_line(verdict.message)}"
    return AssetCheckResult(
        asset_key=key,
        check_name=FRESHNESS_CHECK,
        passed=False,
        severity=AssetCheckSeverity.WARN if verdict.status == "warn" else AssetCheckSeverity.ERROR,
        description=description,
        metadata=metadata,
    )


def _thresholds(props: Mapping[str, Any]) -> dict[str, float]:
    return {
        name: hours
        for name in ("warn_after", "error_after")
        if (hours := _hours(props, name)) is not None
    }


def _hours(props: Mapping[str, Any], name: str) -> float | None:
    rule = (props.get("freshness") or {}).get(name) or {}
    count, period = rule.get("count"), rule.get("period")
    if count is None or period not in _PERIOD_HOURS:
        return None
    return float(count) * _PERIOD_HOURS[period]


def _describe_thresholds(props: Mapping[str, Any]) -> str:
    parts = [f"{name.replace('_', ' ')} {hours:g} h" for name, hours in _thresholds(props).items()]
    return ", ".join(parts)


def _loaded_at(props: Mapping[str, Any]) -> str:
    return str(props.get("loaded_at_field") or "loaded_at_query")


def _age(age_seconds: Any) -> str:
    if age_seconds is None:
        return "unknown"
    hours = float(age_seconds) / 3600
    if hours < 0:
        return f"is {-hours:.1f} h ahead of now"
    return f"is {hours:.1f} h old"


def _first_line(text: Any) -> str:
    lines = str(text or "no message").strip().splitlines()
    return lines[0] if lines else "no message"
