"""The first pipeline on a small warehouse of orders only: build, train, score, segments.

The data is shaped like the public purchase logs a new user tries first (CDNOW-style: a
customer id, a date, an amount and a quantity; no email, no web events): `scale` customers
who first buy within the first twelve weeks of an eighteen-month window and then buy again
at their own rate. Only `raw.orders` holds rows; every other source is absent, as on a
warehouse that never saw the demo generator.

Each step runs the `tessera` command line in a fresh process, as a user types it, and is timed
from the outside (interpreter start-up, imports, dbt start-up and parsing included), each
sequence from a first run's state (a copy of the raw warehouse, dbt's parse cache removed):
    tessera build -- --exclude path:models/segments     (steps_total_s: these four)
    tessera ml train
    tessera ml score
    tessera build --select path:models/segments
    tessera build                                       (one_command_build_s, where it trains
                                                          and scores a fresh warehouse itself)
dbt's own figures come from each build's run_results.json (nodes, tests, node times).
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
# the console script's module (it moved from tessera/ to orchestration/, where `tessera build`
# also trains and scores a fresh warehouse)
ONE_COMMAND_BUILD = (ROOT / "orchestration" / "build.py").exists()
CLI_MODULE = "orchestration.cli" if (ROOT / "orchestration" / "cli.py").exists() else "tessera.cli"
SEED = 20
START = pd.Timestamp("2025-01-01")
DAYS = 548  # eighteen months


def orders_frame(customers: int, seed: int = SEED) -> pd.DataFrame:
    """CDNOW-like purchase log: one row per order, identified by the customer id only."""
    rng = np.random.default_rng(seed)
    first_day = rng.integers(0, 84, customers)
    # heterogeneous repeat rates (gamma mixing, as in BG/NBD); many never return
    rate = rng.gamma(0.4, 1 / 45.0, customers)  # orders per day
    alive_days = rng.exponential(240, customers)
    span = np.minimum(DAYS - first_day, alive_days)
    repeats = rng.poisson(rate * span)
    counts = 1 + repeats
    customer = np.repeat(np.arange(customers), counts)
    offsets = rng.random(counts.sum()) * np.repeat(span, counts)
    firsts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    offsets[firsts] = 0.0  # each customer's first order is on their first day
    day = np.repeat(first_day, counts) + offsets
    ordered_at = START + pd.to_timedelta(day * 86400, unit="s").round("s")
    quantity = 1 + rng.poisson(1.2, counts.sum())
    amount = np.round(quantity * rng.gamma(3.0, 6.0, counts.sum()), 2)
    frame = pd.DataFrame(
        {
            "order_id": [f"o{i:08d}" for i in range(counts.sum())],
            "user_id": [f"{c + 1:05d}" for c in customer],
            "ordered_at": ordered_at,
            "status": "completed",
            "currency": "USD",
            "total": amount,
            "item_count": quantity.astype("int32"),
        }
    )
    frame["updated_at"] = frame["ordered_at"]
    return frame.sort_values("ordered_at", kind="stable").reset_index(drop=True)


def write_orders_only(warehouse: Path, customers: int) -> int:
    import duckdb

    frame = orders_frame(customers)
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema if not exists raw")
        con.register("orders_frame", frame)
        con.execute("create or replace table raw.orders as select * from orders_frame")
    return len(frame)


def _env(workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TESSERA_", "SNOWFLAKE_"))}
    env["PYTHONPATH"] = str(ROOT)
    env["TESSERA_WAREHOUSE"] = str(workdir / "warehouse.duckdb")
    env["TESSERA_ARTIFACTS"] = str(workdir / "artifacts")
    if "TESSERA_DUCKDB_MEMORY_LIMIT" in os.environ:
        env["TESSERA_DUCKDB_MEMORY_LIMIT"] = os.environ["TESSERA_DUCKDB_MEMORY_LIMIT"]
    return env


def _tessera(args: list[str], env: dict[str, str], log: Path) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system, the command and its children) of
    `tessera <args>`. CPU time is what the command costs whatever else the machine runs."""
    # `python -m tessera.cli` from this checkout (what the `tessera` script runs), so a copy of
    # an older commit measures its own code
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with log.open("a") as out:
        out.write(f"\n$ tessera {' '.join(args)}\n")
        out.flush()
        proc = subprocess.run(
            [sys.executable, "-m", CLI_MODULE, *args],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        raise RuntimeError(f"tessera {' '.join(args)} failed (exit {proc.returncode}); see {log}")
    return seconds, cpu


def _dbt_figures(prefix: str) -> dict:
    """Node counts and summed node time of the last dbt invocation, from its artifacts."""
    from tessera.settings import DBT_PROJECT_DIR

    target = DBT_PROJECT_DIR / "target"
    results = json.loads((target / "run_results.json").read_text())
    nodes = results["results"]
    tests = [r for r in nodes if r["unique_id"].startswith(("test.", "unit_test."))]
    figures = {
        f"{prefix}_nodes": len(nodes),
        f"{prefix}_tests": len(tests),
        f"{prefix}_dbt_elapsed_s": results.get("elapsed_time", 0.0),
        f"{prefix}_model_s": sum(
            r.get("execution_time", 0.0) for r in nodes if r["unique_id"].startswith("model.")
        ),
        f"{prefix}_test_s": sum(r.get("execution_time", 0.0) for r in tests),
    }
    perf = target / "perf_info.json"
    if perf.exists():
        figures[f"{prefix}_parse_s"] = json.loads(perf.read_text()).get("load_all_elapsed", 0.0)
    return figures


def _fresh(workdir: Path, raw: Path, name: str) -> dict[str, str]:
    """A copy of the raw warehouse, its own artifacts, and dbt's parse cache removed: what a
    first run on a fresh clone has."""
    from tessera.settings import DBT_PROJECT_DIR

    run_dir = workdir / name
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    shutil.copyfile(raw, run_dir / "warehouse.duckdb")
    (DBT_PROJECT_DIR / "target" / "partial_parse.msgpack").unlink(missing_ok=True)
    (DBT_PROJECT_DIR / "target" / "perf_info.json").unlink(missing_ok=True)
    return _env(run_dir)


def run(scale: int, workdir: Path) -> dict:
    workdir.mkdir(parents=True, exist_ok=True)
    raw = workdir / "orders_only.duckdb"  # not raw.duckdb: its catalog would shadow schema raw
    raw.unlink(missing_ok=True)
    orders = write_orders_only(raw, scale)
    metrics: dict = {"customers": scale, "orders": orders}
    log = workdir / "first_run.log"

    # the steps of the issue: build without the score readers, train, score, segments
    env = _fresh(workdir, raw, "steps")
    steps = (
        ("build", ["build", "--", "--exclude", "path:models/segments"]),
        ("train", ["ml", "train"]),
        ("score", ["ml", "score"]),
        ("segments", ["build", "--select", "path:models/segments"]),
    )
    total = total_cpu = 0.0
    for name, args in steps:
        seconds, cpu = _tessera(args, env, log)
        metrics[f"{name}_s"] = seconds
        metrics[f"{name}_cpu_s"] = cpu
        total += seconds
        total_cpu += cpu
        if args[0] == "build":
            metrics.update(_dbt_figures(name))
    metrics["steps_total_s"] = total
    metrics["steps_total_cpu_s"] = total_cpu

    # one command, where `tessera build` trains and scores a fresh warehouse itself
    if ONE_COMMAND_BUILD:
        env = _fresh(workdir, raw, "one_command")
        seconds, cpu = _tessera(["build"], env, log)
        metrics["one_command_build_s"] = seconds
        metrics["one_command_build_cpu_s"] = cpu
    return metrics
