"""Sync assets in a real Dagster: metadata users look for, configuration errors (and a run
whose every row was rejected) that fail once with their cause, and a cancelled run that stops
the sync gracefully."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from dagster import DagsterEventType, DagsterInstance, materialize
from retl_helpers import (
    execute,
    expected_contacts,
    hubspot_destination,
    hubspot_sync,
    live_contacts,
    query,
    run,
    sync_paths,
)

from orchestration.resources import WarehouseResource
from orchestration.sync_assets import build_sync_assets
from reverse_etl.testing import EmulatorHandle, start_emulator
from tessera.settings import Settings

ROOT = Path(__file__).resolve().parents[2]

MATERIALIZE = """
import sys
from pathlib import Path
from dagster import DagsterInstance, materialize
from orchestration.resources import WarehouseResource
from orchestration.sync_assets import build_sync_assets
from reverse_etl.runner import SyncPaths

syncs, locks, warehouse = sys.argv[1:4]
paths = SyncPaths(Path(syncs), None, Path(locks))
print("materializing", flush=True)
result = materialize(
    build_sync_assets(paths.catalog(), paths),
    resources={"warehouse": WarehouseResource(duckdb_path=warehouse)},
    instance=DagsterInstance.ephemeral(),
    raise_on_error=False,
)
print("success" if result.success else "step failed", flush=True)
"""


def materialize_syncs(settings: Settings, paths: Any) -> Any:
    return materialize(
        build_sync_assets(paths.catalog(), paths),
        resources={"warehouse": WarehouseResource(duckdb_path=str(settings.warehouse_path))},
        instance=DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


@pytest.fixture
def artifacts_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TESSERA_WAREHOUSE", str(settings.warehouse_path))
    monkeypatch.setenv("TESSERA_ARTIFACTS", str(settings.artifacts_dir))


def test_sync_asset_metadata_off_the_main_thread(
    tmp_path: Path,
    settings: Settings,
    hubspot: EmulatorHandle,
    artifacts_env: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slack = start_emulator("slack", token="T-SECRET")
    monkeypatch.setenv("TESSERA_ALERT_WEBHOOK_URL", f"{slack.base_url}/services/T-SECRET")
    execute(
        settings,
        "update segments.test_audience set email = 'bad-' || person_id "
        "where person_id between 'p0000001' and 'p0000003'",
    )
    paths = sync_paths(tmp_path, [hubspot_destination(hubspot.base_url)], [hubspot_sync()])
    box: dict[str, Any] = {}
    # a host that runs the step off the main thread: no signal handler may be installed there
    worker = threading.Thread(target=lambda: box.update(result=materialize_syncs(settings, paths)))
    worker.start()
    worker.join(timeout=120)
    result = box["result"]
    assert result.success
    [materialization] = result.asset_materializations_for_node("sync__crm")
    metadata = {k: v.value for k, v in materialization.metadata.items()}
    assert metadata["status"] == "partial"
    assert (metadata["sent"], metadata["added"], metadata["rejected"]) == (1957, 1957, 3)
    assert metadata["not_delivered"] == 0
    assert metadata["changed"] == 0 and metadata["removed"] == 0
    assert metadata["rows_per_second"] > 0
    assert "tessera sync errors crm" in metadata["errors"]
    assert "| 3 |" in metadata["errors"] and "bad-p0000001" not in metadata["errors"]
    origin = query(settings, "select origin from tessera_sync.runs").origin[0]
    assert origin.startswith("dagster run ")
    [alert] = slack.app.messages  # the partial run alerted from Dagster as from the CLI
    assert f"from {origin}" in alert["text"] and "partial" in alert["text"]
    slack.stop()


def test_a_missing_credential_fails_once_with_its_cause(
    tmp_path: Path,
    settings: Settings,
    hubspot: EmulatorHandle,
    artifacts_env: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    paths = sync_paths(tmp_path, [hubspot_destination(hubspot.base_url)], [hubspot_sync()])
    monkeypatch.delenv("TEST_HUBSPOT_TOKEN")
    result = materialize_syncs(settings, paths)
    assert not result.success
    events = result.all_events
    failures = [e for e in events if e.event_type == DagsterEventType.STEP_FAILURE]
    retries = [e for e in events if e.event_type == DagsterEventType.STEP_UP_FOR_RETRY]
    assert len(failures) == 1 and not retries
    message = failures[0].step_failure_data.error.message
    assert "TEST_HUBSPOT_TOKEN" in message and "ConfigError" in message
    assert hubspot.app.requests == []


def test_a_destination_down_fails_the_step_naming_sync_destination_and_cause(
    tmp_path: Path,
    settings: Settings,
    hubspot: EmulatorHandle,
    artifacts_env: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import orchestration.sync_assets as sync_assets

    monkeypatch.setattr(sync_assets, "TRANSIENT_WAIT_SECONDS", 0)
    execute(settings, "delete from segments.test_audience where person_id >= 'p0000030'")
    fast_fail = {"max_attempts": 2, "base_delay_seconds": 0.0, "max_delay_seconds": 0.01}
    destination = hubspot_destination(hubspot.base_url, batch_size=10, retry=fast_fail)
    paths = sync_paths(tmp_path, [destination], [hubspot_sync()])
    hubspot.go_down()
    result = materialize_syncs(settings, paths)
    assert not result.success
    events = result.all_events
    failures = [e for e in events if e.event_type == DagsterEventType.STEP_FAILURE]
    retries = [e for e in events if e.event_type == DagsterEventType.STEP_UP_FOR_RETRY]
    assert len(failures) == 1 and len(retries) == sync_assets.TRANSIENT_RETRIES  # transient
    message = failures[0].step_failure_data.error.message
    assert "sync crm failed: nothing was delivered to destination hubspot" in message
    assert "29 rows not delivered" in message and "NewConnectionError" in message
    assert "reject" not in message
    runs = query(settings, "select status, rejected, not_delivered from tessera_sync.runs")
    assert set(runs.status) == {"failed"} and set(runs.not_delivered) == {29}
    assert set(runs.rejected) == {0}

    hubspot.come_back()
    assert materialize_syncs(settings, paths).success
    assert live_contacts(hubspot.app) == expected_contacts(settings)
    assert set(Counter(hubspot.app.received).values()) == {1}


def test_every_row_rejected_fails_the_step_once_and_the_run_is_failed(
    tmp_path: Path, settings: Settings, hubspot: EmulatorHandle, artifacts_env: None
) -> None:
    execute(settings, "delete from segments.test_audience where person_id >= 'p0000030'")
    execute(settings, "update segments.test_audience set email = 'bad-' || person_id")
    paths = sync_paths(tmp_path, [hubspot_destination(hubspot.base_url)], [hubspot_sync()])
    result = materialize_syncs(settings, paths)
    assert not result.success
    events = result.all_events
    failures = [e for e in events if e.event_type == DagsterEventType.STEP_FAILURE]
    retries = [e for e in events if e.event_type == DagsterEventType.STEP_UP_FOR_RETRY]
    assert len(failures) == 1 and not retries  # sent again at once, refused again
    failure = failures[0].step_failure_data
    message = failure.error.message
    assert "sync crm failed: destination hubspot (hubspot) rejected all 29 rows; " in message
    assert "`tessera sync errors crm`" in message
    metadata = {k: v.value for k, v in failure.user_failure_data.metadata.items()}
    assert (metadata["status"], metadata["sent"], metadata["rejected"]) == ("failed", 0, 29)
    runs = query(settings, "select run_id, status, rejected from tessera_sync.runs")
    assert runs.status.tolist() == ["failed"] and runs.run_id[0] == metadata["run_id"]
    assert query(settings, "select count(*) as n from tessera_sync.errors").n[0] == 29


def test_cancelling_the_dagster_run_stops_the_sync_gracefully(
    tmp_path: Path, settings: Settings, hubspot: EmulatorHandle
) -> None:
    app = hubspot.app
    app.faults.latency_seconds = 0.02
    paths = sync_paths(
        tmp_path,
        [hubspot_destination(hubspot.base_url, batch_size=10, concurrency=2)],
        [hubspot_sync()],
    )
    script = tmp_path / "materialize.py"
    script.write_text(MATERIALIZE)
    env = {
        **os.environ,
        "TESSERA_WAREHOUSE": str(settings.warehouse_path),
        "TESSERA_ARTIFACTS": str(settings.artifacts_dir),
    }
    proc = subprocess.Popen(
        [sys.executable, str(script), str(paths.syncs_dir), str(paths.lock_dir)]
        + [str(settings.warehouse_path)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 120
    while len(app.requests) < 20:
        assert proc.poll() is None, proc.communicate()[0]
        assert time.monotonic() < deadline
        time.sleep(0.005)
    proc.send_signal(signal.SIGTERM)  # what Dagster sends a run it cancels
    output, _ = proc.communicate(timeout=60)
    assert "step failed" in output.splitlines()
    assert "DagsterExecutionInterruptedError" in output

    runs = query(settings, "select status, sent_ok, error from tessera_sync.runs")
    assert runs.status.tolist() == ["cancelled"], output
    sent = int(runs.sent_ok[0])
    assert 0 < sent < 1960
    state = query(settings, "select count(*) as n from tessera_sync.state_crm").n[0]
    assert state == sent == len(app.contacts)
    before = Counter(app.received)
    app.faults.latency_seconds = 0.0
    assert run(settings, paths, "crm").status == "success"
    assert all(before[key] == 0 for key in app.received if app.received[key] > before[key])
    assert live_contacts(app) == expected_contacts(settings)


def test_only_configuration_errors_skip_the_retries() -> None:
    from orchestration.sync_assets import configuration_error
    from reverse_etl.config import ConfigError
    from reverse_etl.destinations.base import DestinationAuthError, TransientError
    from reverse_etl.lock import SyncLockedError
    from reverse_etl.planner import PlanError

    for error in (ConfigError("x"), PlanError("x"), DestinationAuthError("x")):
        assert configuration_error(error)
    for error in (SyncLockedError("x"), TransientError("x"), OSError("disk")):
        assert not configuration_error(error)
