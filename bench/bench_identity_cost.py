"""What identity's guards cost: the full identity build of two commits on one generated
warehouse, alternated (issue 15: within 1.5x of the pre-guard build at 2M persons).

    python -m bench.bench_identity_cost --before f0f0ce5 --scale 2000000 --pairs 2 [--write]

Each commit is exported with `git archive` and runs with this venv from its own root: a copy
of the cached generated warehouse (bench.common), then `dbt run --select staging identity`
as that commit builds it, DuckDB memory_limit 6GB. Per run: wall and CPU seconds of the dbt
process (os.wait4), its peak RSS, the 1-minute load seen while it ran, and dbt's per-model
times. The first run of a pair is the before commit, so both meet the same machine state.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

from bench.common import cached_generated_warehouse
from bench.harness import append_section, machine_description

ROOT = Path(__file__).resolve().parents[1]
MEMORY_LIMIT = "6GB"
# run in the exported commit's own root, so its tessera and dbt project are the ones used
_CHILD = """
import json, os, subprocess, sys, time
from pathlib import Path
from bench.common import bench_settings
from tessera.dbt import dbt_command
warehouse, target = Path(sys.argv[1]), Path(sys.argv[2])
settings = bench_settings(warehouse)
cmd = dbt_command(
    settings, ["run", "--select", "staging", "identity", "--target-path", str(target)]
)
env = settings.dbt_env() | {"TESSERA_DUCKDB_MEMORY_LIMIT": sys.argv[3]}
started = time.perf_counter()
with (target.parent / "dbt.log").open("w") as log:
    proc = subprocess.Popen(cmd, cwd=settings.dbt_project_dir, env=env, stdout=log, stderr=log)
    _, status, usage = os.wait4(proc.pid, 0)
results = []
if (target / "run_results.json").exists():
    results = json.loads((target / "run_results.json").read_text())["results"]
print(json.dumps({
    "exit": os.waitstatus_to_exitcode(status), "wall": time.perf_counter() - started,
    "cpu": usage.ru_utime + usage.ru_stime, "peak_rss_mb": usage.ru_maxrss // 1024,
    "models": {r["unique_id"].rsplit(".", 1)[-1]: r.get("execution_time", 0.0) for r in results},
}))
"""


def export(commit: str, into: Path) -> Path:
    """The commit's files (git archive) under `into`."""
    shutil.rmtree(into, ignore_errors=True)
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", commit], cwd=ROOT, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


def _short(commit: str) -> str:
    return subprocess.run(
        ["git", "rev-parse", "--short", commit],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def run_once(code: Path, cache: Path, workdir: Path) -> dict:
    shutil.rmtree(workdir, ignore_errors=True)
    (workdir / "target").mkdir(parents=True)
    warehouse = workdir / "warehouse.duckdb"
    shutil.copyfile(cache, warehouse)
    loads: list[float] = []
    done = threading.Event()

    def sample() -> None:
        while not done.wait(5):
            loads.append(os.getloadavg()[0])

    threading.Thread(target=sample, daemon=True).start()
    child = subprocess.run(
        [sys.executable, "-c", _CHILD, str(warehouse), str(workdir / "target"), MEMORY_LIMIT],
        cwd=code,
        env=os.environ | {"PYTHONPATH": str(code)},
        capture_output=True,
        text=True,
        check=True,
    )
    done.set()
    result = json.loads(child.stdout.strip().splitlines()[-1])
    result["load"] = (min(loads), max(loads)) if loads else None
    result["models"] = {m: round(t, 1) for m, t in result["models"].items() if t >= 0.5}
    if result["exit"] != 0:
        tail = (workdir / "dbt.log").read_text().strip().splitlines()[-3:]
        result["error"] = " | ".join(tail)[-300:]
    warehouse.unlink(missing_ok=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="the commit to compare against")
    parser.add_argument("--after", default="HEAD")
    parser.add_argument("--scale", type=int, default=2_000_000)
    parser.add_argument("--pairs", type=int, default=2)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/tessera-identity-cost"))
    parser.add_argument("--write", action="store_true", help="append to BENCHMARKS.md")
    args = parser.parse_args()

    args.workdir.mkdir(parents=True, exist_ok=True)
    cache = cached_generated_warehouse(args.scale, args.workdir)
    args.before, args.after = (_short(args.before), _short(args.after))
    codes = {
        name: export(commit, args.workdir / name)
        for name, commit in (("before", args.before), ("after", args.after))
    }
    runs: list[tuple[str, dict]] = []
    for pair in range(1, args.pairs + 1):
        for name, code in codes.items():
            result = run_once(code, cache, args.workdir / f"run-{name}")
            runs.append((name, result))
            print(f"pair {pair} {name}: {json.dumps(result)}", flush=True)
    lines = _table(args, runs)
    print("\n".join(lines))
    if args.write:
        append_section(lines)


def _mean(runs: list[tuple[str, dict]], name: str, key: str) -> float:
    values = [r[key] for n, r in runs if n == name and r["exit"] == 0]
    return sum(values) / len(values) if values else float("nan")


def _table(args: argparse.Namespace, runs: list[tuple[str, dict]]) -> list[str]:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "",
        f"## Identity build, {args.before} against {args.after}, alternated — {stamp}",
        "",
        f"`python -m bench.bench_identity_cost --before {args.before} --after {args.after} "
        f"--scale {args.scale} --pairs {args.pairs}`; {machine_description()}.",
        "",
        "| run | commit | exit | wall s | CPU s | peak RSS MB | load |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for i, (name, r) in enumerate(runs, 1):
        load = "-" if r["load"] is None else f"{r['load'][0]:.1f}-{r['load'][1]:.1f}"
        lines.append(
            f"| {i} | {name} | {r['exit']} | {r['wall']:.1f} | {r['cpu']:.1f} | "
            f"{r['peak_rss_mb']:,} | {load} |"
        )
    lines += [
        f"\nRun {i} failed: {r.get('error', '')}" for i, (_, r) in enumerate(runs, 1) if r["exit"]
    ]
    wall = _mean(runs, "after", "wall") / _mean(runs, "before", "wall")
    cpu = _mean(runs, "after", "cpu") / _mean(runs, "before", "cpu")
    lines += [
        "",
        f"After / before, means of the runs that passed: {wall:.2f}x wall, {cpu:.2f}x CPU.",
    ]
    return lines


if __name__ == "__main__":
    main()
