"""Source freshness in the UI, from dbt's own freshness config and its own command.

Each source table with `freshness` (warn_after / error_after) and a `loaded_at_field` in its
sources YAML gets a `source_freshness` asset check on its asset (`raw/events` ...). One
multi-asset check step runs `dbt source freshness` once for all of them and reports each
table's newest load time, its age and dbt's verdict: pass, warn (a WARN check failure) or
error (an ERROR check failure). dbt's config stays the one place the thresholds live.
"""

from collections.abc import Iterator, Mapping
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

FRESHNESS_CHECK = "source_freshness"
FRESHNESS_STEP = "dbt_source_freshness"
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
            description=f"dbt source freshness of {props['source_name']}.{props['name']}: "
            f"{_describe_thresholds(props)} after the newest {_loaded_at(props)}.",
        )
        for key, props in sources.items()
    ]
    key_by_source = {props["unique_id"]: key for key, props in sources.items()}

    @multi_asset_check(
        specs=specs,
        name=FRESHNESS_STEP,
        description="`dbt source freshness` for every source with a freshness config.",
        pool=WAREHOUSE_POOL,
    )
    def dbt_source_freshness(
        context: AssetCheckExecutionContext, dbt: DbtCliResource
    ) -> Iterator[AssetCheckResult]:
        with step_failures(context, "dbt source freshness"):
            results = run_source_freshness(dbt, project)
        reported = set()
        for result in results:
            key = key_by_source.get(result.get("unique_id"))
            if key is None or key in reported:
                continue
            reported.add(key)
            yield freshness_result(key, result, sources[key])
        for key in sources.keys() - reported:
            yield AssetCheckResult(
                asset_key=key,
                check_name=FRESHNESS_CHECK,
                passed=False,
                severity=AssetCheckSeverity.WARN,
                description="dbt source freshness reported nothing for this source",
            )

    return dbt_source_freshness


def run_source_freshness(dbt: DbtCliResource, project: DbtProject) -> list[dict]:
    """Run `dbt source freshness`; its per-source results (sources.json). A stale source makes
    dbt exit non-zero, which is a result here, not a failure of the step."""
    target = Path(project.target_path) / "source_freshness"
    invocation = dbt.cli(
        ["source", "freshness"],
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


def freshness_result(
    key: AssetKey, result: Mapping[str, Any], props: Mapping[str, Any]
) -> AssetCheckResult:
    status = str(result.get("status") or "runtime error")
    age_seconds = result.get("max_loaded_at_time_ago_in_s")
    metadata: dict[str, Any] = {
        "dbt_status": status,
        "loaded_at": _loaded_at(props),
        "warn_after_hours": _hours(props, "warn_after"),
        "error_after_hours": _hours(props, "error_after"),
    }
    if result.get("max_loaded_at"):
        metadata["max_loaded_at"] = str(result["max_loaded_at"])
        metadata["snapshotted_at"] = str(result.get("snapshotted_at") or "")
    if age_seconds is not None:
        metadata["age_hours"] = round(float(age_seconds) / 3600, 2)
    if status == "pass":
        return AssetCheckResult(
            asset_key=key,
            check_name=FRESHNESS_CHECK,
            passed=True,
            description=f"newest {_loaded_at(props)} {_age(age_seconds)}",
            metadata=metadata,
        )
    if status == "warn":
        description = f"stale (warn): newest {_loaded_at(props)} {_age(age_seconds)}"
    elif status == "error":
        description = f"stale (error): newest {_loaded_at(props)} {_age(age_seconds)}"
    else:
        description = f"dbt could not check freshness: {_first_line(result.get('message'))}"
    return AssetCheckResult(
        asset_key=key,
        check_name=FRESHNESS_CHECK,
        passed=False,
        severity=AssetCheckSeverity.WARN if status == "warn" else AssetCheckSeverity.ERROR,
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
