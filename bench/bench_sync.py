"""Reverse ETL: plan time and end-to-end throughput to a local HubSpot-shaped emulator.

`scale` is the number of segment rows. The emulator runs in its own process without a rate
limit; each sync run is its own process (`python -m bench.bench_sync --sync-child`, which
calls `run_sync` like the CLI does) so its peak RSS is its own.
Figures: plan time after a 1% change, first-sync rows/s, the whole 1% re-sync (engine time
and process wall time including interpreter start-up), peak RSS of each sync process, and
peak RSS by phase — `start` (imports, before the run), `plan`, `send` (with the commits that
overlap it) and `commit` (the last acknowledgements) — sampled every 10 ms, to show whether
memory stays flat as the segment grows. DuckDB runs under the sync's default memory limit.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import yaml

from bench.common import build_synthetic_segment
from tessera.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
TOKEN_ENV = "BENCH_HUBSPOT_TOKEN"


def _change_one_percent(settings: Settings) -> int:
    from tessera.warehouse import Warehouse

    with Warehouse(settings).session() as s:
        s.execute(
            "update segments.bench_audience set first_name = first_name || '-v2' "
            "where cast(substr(person_id, 2) as bigint) % 100 = 7"
        )
        return int(
            s.scalar("select count(*) from segments.bench_audience where first_name like '%-v2'")
        )


def _write_syncs(syncs_dir: Path, base_url: str) -> None:
    syncs_dir.mkdir(parents=True, exist_ok=True)
    destination = {
        "name": "hubspot",
        "type": "hubspot",
        "base_url": base_url,
        "credentials": {"token": TOKEN_ENV},
        "concurrency": 4,
        "timeout_seconds": 60,
    }
    sync = {
        "name": "bench_crm",
        "segment": "segments.bench_audience",
        "primary_key": "person_id",
        "destination": "hubspot",
        "object": "contacts",
        "mode": "upsert",
        "mapping": {
            "email": "email",
            "firstname": "first_name",
            "lastname": "last_name",
            "phone": "phone",
        },
        "consent": "email",
    }
    (syncs_dir / "destinations.yml").write_text(yaml.safe_dump({"destinations": [destination]}))
    (syncs_dir / "syncs.yml").write_text(yaml.safe_dump({"syncs": [sync]}))


class PhaseSampler:
    """Peak RSS of this process per phase, sampled on a thread (phases come from run_sync)."""

    def __init__(self, interval: float = 0.01) -> None:
        import psutil

        self._process = psutil.Process()
        self._interval = interval
        self._phase = "start"
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self.peaks_mb: dict[str, float] = {}

    def _sample(self) -> None:
        rss = self._process.memory_info().rss / 2**20
        with self._lock:
            self.peaks_mb[self._phase] = max(self.peaks_mb.get(self._phase, 0.0), rss)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            self._sample()

    def enter(self, phase: str) -> None:
        self._sample()  # the previous phase ends at this boundary
        with self._lock:
            self._phase = phase
        self._sample()

    def __enter__(self) -> PhaseSampler:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


def _sync_child(warehouse: Path, artifacts: Path, syncs_dir: Path) -> None:
    """Run bench_crm in this process; print the peak RSS MB of each phase as one JSON line."""
    from reverse_etl.runner import SyncPaths, run_sync

    settings = dataclasses.replace(
        Settings.from_env({}), warehouse_path=warehouse, artifacts_dir=artifacts
    )
    paths = SyncPaths(syncs_dir, None, artifacts / "locks")
    with PhaseSampler() as sampler:
        run_sync(
            settings, paths.catalog(), "bench_crm", lock_dir=paths.lock_dir, on_phase=sampler.enter
        )
    print(json.dumps({"phase_peak_rss_mb": sampler.peaks_mb}))


def _run_sync_process(
    settings: Settings, syncs_dir: Path, env: dict[str, str]
) -> tuple[float, float, dict[str, float]]:
    """Run one sync in its own process; returns (wall seconds, peak RSS MB of that process,
    peak RSS MB per phase)."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.bench_sync", "--sync-child"]
        + [str(settings.warehouse_path), str(settings.artifacts_dir), str(syncs_dir)],
        cwd=ROOT,
        env={
            **env,
            "TESSERA_WAREHOUSE": str(settings.warehouse_path),
            "TESSERA_ARTIFACTS": str(settings.artifacts_dir),
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    output = proc.stdout.read().decode() if proc.stdout else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"sync run failed: {output[-2000:]}")
    lines = [line for line in output.splitlines() if line.startswith("{")]
    phases = json.loads(lines[-1])["phase_peak_rss_mb"]
    return wall, usage.ru_maxrss / 1024, phases


def _last_run(settings: Settings) -> dict:
    from tessera.warehouse import Warehouse

    with Warehouse(settings).session(read_only=True) as s:
        frame = s.df(
            "select sent_ok, requests, plan_seconds, duration_seconds, rows_per_second "
            "from tessera_sync.runs order by started_at desc limit 1"
        )
    return frame.iloc[0].to_dict()


def _phase_figures(prefix: str, phases: dict[str, float]) -> dict[str, float]:
    return {
        f"{prefix}_{phase}_rss_mb": phases[phase]
        for phase in ("start", "plan", "send", "commit")
        if phase in phases
    }


def run(scale: int, workdir: Path) -> dict:
    from reverse_etl.runner import SyncPaths, WarehouseLimits, plan_sync

    workdir.mkdir(parents=True, exist_ok=True)
    settings = dataclasses.replace(
        Settings.from_env({}),
        warehouse_path=workdir / "sync.duckdb",
        artifacts_dir=workdir / "artifacts",
    )
    settings.warehouse_path.unlink(missing_ok=True)
    build_synthetic_segment(settings, "bench_audience", scale)

    env = {**os.environ, TOKEN_ENV: "bench-token", "TESSERA_EMULATOR_TOKEN": "bench-token"}
    emulator = subprocess.Popen(
        [sys.executable, "-m", "reverse_etl.testing", "hubspot"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert emulator.stdout is not None
        base_url = json.loads(emulator.stdout.readline())["base_url"]
        syncs_dir = workdir / "syncs"
        _write_syncs(syncs_dir, base_url)

        first_wall, first_rss, first_phases = _run_sync_process(settings, syncs_dir, env)
        first = _last_run(settings)

        changed = _change_one_percent(settings)
        os.environ[TOKEN_ENV] = "bench-token"
        paths = SyncPaths(syncs_dir, None, settings.artifacts_dir / "locks")
        plan, _ = plan_sync(settings, paths.catalog(), "bench_crm")
        if plan.counts["changed"] != changed:
            raise RuntimeError(f"plan found {plan.counts['changed']} changes, expected {changed}")

        resync_wall, resync_rss, resync_phases = _run_sync_process(settings, syncs_dir, env)
        resync = _last_run(settings)
        with urllib.request.urlopen(f"{base_url}/_emulator/summary") as response:
            summary = json.loads(response.read())
        if summary["contacts"] != scale or summary["max_creates_per_email"] != 1:
            raise RuntimeError(f"destination state does not match the segment: {summary}")
    finally:
        emulator.terminate()
        emulator.wait(timeout=30)

    return {
        "segment_rows": scale,
        "first_sync_rows_per_s": float(first["rows_per_second"]),
        "first_sync_s": float(first["duration_seconds"]),
        "first_sync_process_s": first_wall,
        "first_sync_peak_rss_mb": first_rss,
        **_phase_figures("first", first_phases),
        "plan_1pct_s": plan.seconds,
        "changed_rows": changed,
        "resync_1pct_s": float(resync["duration_seconds"]),
        "resync_plan_s": float(resync["plan_seconds"]),
        "resync_process_s": resync_wall,
        "resync_peak_rss_mb": resync_rss,
        **_phase_figures("resync", resync_phases),
        "duckdb_memory_limit": WarehouseLimits().memory_limit or "none",
        "requests": int(first["requests"] + resync["requests"]),
    }


if __name__ == "__main__":
    if sys.argv[1:2] == ["--sync-child"]:
        _sync_child(Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]))
        sys.exit(0)
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    print(
        json.dumps(run(rows, Path(sys.argv[2]) if len(sys.argv) > 2 else Path("/tmp/bench_sync")))
    )
