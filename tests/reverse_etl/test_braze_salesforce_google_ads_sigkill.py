"""SIGKILL mid-run, then rerun: Salesforce, Braze and Google Ads lose nothing and duplicate
nothing; refused credentials stop the run and never leak (HubSpot's versions live in
test_crash_lock_secrets.py)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import more_destination_cases as more
import pytest
from retl_helpers import SEGMENT, execute, query, run, sync_paths

from reverse_etl.destinations.base import DestinationAuthError
from reverse_etl.testing import start_emulator
from tessera.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Crash:
    emulator: str
    token: str
    destination: Callable[[str], dict[str, Any]]
    sync: dict[str, Any]
    actual: Callable[[Any], Any]
    expected: Callable[[Settings], Any]
    creates: Callable[[Any], list[int]]  # creations per key, to prove resends never duplicate


CRASHES = {
    "salesforce": Crash(
        "salesforce",
        more.SALESFORCE_TOKEN,
        lambda url: more.salesforce_destination(
            url, batch_size=100, options={"bulk_threshold": 50}
        ),
        more.salesforce_sync(name="crash"),
        more.salesforce_actual,
        more.salesforce_expected,
        lambda app: list(app.creates.values()),
    ),
    "braze": Crash(
        "braze",
        more.BRAZE_KEY,
        lambda url: more.braze_destination(url, batch_size=25, concurrency=2),
        more.braze_sync(name="crash"),
        more.braze_actual,
        more.braze_expected,
        lambda app: list(app.creates.values()),
    ),
    "google_ads": Crash(
        "google_ads",
        more.GOOGLE_TOKEN,
        lambda url: more.google_destination(url, batch_size=100),
        more.google_sync(name="crash"),
        more.google_actual,
        more.google_expected,
        lambda app: [1],  # membership is a set: a resent add cannot duplicate
    ),
}


def sync_subprocess(settings: Settings, syncs_dir: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "TESSERA_WAREHOUSE": str(settings.warehouse_path),
        "TESSERA_ARTIFACTS": str(settings.artifacts_dir),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "reverse_etl", "sync", "--syncs-dir", str(syncs_dir)]
        + ["run", "crash", "--no-progress"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.parametrize("name", sorted(CRASHES))
def test_sigkill_mid_run_then_rerun_loses_nothing(
    name: str, tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = CRASHES[name]
    for env_name, value in more.ENV.items():
        monkeypatch.setenv(env_name, value)
    rng = random.Random(f"{name}-20261122")
    with start_emulator(spec.emulator, token=spec.token) as handle:
        handle.app.faults.latency_seconds = 0.01
        paths = sync_paths(tmp_path, [spec.destination(handle.base_url)], [spec.sync])
        killed_mid_run = 0
        for round_ in range(2):
            if round_:  # a new version of 300 rows, so the second run has work to do
                execute(
                    settings,
                    f"update {SEGMENT} set last_name = 'Moved', email = 'moved.' || email "
                    "where person_id between 'p0000100' and 'p0000400'",
                )
            seen = len(handle.app.requests)
            proc = sync_subprocess(settings, paths.syncs_dir)
            target = seen + rng.randint(8, 40)
            deadline = time.monotonic() + 60
            while proc.poll() is None and len(handle.app.requests) < target:
                assert time.monotonic() < deadline, "the sync never reached the destination"
                time.sleep(0.001)
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
            code = proc.wait(timeout=30)
            assert code in (-signal.SIGKILL, 0), proc.communicate()[0]
            killed_mid_run += code == -signal.SIGKILL
        assert killed_mid_run == 2

        final = sync_subprocess(settings, paths.syncs_dir)
        output, _ = final.communicate(timeout=120)
        assert final.returncode == 0, output
        assert spec.actual(handle.app) == spec.expected(settings)
        assert max(spec.creates(handle.app)) == 1
        runs = query(settings, "select status from tessera_sync.runs order by started_at")
        assert runs.status.tolist()[-1] == "success" and "aborted" in runs.status.tolist()
        assert run(settings, paths, "crash").plan.to_send == 0


@pytest.mark.parametrize("name", sorted(CRASHES))
def test_refused_credentials_stop_the_run_and_never_leak(
    name: str, tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = CRASHES[name]
    for env_name, value in more.ENV.items():
        monkeypatch.setenv(env_name, value)
    with start_emulator(spec.emulator, token=spec.token + "-rotated") as handle:
        paths = sync_paths(tmp_path, [spec.destination(handle.base_url)], [spec.sync])
        with pytest.raises(DestinationAuthError) as err:
            run(settings, paths, "crash")
        assert "401" in str(err.value)
        tables = query(settings, "select * from tessera_sync.errors").to_csv()
        tables += query(settings, "select * from tessera_sync.runs").to_csv()
        for text in (str(err.value), tables):
            assert spec.token not in text
        assert query(settings, "select count(*) n from tessera_sync.state_crash").n[0] == 0
