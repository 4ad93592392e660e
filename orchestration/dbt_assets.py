"""dbt models as Dagster assets: keyed `<schema>/<model>`, grouped by their models/ folder.

dbt tests become asset checks (dagster-dbt's default). After each build, row counts and
layer statistics are attached to every materialisation so the UI shows what was built.

Two dbt tags decide what the frequent incremental refresh leaves to the nightly full
refresh: models tagged `nightly` (monitoring tables nobody segments on) are only rebuilt
nightly, and only tests tagged `critical` (keys of what leaves the warehouse) run on every
refresh; every test runs nightly.
"""

import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from dagster import (
    AssetCheckKey,
    AssetExecutionContext,
    AssetKey,
    AssetSelection,
    AssetSpec,
    Backoff,
    Failure,
    RetryPolicy,
)
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets
from dagster_dbt.asset_utils import get_asset_check_key_for_test

from orchestration.config import WAREHOUSE_POOL
from orchestration.failures import step_failures
from orchestration.observability import relation_metadata
from orchestration.resources import WarehouseResource
from tessera.segments.checks import InvalidSegmentsError, require_valid_segments

DBT_ASSETS_NAME = "tessera_dbt_models"

# The ML assets' retry policy until they use orchestration.failures.step_failures, which
# retries transient errors only and needs no policy (a policy also retries a cancelled step).
WAREHOUSE_RETRY = RetryPolicy(max_retries=2, delay=10, backoff=Backoff.LINEAR)


# Run tag set by the full_refresh job: dbt rebuilds incremental models from scratch.
FULL_REFRESH_TAG = "tessera/dbt_full_refresh"

NIGHTLY_MODEL_TAG = "nightly"
CRITICAL_TEST_TAG = "critical"


class TesseraDbtTranslator(DagsterDbtTranslator):
    """Models are keyed by schema folder and name; sources by schema and table."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return source_asset_key(dbt_resource_props)
        return AssetKey([model_folder(dbt_resource_props), dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "source":
            return str(dbt_resource_props["schema"]).lower()
        return model_folder(dbt_resource_props)


def model_folder(props: Mapping[str, Any]) -> str:
    """The first folder under models/ (staging, identity, profiles, features, segments)."""
    fqn = props.get("fqn") or []
    return fqn[1] if len(fqn) > 2 else "default"


def source_asset_key(props: Mapping[str, Any]) -> AssetKey:
    table = props.get("identifier") or props["name"]
    return AssetKey([str(props["schema"]).lower(), str(table).lower()])


def load_manifest(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def source_specs(manifest: Mapping[str, Any], produced: set[AssetKey]) -> list[AssetSpec]:
    """External assets for the tables dbt reads but nothing here builds (raw.* and the like),
    so lineage starts at the sources and each sits in its schema's group."""
    specs: dict[AssetKey, AssetSpec] = {}
    for props in manifest.get("sources", {}).values():
        key = source_asset_key(props)
        if key in produced or key in specs:
            continue
        specs[key] = AssetSpec(
            key=key,
            group_name=key.path[0],
            description=props.get("description") or f"source table {key.to_user_string()}",
        )
    return list(specs.values())


def nightly_only(manifest: Mapping[str, Any], project: DbtProject) -> AssetSelection:
    """Models tagged `nightly` and every test not tagged `critical`: what the incremental
    refresh leaves to the full refresh."""
    translator = TesseraDbtTranslator()
    models: list[AssetKey] = []
    checks: list[AssetCheckKey] = []
    for unique_id, node in manifest.get("nodes", {}).items():
        tags = set(node.get("tags") or [])
        if node.get("resource_type") == "model" and NIGHTLY_MODEL_TAG in tags:
            models.append(translator.get_asset_key(node))
        elif node.get("resource_type") == "test" and CRITICAL_TEST_TAG not in tags:
            key = get_asset_check_key_for_test(manifest, translator, unique_id, project)
            if key is not None:
                checks.append(key)
    # selecting a model's key selects its checks too
    return AssetSelection.assets(*models) | AssetSelection.checks(*checks)


def build_dbt_assets(project: DbtProject, manifest_path: Path):
    manifest = load_manifest(manifest_path)
    relations = {
        uid: node["relation_name"]
        for uid, node in manifest.get("nodes", {}).items()
        if node.get("resource_type") in ("model", "seed", "snapshot")
        and node.get("relation_name")
        and counts_rows(node)
    }

    @dbt_assets(
        manifest=manifest_path,
        project=project,
        dagster_dbt_translator=TesseraDbtTranslator(),
        name=DBT_ASSETS_NAME,
        pool=WAREHOUSE_POOL,
    )
    def tessera_dbt_models(
        context: AssetExecutionContext,
        dbt: DbtCliResource,
        warehouse: WarehouseResource,
    ) -> Iterator[Any]:
        full_refresh = context.run.tags.get(FULL_REFRESH_TAG) == "true"
        # dbt unit tests check SQL logic on fixed inputs: CI runs them (`make test`), and, as
        # dbt advises, production builds skip them.
        args = [
            "build",
            *(["--full-refresh"] if full_refresh else []),
            "--exclude-resource-type",
            "unit_test",
        ]
        with step_failures(context, "dbt build --full-refresh" if full_refresh else "dbt build"):
            refuse_invalid_segments(project.project_dir, context.selected_asset_keys)
            invocation = dbt.cli(
                args, context=context, target_path=project.target_path, raise_on_error=False
            )
            # dbt holds the DuckDB write lock until it exits, so the events are collected
            # first and enriched with row counts read afterwards.
            events = list(invocation.stream())
            yield from _with_relation_metadata(events, relations, warehouse)
            if not invocation.is_successful():
                raise DbtBuildError(dbt_failure_message(invocation))

    return tessera_dbt_models


class DbtBuildError(RuntimeError):
    """dbt exited non-zero; the message names the failing nodes and dbt's own errors."""


def dbt_failure_message(invocation: Any, max_nodes: int = 5) -> str:
    """What failed, node by node from run_results.json (`model.tessera.x: <dbt's message>`),
    or dbt's own error lines when it failed before running any node (a bad profile, a
    missing warehouse file, a parse error)."""
    failed = [
        f"{r['unique_id']}: {_first_lines(r.get('message') or r.get('status') or '')}"
        for r in _run_results(invocation)
        if r.get("status") in ("error", "fail", "runtime error")
    ]
    if failed:
        more = f" (and {len(failed) - max_nodes} more)" if len(failed) > max_nodes else ""
        return f"{len(failed)} dbt node(s) failed{more}:\n" + "\n".join(failed[:max_nodes])
    error = invocation.get_error()
    lines = [line.strip() for line in str(error or "").splitlines() if line.strip()]
    if "Errors parsed from dbt logs:" in lines:
        lines = lines[lines.index("Errors parsed from dbt logs:") + 1 :]
    # dbt's own framing and the Python traceback it appends are noise on a run page.
    lines = [line for line in lines if line != "Encountered an error:"]
    if "Traceback (most recent call last):" in lines:
        lines = lines[: lines.index("Traceback (most recent call last):")]
    return _first_lines("\n".join(lines) or f"dbt exited with {invocation.process.returncode}")


def _run_results(invocation: Any) -> list[dict]:
    try:
        return list(invocation.get_artifact("run_results.json").get("results") or [])
    except (OSError, ValueError):
        return []


def _first_lines(text: str, max_lines: int = 6, max_chars: int = 600) -> str:
    lines = [line.rstrip() for line in str(text).strip().splitlines() if line.strip()]
    short = "\n".join(lines[:max_lines])
    return short if len(short) <= max_chars else short[: max_chars - 1] + "…"


def counts_rows(node: Mapping[str, Any]) -> bool:
    """Whether the UI gets this model's row count. Stored relations always; views only when
    they are what people look at (customer_profiles): counting a view runs its query, and a
    staging or intermediate view re-reads every raw row (stg_segment__events normalises every
    event), which would double an incremental refresh."""
    if node.get("config", {}).get("materialized") != "view":
        return True
    name = str(node.get("name", ""))
    return (
        model_folder(node) != "staging"
        and "intermediate" not in (node.get("fqn") or [])
        and not name.startswith(("stg_", "int_"))
    )


def refuse_invalid_segments(project_dir: Path, selected: Iterable[AssetKey]) -> None:
    """Fail, without retries, before dbt runs any selected segment the validator rejects."""
    segments = [key.path[-1] for key in selected if key.path[0] == "segments"]
    if not segments:
        return
    try:
        require_valid_segments(project_dir, segments)
    except InvalidSegmentsError as exc:
        raise Failure(description=str(exc), allow_retries=False) from None


def _with_relation_metadata(
    events: list[Any], relations: Mapping[str, str], warehouse: WarehouseResource
) -> Iterator[Any]:
    built = {_unique_id(ev) for ev in events if hasattr(ev, "with_metadata")}
    wanted = {uid: relations[uid] for uid in built if uid in relations}
    extra = relation_metadata(warehouse.warehouse(), wanted) if wanted else {}
    for ev in events:
        uid = _unique_id(ev)
        if uid in extra:
            ev = ev.with_metadata({**ev.metadata, **extra[uid]})
        yield ev


def _unique_id(event: Any) -> str | None:
    value = getattr(event, "metadata", {}).get("unique_id")
    return getattr(value, "value", None)
