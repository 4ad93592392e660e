"""Configuration errors fail a step once with their cause; transient errors are retried.

Real Dagster runs on an ephemeral instance; the transient error is a real DuckDB lock held by
another process, and the dbt case is dbt failing to open a warehouse it cannot create.
"""

import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from dagster import (
    AssetExecutionContext,
    AssetKey,
    DagsterEventType,
    DagsterInstance,
    Failure,
    asset,
    materialize,
)

from orchestration.builder import SYNC_CONFIGURATION, build_definitions
from orchestration.config import OrchestrationConfig
from orchestration.dbt_assets import dbt_failure_message, refuse_invalid_segments
from orchestration.dbt_project import ensure_manifest, tessera_dbt_project
from orchestration.failures import describe, is_transient, step_failures
from orchestration.freshness import FRESHNESS_STEP
from orchestration.jobs import INCREMENTAL_REFRESH
from orchestration.resources import build_resources
from reverse_etl.config import ConfigError
from tessera.settings import PROJECT_ROOT, Settings, SettingsError
from tessera.warehouse import Warehouse, WarehouseError
from tests.orchestration.orchestration_env import OrchestrationEnv


def _run(asset_def) -> tuple[bool, list[str], int]:  # noqa: ANN001 - an AssetsDefinition
    """Materialize one asset; (success, step failure descriptions, retries)."""
    instance = DagsterInstance.ephemeral()
    result = materialize([asset_def], instance=instance, raise_on_error=False)
    failures = [
        event.step_failure_data.user_failure_data.description
        for event in result.all_events
        if event.event_type == DagsterEventType.STEP_FAILURE
        and event.step_failure_data.user_failure_data is not None
    ]
    retries = sum(
        1 for e in result.all_events if e.event_type == DagsterEventType.STEP_UP_FOR_RETRY
    )
    return result.success, failures, retries


def test_a_configuration_error_fails_once_with_its_cause_as_the_message() -> None:
    attempts: list[int] = []

    @asset
    def needs_a_token(context: AssetExecutionContext) -> None:
        attempts.append(context.retry_number)
        with step_failures(context, "sync hubspot_lapsed_vips"):
            raise ConfigError(
                "destination 'hubspot' needs environment variable HUBSPOT_PRIVATE_APP_TOKEN"
            )

    success, failures, retries = _run(needs_a_token)
    assert not success
    assert attempts == [0] and retries == 0, "a missing credential is not retried"
    assert failures == [
        "sync hubspot_lapsed_vips failed: destination 'hubspot' needs environment variable "
        "HUBSPOT_PRIVATE_APP_TOKEN"
    ]


def test_a_bug_is_not_retried_and_keeps_its_type_in_the_message() -> None:
    @asset
    def buggy(context: AssetExecutionContext) -> None:
        with step_failures(context, "scoring"):
            {}["churn"]  # noqa: B018 - the bug under test

    success, failures, retries = _run(buggy)
    assert not success and retries == 0
    assert failures == ["scoring failed: KeyError: 'churn'"]


def test_a_locked_warehouse_is_retried_then_named_in_the_message(tmp_path: Path) -> None:
    path = tmp_path / "locked.duckdb"
    holder = _hold_write_lock(path)
    attempts: list[int] = []
    try:

        @asset
        def writer(context: AssetExecutionContext) -> None:
            attempts.append(context.retry_number)
            with step_failures(context, "segment membership", wait_seconds=0):
                settings = Settings.from_env({"TESSERA_WAREHOUSE": str(path)})
                with Warehouse(settings).session() as session:
                    session.execute("select 1")

        success, failures, retries = _run(writer)
    finally:
        holder.kill()
        holder.wait()
    assert not success
    assert attempts == [0, 1, 2] and retries == 2, "a lock held elsewhere is transient"
    assert len(failures) == 1
    assert failures[0].startswith("segment membership failed: could not open DuckDB warehouse")
    assert "lock" in failures[0].lower()
    assert failures[0].endswith("(gave up after 3 attempts)")


def test_an_interrupted_step_is_not_retried() -> None:
    """Cancelling a run interrupts its step; under a RetryPolicy Dagster would start the step
    again, so warehouse steps have none and step_failures lets interrupts through."""
    attempts: list[int] = []

    @asset
    def cancelled(context: AssetExecutionContext) -> None:
        attempts.append(context.retry_number)
        with step_failures(context, "dbt build", wait_seconds=0):
            raise KeyboardInterrupt

    success, _, retries = _run(cancelled)
    assert not success
    assert attempts == [0] and retries == 0


def test_transient_and_configuration_errors_are_told_apart() -> None:
    import requests

    from reverse_etl.destinations.base import RateLimitedError
    from reverse_etl.lock import SyncLockedError

    assert is_transient(requests.ConnectionError("connection refused"))
    assert is_transient(RateLimitedError("429", retry_after=1.0))
    assert is_transient(SyncLockedError("sync 'x' is already running"))
    wrapped = WarehouseError("could not open")
    wrapped.__cause__ = OSError('IO Error: Could not set lock on file "w.duckdb"')
    assert is_transient(wrapped), "the cause chain is read"
    assert not is_transient(SettingsError("TESSERA_TARGET='x' is not a supported target"))
    assert not is_transient(ConfigError("syncs.yml, line 3: unknown key 'destinaton'"))
    assert not is_transient(WarehouseError("IO Error: Cannot open file warehouse/x.duckdb"))
    assert describe(SettingsError("TESSERA_TARGET='x'")) == "TESSERA_TARGET='x'"
    assert describe(ValueError("bad")) == "ValueError: bad"


def _hold_write_lock(path: Path) -> subprocess.Popen:
    """Another process that opens `path` for writing and keeps it open."""
    code = textwrap.dedent(
        f"""
        import duckdb, sys, time
        con = duckdb.connect({str(path)!r})
        con.execute("create table t as select 1 as x")
        print("ready", flush=True)
        time.sleep(600)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def test_dbt_failing_to_open_the_warehouse_fails_once_naming_the_file(
    orchestration_env: OrchestrationEnv, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The first-hour failure of issue 21: dbt cannot open the warehouse file. Before, the step
    was retried three times and the run said only `Exceeded max_retries of 2`."""
    missing = tmp_path / "no-such-dir" / "tessera.duckdb"
    env = {**orchestration_env.env, "TESSERA_WAREHOUSE": str(missing)}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    defs = build_definitions(OrchestrationConfig.from_env(env))
    result = defs.resolve_job_def(INCREMENTAL_REFRESH).execute_in_process(
        instance=DagsterInstance.ephemeral(), raise_on_error=False
    )
    assert not result.success
    retries = [e for e in result.all_events if e.event_type == DagsterEventType.STEP_UP_FOR_RETRY]
    assert not retries, "a warehouse dbt cannot open is a configuration error"
    failures = {
        e.step_key: e.step_failure_data.user_failure_data.description
        for e in result.all_events
        if e.event_type == DagsterEventType.STEP_FAILURE
    }
    # dbt's multi-asset runs as one step per stretch between other assets (tessera_dbt_models,
    # tessera_dbt_models_2 ...); whichever ran failed the same way
    dbt_steps = [key for key in failures if key.startswith("tessera_dbt_models")]
    assert dbt_steps, failures
    for key in dbt_steps:
        assert failures.pop(key) == (
            f'dbt build failed: IO Error: Cannot open file "{missing}": No such file or directory'
        ), key
    # the freshness checks on the sources and the report asset (freshness_report) need it too
    assert set(failures) <= {FRESHNESS_STEP, "sources__source_freshness"}, failures
    for other in failures.values():
        assert other.startswith("source freshness failed: ") and str(missing) in other
    run_failure = next(e for e in result.all_events if e.event_type == DagsterEventType.RUN_FAILURE)
    assert "tessera_dbt_models" in run_failure.message


def test_a_failing_dbt_node_is_named_with_dbts_message(
    orchestration_env: OrchestrationEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in orchestration_env.env.items():
        monkeypatch.setenv(name, value)
    config = OrchestrationConfig.from_env(orchestration_env.env)
    with Warehouse(config.settings).session() as session:
        session.execute("alter table raw.consents rename to consents_moved")
    project = tessera_dbt_project(config)
    ensure_manifest(project, config.settings)
    dbt = build_resources(config.settings, project)["dbt"]
    invocation = dbt.cli(
        ["run", "--select", "stg_cmp__consents"],
        target_path=project.target_path,
        raise_on_error=False,
        manifest=project.manifest_path,
    )
    invocation.wait()
    message = dbt_failure_message(invocation)
    assert message.startswith("1 dbt node(s) failed:\nmodel.tessera.stg_cmp__consents: ")
    assert "consents" in message.splitlines()[1].split(": ", 1)[1]


def test_a_sync_that_cannot_open_its_warehouse_fails_once_naming_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sync step catches its own errors; anything neither transient nor a known
    configuration error (here a file that is not a DuckDB database) used to be retried
    three times and end as `Exceeded max_retries of 2`."""
    from orchestration.resources import WarehouseResource
    from orchestration.sync_assets import build_sync_assets, load_catalog
    from reverse_etl.runner import SyncPaths

    not_duckdb = tmp_path / "warehouse.duckdb"
    not_duckdb.write_bytes(b"a spreadsheet someone renamed\n" * 100)
    for name, value in {
        "TESSERA_WAREHOUSE": str(not_duckdb),
        "TESSERA_ARTIFACTS": str(tmp_path / "artifacts"),
        "HUBSPOT_PRIVATE_APP_TOKEN": "pat-test",
        "HUBSPOT_BASE_URL": "http://127.0.0.1:9",  # never reached
    }.items():
        monkeypatch.setenv(name, value)
    settings = Settings.from_env()
    paths = SyncPaths.default(settings)
    catalog = load_catalog(paths)
    assert catalog is not None, "the project's starter syncs"
    sync = next(
        a for a in build_sync_assets(catalog, paths) if a.key.path[-1] == "hubspot_lapsed_vips"
    )
    result = materialize(
        [sync],
        resources={"warehouse": WarehouseResource(duckdb_path=str(not_duckdb))},
        instance=DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    assert not result.success
    events = result.all_events
    assert not [e for e in events if e.event_type == DagsterEventType.STEP_UP_FOR_RETRY]
    (failure,) = [
        e.step_failure_data.user_failure_data.description
        for e in events
        if e.event_type == DagsterEventType.STEP_FAILURE
    ]
    assert failure.startswith(
        f"sync hubspot_lapsed_vips failed: could not open DuckDB warehouse {not_duckdb}"
    )
    assert "not a valid DuckDB database" in failure


def test_a_sync_yaml_that_does_not_parse_fails_one_step_and_the_rest_still_loads(
    orchestration_env: OrchestrationEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bad YAML in a sync file used to stop the code location from loading (every job with
    it); now the refresh jobs load and one step fails, naming the file, line and column."""
    for name, value in orchestration_env.env.items():
        monkeypatch.setenv(name, value)
    syncs = Path(orchestration_env.env["TESSERA_SYNCS_DIR"])
    broken = syncs / "starter_syncs.yml"
    broken.write_text(broken.read_text() + "  - name: typo\n    segment: [unclosed\n")
    defs = build_definitions(OrchestrationConfig.from_env(orchestration_env.env))
    graph = defs.resolve_asset_graph()
    assert SYNC_CONFIGURATION in graph.get_all_asset_keys()
    assert (
        SYNC_CONFIGURATION
        in defs.resolve_job_def(INCREMENTAL_REFRESH).asset_layer.selected_asset_keys
    )
    success, failures, retries = _run(defs.get_assets_def(SYNC_CONFIGURATION))
    assert not success and retries == 0
    (failure,) = failures
    # file:line:column, one line
    assert re.match(
        rf"loading syncs failed: {re.escape(str(broken))}:\d+:\d+: not valid YAML", failure
    )
    assert "\n" not in failure


def test_an_invalid_segment_fails_the_dbt_step_once_at_its_line_and_column(
    tmp_path: Path,
) -> None:
    """The dbt step refuses, before dbt runs, a selected segment the gate rejects."""
    project = tmp_path / "dbt_project"
    tracked = subprocess.run(
        ["git", "ls-files", "-z", "dbt_project"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, (t.decode() for t in tracked)):
        target = tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(PROJECT_ROOT / name, target)
    segments = project / "models" / "segments"
    (segments / "broken.yml").write_text(
        (segments / "lapsed_vips.yml").read_text().replace("lapsed_vips", "broken")
    )
    (segments / "broken.sql").write_text(
        "select person_id\nfrom {{ ref('customer_profiles') }}\n"
        "where lifecycle_stage = 'at_risk' and and orders_count > 2\n"
    )
    with pytest.raises(Failure) as raised:
        refuse_invalid_segments(project, [AssetKey(["segments", "broken"])])
    assert raised.value.allow_retries is False
    assert "models/segments/broken.sql (line 3, column 39)" in raised.value.description
