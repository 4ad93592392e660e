"""Run named benchmarks at chosen scales in child processes and append them to BENCHMARKS.md."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS_MD = ROOT / "BENCHMARKS.md"
DEFAULT_BENCHMARKS = (
    "datagen",
    "staging",
    "identity",
    "profiles",
    "ml",
    "sync",
    "destinations",
    "freshness",
)


@dataclass
class Result:
    benchmark: str
    scale: int
    wall_seconds: float
    peak_rss_mb: float
    metrics: dict = field(default_factory=dict)
    error: str | None = None
    load_average: float = 0.0  # 1-minute load when the run started: other work skews figures


def machine_description() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    return f"{cpu}, {os.cpu_count()} cores, {mem_gb:.0f} GB RAM, {platform.system()}"


def git_sha() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        return (out.stdout.strip() or "uncommitted") + ("+dirty" if dirty else "")
    except OSError:
        return "unknown"


def run_child(benchmark: str, scale: int, workdir: Path) -> Result:
    """Run one benchmark in a fresh interpreter; it prints one JSON line with its result."""
    cmd = [sys.executable, "-m", "bench.harness", "--child", benchmark, str(scale), str(workdir)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        return Result(benchmark, scale, 0.0, 0.0, error=" | ".join(tail) or "no output")
    return Result(**json.loads(lines[-1]))


def child_main(benchmark: str, scale: int, workdir: Path) -> int:
    module = importlib.import_module(f"bench.bench_{benchmark}")
    workdir.mkdir(parents=True, exist_ok=True)
    load_average = os.getloadavg()[0]
    started = time.perf_counter()
    metrics = module.run(scale, workdir)
    wall = time.perf_counter() - started
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    peak_mb = max(own, children) / 1024  # ru_maxrss is KiB on Linux
    result = Result(benchmark, scale, wall, peak_mb, metrics, load_average=load_average)
    print(json.dumps(result.__dict__, default=str))
    return 0


def format_metrics(metrics: dict) -> str:
    parts = []
    for key, value in metrics.items():
        if isinstance(value, float):
            value = f"{value:,.3f}" if abs(value) < 100 else f"{value:,.0f}"
        elif isinstance(value, int):
            value = f"{value:,}"
        parts.append(f"{key}={value}")
    return "; ".join(parts)


def append_section(lines: list[str], path: Path = BENCHMARKS_MD) -> None:
    """Append a section (its lines, starting with a blank one) to BENCHMARKS.md."""
    header = "# Benchmarks\n\nAppended by `make bench` (`python -m bench run`). Newest last.\n"
    text = path.read_text() if path.exists() else header
    path.write_text(text.rstrip("\n") + "\n" + "\n".join(lines) + "\n")


def append_markdown(results: list[Result], path: Path = BENCHMARKS_MD) -> None:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "",
        f"## {when} — git {git_sha()}",
        "",
        f"Machine: {machine_description()}",
        "",
        "| benchmark | scale | wall s | peak RSS MB | load at start | figures |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for r in results:
        figures = f"FAILED: {r.error}" if r.error else format_metrics(r.metrics)
        lines.append(
            f"| {r.benchmark} | {r.scale:,} | {r.wall_seconds:,.1f} | {r.peak_rss_mb:,.0f} "
            f"| {r.load_average:.1f} | {figures} |"
        )
    append_section(lines, path)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--child"]:
        return child_main(argv[1], int(argv[2]), Path(argv[3]))
    parser = argparse.ArgumentParser(prog="python -m bench")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run benchmarks and append to BENCHMARKS.md")
    run.add_argument("--scales", nargs="+", type=int, default=[100_000])
    run.add_argument("--only", default=",".join(DEFAULT_BENCHMARKS))
    run.add_argument("--workdir", default=None, help="keep warehouses here (default: temp)")
    run.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)

    names = [n.strip() for n in args.only.split(",") if n.strip()]
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="tessera-bench-") as tmp:
        base = Path(args.workdir or tmp)
        for scale in args.scales:
            for name in names:
                print(f"bench {name} @ {scale:,} persons ...", flush=True)
                result = run_child(name, scale, base / f"{name}-{scale}")
                status = result.error or format_metrics(result.metrics)
                print(f"  {result.wall_seconds:.1f}s, {result.peak_rss_mb:.0f} MB: {status}")
                results.append(result)
    if not args.no_write:
        append_markdown(results)
        print(f"appended {len(results)} results to {BENCHMARKS_MD}")
    return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
