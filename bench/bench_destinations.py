"""Reverse ETL to Salesforce, Braze and Google Ads: first-sync rows/s against each emulator,
with the vendor's documented rate limit switched on (in the destination's token bucket and
enforced by the emulator with 429s) and off.

`scale` is the number of segment rows (all consented). Each emulator runs in its own
process so it does not share the sync's interpreter. Documented limits used:
Braze 3,000 requests / 3 s; Salesforce 15,000 Bulk batches / 24 h (a request budget that no
run here comes near); Google Ads none per second (one running job per list, which the
destination honours by running one job at a time) - so for Salesforce and Google "on"
mostly measures the cost of the bookkeeping. Polling: Salesforce jobs stay InProgress for
2 polls, Google jobs run 50 ms; both destinations poll every 50 ms here (1 s and 5 s in
production defaults), so the figures are engine + protocol cost, not vendor queue time.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from bench.common import build_synthetic_segment
from tessera.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-token"
ENV = {
    "BENCH_SF_TOKEN": TOKEN,
    "BENCH_BRAZE_KEY": TOKEN,
    "BENCH_GOOGLE_TOKEN": TOKEN,
    "BENCH_GOOGLE_DEVELOPER_TOKEN": "test-developer-token",  # the emulator's default
    "TESSERA_EMULATOR_TOKEN": TOKEN,
}
FAST_POLL = {"poll_seconds": 0.05, "max_poll_seconds": 0.2}
# (requests, per seconds) the vendor documents; None: no per-request limit documented
LIMITS: dict[str, tuple[int, float] | None] = {
    "salesforce": (15_000, 86_400.0),
    "braze": (3_000, 3.0),
    "google_ads": None,
}


def _destination(kind: str, base_url: str, limited: bool) -> dict[str, Any]:
    common: dict[str, Any] = {"name": kind, "type": kind, "base_url": base_url}
    limit = LIMITS[kind]
    if limited and limit:
        common["rate_limit"] = {"requests": limit[0], "per_seconds": limit[1]}
    if kind == "salesforce":
        return {
            **common,
            "credentials": {"access_token": "BENCH_SF_TOKEN"},
            "concurrency": 4,
            "options": FAST_POLL,
        }
    if kind == "braze":
        return {**common, "credentials": {"api_key": "BENCH_BRAZE_KEY"}, "concurrency": 8}
    return {
        **common,
        "credentials": {
            "access_token": "BENCH_GOOGLE_TOKEN",
            "developer_token": "BENCH_GOOGLE_DEVELOPER_TOKEN",
        },
        "options": {"customer_id": "1234567890", **FAST_POLL},
    }


def _sync(kind: str, name: str) -> dict[str, Any]:
    common = {"name": name, "segment": "segments.bench_dest_audience", "destination": kind}
    if kind == "salesforce":
        return {
            **common,
            "object": "Contact",
            "mode": "upsert",
            "mapping": {
                "Tessera_Person_Id__c": "person_id",
                "Email": "email",
                "FirstName": "first_name",
                "LastName": "last_name",
            },
            "options": {"external_id_field": "Tessera_Person_Id__c"},
            "consent": "email",
        }
    if kind == "braze":
        return {
            **common,
            "object": "users",
            "mode": "upsert",
            "mapping": {
                "external_id": "person_id",
                "email": "email",
                "first_name": "first_name",
                "last_name": "last_name",
            },
            "options": {"subscription_group_id": "bench-group"},
            "consent": "email",
        }
    return {
        **common,
        "object": "555000111",
        "mode": "add_remove",
        "mapping": {"hashedEmail": "email", "hashedPhoneNumber": "phone"},
        "hashing": {"hashedEmail": "email_google", "hashedPhoneNumber": "phone_e164"},
        "consent": "ads",
    }


def _start_emulator(kind: str, limited: bool) -> tuple[subprocess.Popen, str]:
    command = [sys.executable, "-m", "reverse_etl.testing", kind]
    limit = LIMITS[kind]
    if limited and limit:
        command += ["--rate-limit", str(limit[0]), "--window", str(limit[1])]
    proc = subprocess.Popen(
        command, cwd=ROOT, env={**os.environ, **ENV}, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    return proc, json.loads(proc.stdout.readline())["base_url"]


def _summary(base_url: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{base_url}/_emulator/summary") as response:
        return json.loads(response.read())


def _delivered(kind: str, summary: dict[str, Any]) -> int:
    if kind == "salesforce":
        return int(summary["records"].get("Contact", 0))
    if kind == "braze":
        return int(summary["users"])
    return int(sum(summary["lists"].values()))


def run(scale: int, workdir: Path) -> dict:
    workdir.mkdir(parents=True, exist_ok=True)
    settings = dataclasses.replace(
        Settings.from_env({}),
        warehouse_path=workdir / "destinations.duckdb",
        artifacts_dir=workdir / "artifacts",
    )
    settings.warehouse_path.unlink(missing_ok=True)
    build_synthetic_segment(settings, "bench_dest_audience", scale)
    os.environ.update(ENV)

    figures: dict[str, Any] = {"segment_rows": scale}
    for kind in LIMITS:
        for limited in (False, True):
            label = f"{kind}_limit_{'on' if limited else 'off'}"
            # best of two fresh syncs: the machine is shared, and the first run pays warm-up
            result, requests = min(
                (_measure(settings, workdir, kind, limited, f"{label}_{n}", scale) for n in (1, 2)),
                key=lambda measured: measured[0].seconds,
            )
            figures[f"{label}_rows_per_s"] = round(result.rows_per_second)
            figures[f"{label}_s"] = round(result.seconds, 2)
            figures[f"{label}_http_requests"] = requests
            figures[f"{label}_429s"] = result.stats.rate_limited
    return figures


def _measure(
    settings: Settings, workdir: Path, kind: str, limited: bool, name: str, scale: int
) -> tuple[Any, int]:
    """One first sync of the whole segment into a fresh emulator; (RunResult, requests)."""
    from reverse_etl.runner import SyncPaths, run_sync

    emulator, base_url = _start_emulator(kind, limited)
    try:
        syncs_dir = workdir / f"syncs_{name}"
        syncs_dir.mkdir(parents=True, exist_ok=True)
        (syncs_dir / "destinations.yml").write_text(
            yaml.safe_dump({"destinations": [_destination(kind, base_url, limited)]})
        )
        (syncs_dir / "syncs.yml").write_text(yaml.safe_dump({"syncs": [_sync(kind, name)]}))
        paths = SyncPaths(syncs_dir, None, settings.artifacts_dir / "locks")
        result = run_sync(settings, paths.catalog(), name, lock_dir=paths.lock_dir)
        summary = _summary(base_url)
    finally:
        emulator.terminate()
        emulator.wait(timeout=30)
    delivered = _delivered(kind, summary)
    if result.status != "success" or delivered != scale:
        raise RuntimeError(f"{name}: status {result.status}, {delivered} of {scale} delivered")
    return result, int(summary["requests"])


if __name__ == "__main__":
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    workdir = Path(sys.argv[2]) if len(sys.argv) > 2 else Path("/tmp/bench_destinations")
    print(json.dumps(run(rows, workdir)))
