"""Reverse ETL under SIGKILL: what random kills cost, counted by the destination.

`scale` segment rows go to a HubSpot-shaped emulator in its own process (batch 100,
concurrency 4: at most 400 rows on the wire). Each run is `tessera sync run` in its own
process, killed with SIGKILL at a random moment: during start-up or planning, or after a
random number of requests reached the emulator. Phase 1 is the first sync; phase 2 changes
1% of the rows and kills the re-sync (the emulator answers in 0.3 s there, so kills land
mid-send). After every kill the next run's resends are counted from the emulator's per-key
receipt counters: rows received again for a key already received in the phase. At the end
every contact is read back through the emulator's list API and compared with the segment.

Figures: kills per phase, resends after each kill (max, median, total) against the bound
(concurrency x batch size), rows lost, contacts created twice, rows committed from
journals by reruns.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path

import yaml

from bench.common import build_synthetic_segment
from tessera.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-kill-token"
BATCH, WORKERS = 100, 4
BOUND = BATCH * WORKERS


class Emulator:
    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "reverse_etl.testing", "hubspot"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.base_url = json.loads(self.proc.stdout.readline())["base_url"]

    def get(self, path: str, token: bool = False) -> dict:
        headers = {"Authorization": f"Bearer {TOKEN}"} if token else {}
        request = urllib.request.Request(self.base_url + path, headers=headers)
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())

    def received(self) -> Counter[str]:
        return Counter(self.get("/_emulator/received")["received"])

    def requests(self) -> int:
        return int(self.get("/_emulator/summary")["requests"])

    def latency(self, seconds: float) -> None:
        request = urllib.request.Request(
            self.base_url + "/_emulator/latency", data=json.dumps(seconds).encode()
        )
        urllib.request.urlopen(request, timeout=60).read()

    def contacts(self) -> dict[str, dict]:
        out: dict[str, dict] = {}
        after = ""
        while True:
            page = self.get(
                "/crm/v3/objects/contacts?limit=100&properties=email,firstname,lastname"
                + (f"&after={after}" if after else ""),
                token=True,
            )
            for contact in page["results"]:
                out[contact["properties"]["email"]] = contact["properties"]
            after = (page.get("paging") or {}).get("next", {}).get("after", "")
            if not after:
                return out

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def _write_syncs(syncs_dir: Path, base_url: str) -> None:
    syncs_dir.mkdir(parents=True, exist_ok=True)
    destination = {
        "name": "hubspot",
        "type": "hubspot",
        "base_url": base_url,
        "credentials": {"token": "BENCH_KILL_TOKEN"},
        "batch_size": BATCH,
        "concurrency": WORKERS,
        "timeout_seconds": 60,
    }
    sync = {
        "name": "bench_kill",
        "segment": "segments.bench_audience",
        "destination": "hubspot",
        "object": "contacts",
        "mapping": {"email": "email", "firstname": "first_name", "lastname": "last_name"},
        "consent": "email",
    }
    (syncs_dir / "destinations.yml").write_text(yaml.safe_dump({"destinations": [destination]}))
    (syncs_dir / "syncs.yml").write_text(yaml.safe_dump({"syncs": [sync]}))


def _start_sync(env: dict[str, str], syncs_dir: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "reverse_etl", "sync", "--syncs-dir", str(syncs_dir)]
    return subprocess.Popen(
        [*command, "run", "bench_kill", "--no-progress"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _kill_somewhere(
    proc: subprocess.Popen, emulator: Emulator, rng: random.Random, max_requests: int
) -> bool:
    """SIGKILL at a random moment; True if the process was killed (not finished first)."""
    if rng.random() < 0.3:  # anywhere in start-up, planning or the first batches
        deadline = time.monotonic() + rng.uniform(0.1, 3.0)
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
    else:  # after a random number of requests reached the destination
        target = emulator.requests() + rng.randint(1, max_requests)
        while proc.poll() is None and emulator.requests() < target:
            time.sleep(0.002)
    if proc.poll() is not None:
        return False
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    return True


def _phase(
    name: str,
    kills_wanted: int,
    env: dict[str, str],
    syncs_dir: Path,
    emulator: Emulator,
    rng: random.Random,
    max_requests: int,
) -> dict:
    phase_start = emulator.received()
    resends: list[int] = []
    kills = 0
    finished = False

    def resent(before: Counter[str]) -> int:
        after = emulator.received()
        return sum(
            n - before[key]
            for key, n in after.items()
            if n > before[key] and before[key] > phase_start[key]
        )

    while kills < kills_wanted and not finished:
        before = emulator.received()
        proc = _start_sync(env, syncs_dir)
        killed = _kill_somewhere(proc, emulator, rng, max_requests)
        if kills:  # this run followed a kill: count what it sent again
            resends.append(resent(before))
        if killed:
            kills += 1
        elif proc.returncode != 0:
            raise RuntimeError(f"sync run failed with exit code {proc.returncode}")
        else:
            finished = True  # the sync completed before the kill came
    if not finished:
        before = emulator.received()
        final = _start_sync(env, syncs_dir)
        if final.wait(timeout=1800) != 0:
            raise RuntimeError(f"final sync failed with exit code {final.returncode}")
        resends.append(resent(before))
    return {
        f"{name}_kills": kills,
        f"{name}_max_resent_after_a_kill": max(resends),
        f"{name}_median_resent_after_a_kill": statistics.median(resends),
        f"{name}_total_resent": sum(resends),
    }


def run(scale: int, workdir: Path) -> dict:
    from tessera.warehouse import Warehouse

    workdir.mkdir(parents=True, exist_ok=True)
    settings = dataclasses.replace(
        Settings.from_env({}),
        warehouse_path=workdir / "kills.duckdb",
        artifacts_dir=workdir / "artifacts",
    )
    settings.warehouse_path.unlink(missing_ok=True)
    build_synthetic_segment(settings, "bench_audience", scale)
    env = {
        **os.environ,
        "TESSERA_EMULATOR_TOKEN": TOKEN,
        "BENCH_KILL_TOKEN": TOKEN,
        "TESSERA_WAREHOUSE": str(settings.warehouse_path),
        "TESSERA_ARTIFACTS": str(settings.artifacts_dir),
    }
    rng = random.Random(int(os.environ.get("BENCH_KILL_SEED", "19")))
    emulator = Emulator(env)
    try:
        syncs_dir = workdir / "syncs"
        _write_syncs(syncs_dir, emulator.base_url)
        batches = scale // BATCH
        first = _phase("first_sync", 30, env, syncs_dir, emulator, rng, max(2, batches // 35))
        with Warehouse(settings).session() as s:
            s.execute(
                "update segments.bench_audience set first_name = first_name || '-v2' "
                "where cast(substr(person_id, 2) as bigint) % 100 = 7"
            )
        emulator.latency(0.3)  # 1,000 changed rows are 10 batches: slow them to land kills
        resync = _phase("resync_1pct", 5, env, syncs_dir, emulator, rng, 3)
        emulator.latency(0.0)
        contacts = emulator.contacts()
        summary = emulator.get("/_emulator/summary")
    finally:
        emulator.stop()
    with Warehouse(settings).session(read_only=True) as s:
        segment = s.df("select email, first_name, last_name from segments.bench_audience")
        recovered = s.scalar("select coalesce(sum(recovered_rows), 0) from tessera_sync.runs")
        statuses = dict(
            s.df("select status, count(*) as n from tessera_sync.runs group by status").itertuples(
                index=False
            )
        )
    lost = sum(
        1
        for email, first, last in segment.itertuples(index=False)
        if (contacts.get(email) or {}).get("firstname") != first
        or contacts[email].get("lastname") != last
    )
    return {
        "segment_rows": scale,
        "bound_rows_in_flight": BOUND,
        **first,
        **resync,
        "rows_lost_or_stale": lost,
        "contacts": len(contacts),
        "max_creates_per_email": summary["max_creates_per_email"],
        "rows_committed_from_journals": int(recovered),
        "runs": ", ".join(f"{k} {int(v)}" for k, v in sorted(statuses.items())),
    }


if __name__ == "__main__":
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    print(json.dumps(run(rows, Path(sys.argv[2]) if len(sys.argv) > 2 else Path("/tmp/kills"))))
