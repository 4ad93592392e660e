"""What a crash or a stop costs, counted by the destination: rows it received twice.

SIGKILL at random points, then rerun: nothing lost, and each rerun resends at most the
batches that were on the wire (concurrency x batch size rows). SIGTERM / SIGINT: the run
ends `cancelled` with everything acknowledged committed, and the rerun resends nothing. A
second signal stops at once and still resends at most what was in flight.
(bench/bench_sync_kills.py repeats the SIGKILL proof 30+ times over 100k rows.)
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
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

from reverse_etl.testing import EmulatorHandle
from tessera.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
TESSERA = Path(sys.executable).parent / "tessera"
BATCH, WORKERS = 10, 2
IN_FLIGHT = BATCH * WORKERS


def sync_subprocess(
    settings: Settings, syncs_dir: Path, *extra: str, console_script: bool = False
) -> subprocess.Popen:
    """`python -m reverse_etl sync ... run crm`, or the `tessera` console script a user types
    (its own Ctrl-C handling wraps the sync's)."""
    command = [str(TESSERA)] if console_script else [sys.executable, "-m", "reverse_etl"]
    env = {
        **os.environ,
        "TESSERA_WAREHOUSE": str(settings.warehouse_path),
        "TESSERA_ARTIFACTS": str(settings.artifacts_dir),
    }
    return subprocess.Popen(
        [*command, "sync", "--syncs-dir", str(syncs_dir)] + ["run", "crm", "--no-progress", *extra],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def snapshot(app: object) -> Counter[str]:
    with app.lock:  # type: ignore[attr-defined]
        return Counter(app.received)  # type: ignore[attr-defined]


def resent_since(app: object, before: Counter[str]) -> int:
    """Rows received since `before` for keys the destination had already received."""
    now = snapshot(app)
    return sum(n - before[key] for key, n in now.items() if before[key] and n > before[key])


def wait_for_requests(app: EmulatorHandle, proc: subprocess.Popen, target: int) -> None:
    deadline = time.monotonic() + 60
    while proc.poll() is None and len(app.app.requests) < target:
        assert time.monotonic() < deadline, "the sync never reached the destination"
        time.sleep(0.001)


@pytest.fixture
def slow_hubspot(hubspot: EmulatorHandle) -> EmulatorHandle:
    hubspot.app.faults.latency_seconds = 0.01
    return hubspot


def test_sigkill_anywhere_costs_at_most_the_batches_in_flight(
    tmp_path: Path, settings: Settings, slow_hubspot: EmulatorHandle
) -> None:
    app = slow_hubspot.app
    paths = sync_paths(
        tmp_path,
        [hubspot_destination(slow_hubspot.base_url, batch_size=BATCH, concurrency=WORKERS)],
        [hubspot_sync()],
    )
    rng = random.Random(19)
    resends: list[int] = []
    kills = 0
    before = snapshot(app)
    for round_ in range(5):
        if round_ == 3:  # a 1% change: the kill lands in a re-sync, not a first sync
            execute(
                settings,
                "update segments.test_audience set last_name = 'Moved' "
                "where person_id between 'p0001000' and 'p0001020'",
            )
        proc = sync_subprocess(settings, paths.syncs_dir)
        wait_for_requests(slow_hubspot, proc, len(app.requests) + rng.randint(3, 25))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) in (-signal.SIGKILL, 0), proc.communicate()[0]
        kills += proc.returncode == -signal.SIGKILL
        resends.append(resent_since(app, before))
        before = snapshot(app)
    final = sync_subprocess(settings, paths.syncs_dir)
    output, _ = final.communicate(timeout=120)
    assert final.returncode == 0, output
    resends.append(resent_since(app, before))

    assert kills >= 4
    # the first run resent nothing; every rerun resent at most what was on the wire
    assert resends[0] == 0
    assert max(resends) <= IN_FLIGHT, resends
    assert live_contacts(app) == expected_contacts(settings)  # nothing lost
    assert max(app.creates.values()) == 1
    runs = query(settings, "select status, recovered_rows from tessera_sync.runs")
    assert runs.status.tolist().count("aborted") == kills
    assert runs.recovered_rows.fillna(0).sum() > 0  # acks of killed runs came from journals
    assert run(settings, paths, "crm").plan.to_send == 0
    assert not list((settings.artifacts_dir / "sync_journal").rglob("*.journal"))


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_cleanly_and_the_rerun_resends_nothing(
    tmp_path: Path, settings: Settings, slow_hubspot: EmulatorHandle, sig: signal.Signals
) -> None:
    app = slow_hubspot.app
    paths = sync_paths(
        tmp_path,
        [hubspot_destination(slow_hubspot.base_url, batch_size=BATCH, concurrency=WORKERS)],
        [hubspot_sync()],
    )
    proc = sync_subprocess(settings, paths.syncs_dir, console_script=True)
    wait_for_requests(slow_hubspot, proc, 30)
    assert proc.poll() is None, "the run ended before the signal"
    proc.send_signal(sig)
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 128 + sig, output
    assert "taking no new batches" in output and "cancelled" in output

    runs = query(settings, "select status, sent_ok, rejected, error from tessera_sync.runs")
    assert runs.status.tolist() == ["cancelled"]
    sent = int(runs.sent_ok[0])
    assert 0 < sent < len(expected_contacts(settings))
    assert sig.name in runs.error[0]
    synced = query(settings, "select count(*) as n from tessera_sync.state_crm").n[0]
    assert synced == sent == len(app.contacts)  # every acknowledged row is committed
    assert not list((settings.artifacts_dir / "sync_journal").rglob("*.journal"))

    before = snapshot(app)
    rerun = run(settings, paths, "crm")
    assert rerun.status == "success" and rerun.recovered_rows == 0
    assert resent_since(app, before) == 0  # nothing is sent twice
    assert live_contacts(app) == expected_contacts(settings)


def test_a_second_signal_stops_at_once_and_loses_nothing(
    tmp_path: Path, settings: Settings, slow_hubspot: EmulatorHandle
) -> None:
    app = slow_hubspot.app
    app.faults.latency_seconds = 0.2  # batches stay in flight long enough to be cut off
    paths = sync_paths(
        tmp_path,
        [hubspot_destination(slow_hubspot.base_url, batch_size=BATCH, concurrency=WORKERS)],
        [hubspot_sync()],
    )
    proc = sync_subprocess(settings, paths.syncs_dir)
    wait_for_requests(slow_hubspot, proc, 6)
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 128 + signal.SIGTERM, output
    assert "stopped at once" in output

    app.faults.latency_seconds = 0.0
    before = snapshot(app)
    rerun = run(settings, paths, "crm")
    assert rerun.status == "success"
    assert resent_since(app, before) <= IN_FLIGHT
    assert live_contacts(app) == expected_contacts(settings)
    statuses = query(settings, "select status from tessera_sync.runs").status.tolist()
    assert sorted(statuses) == ["aborted", "success"]
