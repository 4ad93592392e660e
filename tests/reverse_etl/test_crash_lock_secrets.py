"""SIGKILL mid-run loses nothing; the per-sync lock; secrets never reach logs or errors."""

from __future__ import annotations

import logging
import os
import random
import signal
import subprocess
import sys
import time
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

from reverse_etl.destinations.base import DestinationAuthError
from reverse_etl.lock import SyncLock, SyncLockedError
from reverse_etl.testing import EmulatorHandle
from tessera.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def sync_subprocess(settings: Settings, syncs_dir: Path, name: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "TESSERA_WAREHOUSE": str(settings.warehouse_path),
        "TESSERA_ARTIFACTS": str(settings.artifacts_dir),
    }
    command = [sys.executable, "-m", "reverse_etl", "sync", "--syncs-dir", str(syncs_dir)]
    return subprocess.Popen(
        [*command, "run", name, "--no-progress"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_sigkill_at_random_points_then_rerun_delivers_everything_once(
    tmp_path: Path, settings: Settings, hubspot: EmulatorHandle
) -> None:
    hubspot.app.faults.latency_seconds = 0.01
    paths = sync_paths(
        tmp_path,
        [hubspot_destination(hubspot.base_url, batch_size=10, concurrency=2)],
        [hubspot_sync()],
    )
    rng = random.Random(20261122)
    killed_mid_run = 0
    for round_ in range(3):
        if round_:  # new versions of 400 rows between crashes: each rerun has work to do
            execute(
                settings,
                f"update segments.test_audience set last_name = 'Moved{round_}' "
                f"where person_id between 'p0000{round_}00' and 'p0000{round_ + 4}00'",
            )
        seen = len(hubspot.app.requests)
        proc = sync_subprocess(settings, paths.syncs_dir, "crm")
        if round_ == 0:  # somewhere in start-up, planning or the first batches
            deadline = time.monotonic() + rng.uniform(0.3, 2.5)
            while proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.005)
        else:  # after a random number of requests reached the destination
            target = seen + rng.randint(3, 30)
            deadline = time.monotonic() + 60
            while proc.poll() is None and len(hubspot.app.requests) < target:
                assert time.monotonic() < deadline, "the sync never reached the destination"
                time.sleep(0.001)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        code = proc.wait(timeout=30)
        assert code in (-signal.SIGKILL, 0), proc.communicate()[0]
        killed_mid_run += code == -signal.SIGKILL and len(hubspot.app.requests) > seen
    assert killed_mid_run >= 2  # the kills really landed while batches were in flight

    final = sync_subprocess(settings, paths.syncs_dir, "crm")
    output, _ = final.communicate(timeout=120)
    assert final.returncode == 0, output
    assert live_contacts(hubspot.app) == expected_contacts(settings)
    assert max(hubspot.app.creates.values()) == 1  # resent creates never duplicated
    assert sum(hubspot.app.creates.values()) == 1960
    runs = query(settings, "select status from tessera_sync.runs order by started_at")
    assert runs.status.tolist()[-1] == "success"
    assert "running" not in runs.status.tolist()
    assert "aborted" in runs.status.tolist()
    # and the state knows every row: the next run has nothing to send
    assert run(settings, paths, "crm").plan.to_send == 0


def test_second_run_of_the_same_sync_is_refused_with_a_clear_message(
    tmp_path: Path, settings: Settings, hubspot: EmulatorHandle
) -> None:
    paths = sync_paths(tmp_path, [hubspot_destination(hubspot.base_url)], [hubspot_sync()])
    with SyncLock(paths.lock_dir, "crm"), pytest.raises(SyncLockedError) as err:
        run(settings, paths, "crm")
    assert "sync 'crm' is already running" in str(err.value)
    assert f"pid {os.getpid()}" in str(err.value)
    assert hubspot.app.requests == []
    assert run(settings, paths, "crm").status == "success"  # released on exit


def test_lock_of_a_killed_process_does_not_stay_stuck(tmp_path: Path) -> None:
    code = (
        "import sys, time; from pathlib import Path; from reverse_etl.lock import SyncLock; "
        f"SyncLock(Path({str(tmp_path)!r}), 'crm').acquire(); print('locked', flush=True); "
        "time.sleep(60)"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    with pytest.raises(SyncLockedError, match=f"pid {holder.pid}"):
        SyncLock(tmp_path, "crm").acquire()
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=10)
    lock = SyncLock(tmp_path, "crm")
    lock.acquire()
    lock.release()


def test_secrets_never_reach_logs_errors_or_tables(
    tmp_path: Path,
    settings: Settings,
    hubspot: EmulatorHandle,
    tokens: dict[str, str],
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from reverse_etl.__main__ import main
    from reverse_etl.cli import console

    monkeypatch.setattr(console, "width", 200)

    secret = tokens["TEST_HUBSPOT_TOKEN"]
    caplog.set_level(logging.DEBUG)
    hubspot.app.faults.error_rate = 0.3
    execute(
        settings,
        "update segments.test_audience set email = 'bad-' || person_id "
        "where person_id < 'p0000005'",
    )
    paths = sync_paths(tmp_path, [hubspot_destination(hubspot.base_url)], [hubspot_sync()])
    result = run(settings, paths, "crm")
    assert result.stats.rejected == 5 - 1 and result.stats.retries > 0  # p0000000: no consent

    # the destination refuses the token: its error, the run row and the CLI output are clean
    monkeypatch.setenv("TEST_HUBSPOT_TOKEN", secret + "-revoked")
    with pytest.raises(DestinationAuthError) as err:
        run(settings, paths, "crm", full_resync=True)
    monkeypatch.setenv("TESSERA_WAREHOUSE", str(settings.warehouse_path))
    monkeypatch.setenv("TESSERA_ARTIFACTS", str(settings.artifacts_dir))
    for command in (["destinations"], ["run", "crm", "--full-resync"], ["errors", "crm"]):
        main(["sync", "--syncs-dir", str(paths.syncs_dir), *command])
    out = capsys.readouterr()

    tables = query(settings, "select * from tessera_sync.errors").to_csv()
    tables += query(settings, "select * from tessera_sync.runs").to_csv()
    assert "401" in tables and "TEST_HUBSPOT_TOKEN" in out.out
    for text in (caplog.text, str(err.value), out.out, out.err, tables):
        assert secret not in text
    assert "Bearer" not in caplog.text
