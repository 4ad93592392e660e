"""A new user's first pipeline on real purchase data: where its seconds go (issue 20, item 6).

    python -m bench.bench_first_pipeline --cdnow Lifetimes-0.11.3-py3-none-any.whl \
        [--synthetic 25000] [--runs 2] [--checkout DIR --label NAME] [--steps] [--write]

Data: CDNOW (23,570 customers' 69,659 purchases, 1997-1998), read from the `lifetimes` 0.11.3
wheel (`pip download lifetimes==0.11.3 --no-deps`; `lifetimes/datasets/CDNOW_master.txt`, or
that text file itself), loaded into `raw.orders` of a fresh DuckDB file and nothing else:
every other source is absent, as on a warehouse that never saw the demo generator.
`--synthetic N` adds a CDNOW-like purchase log of N customers (bench/bench_first_run.py).

What runs is what a new user types, the installed `tessera` console script in a fresh process
each, from the project root, with nothing in the environment but what README tells a user to
set (TESSERA_WAREHOUSE, TESSERA_ARTIFACTS); every Tessera, Snowflake and dbt variable of the
calling shell is removed. Each run starts from a fresh clone's state: a copy of the raw
warehouse, and no `dbt_project/target` or `dbt_project/logs` (no parse cache).
    one command:  tessera build                          (trains and scores a fresh warehouse)
    --steps:      tessera build --exclude path:models/segments; tessera ml train;
                  tessera ml score; tessera build --select path:models/segments
Each command is timed from the outside (wall and CPU, interpreter start-up included); each of
its dbt invocations from dbt's own JSON file log (dbt_project/logs/dbt.log): start-up to the
first event is what is left, parse is first event to `FoundStats`, execution from there to
`CommandCompleted`; nodes and tests from run_results.json; whether dbt reparsed and why.

`--checkout DIR` measures another commit's code (e.g. `git archive <sha> | tar -x -C DIR`)
with this environment's packages: its own dbt project and Python packages come first on the
path. `--write` appends a section to BENCHMARKS.md; the 1-minute load average is recorded per
command, because the machine is shared.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import shutil
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
CDNOW_IN_WHEEL = "lifetimes/datasets/CDNOW_master.txt"
# what README tells a user to set for a warehouse of their own; nothing else reaches a command
USER_SETTINGS = ("TESSERA_WAREHOUSE", "TESSERA_ARTIFACTS")
ONE_COMMAND = (("build", ("build",)),)
STEPS = (
    ("build", ("build", "--exclude", "path:models/segments")),
    ("train", ("ml", "train")),
    ("score", ("ml", "score")),
    ("segments", ("build", "--select", "path:models/segments")),
)


def read_cdnow(source: Path) -> pd.DataFrame:
    """CDNOW_master.txt (customer, date, quantity, amount), from the wheel or the file."""
    if source.suffix == ".whl":
        with zipfile.ZipFile(source) as wheel:
            text = wheel.read(CDNOW_IN_WHEEL).decode()
    else:
        text = source.read_text()
    raw = pd.read_csv(io.StringIO(text), sep=r"\s+", header=None, dtype=str)
    if not raw.iloc[0, 0].isdigit():  # the wheel's copy has a header line
        raw = raw.iloc[1:]
    return pd.DataFrame(
        {
            "customer": raw[0].str.zfill(5),
            "date": pd.to_datetime(raw[1], format="%Y%m%d"),
            "quantity": raw[2].astype(int),
            "amount": raw[3].astype(float),
        }
    )


def cdnow_orders(source: Path) -> pd.DataFrame:
    """One raw.orders row per CDNOW purchase: what a user with only a purchase log loads."""
    data = read_cdnow(source)
    at = data["date"] + pd.Timedelta(hours=12)
    return pd.DataFrame(
        {
            "order_id": [f"cd{i:06d}" for i in range(len(data))],
            "user_id": data["customer"].to_numpy(),
            "ordered_at": at.to_numpy(),
            "status": "completed",
            "currency": "USD",
            "total": data["amount"].to_numpy(),
            "item_count": data["quantity"].astype("int32").to_numpy(),
            "updated_at": at.to_numpy(),
        }
    )


def write_raw_orders(warehouse: Path, orders: pd.DataFrame) -> None:
    import duckdb

    warehouse.unlink(missing_ok=True)
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema raw")
        con.register("incoming", orders)
        con.execute("create table raw.orders as select * from incoming")


def user_env(run_dir: Path, checkout: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TESSERA_", "SNOWFLAKE_", "DBT_", "PYTHONPATH"))
    }
    env["TESSERA_WAREHOUSE"] = str(run_dir / "warehouse.duckdb")
    env["TESSERA_ARTIFACTS"] = str(run_dir / "artifacts")
    if checkout != ROOT:
        env["PYTHONPATH"] = str(checkout)  # that commit's packages before the installed ones
    return env


@dataclass
class DbtInvocation:
    command: str
    startup_s: float  # tessera command start to dbt's first event (Python, tessera, dbt import)
    parse_s: float
    execute_s: float
    total_s: float  # dbt's own elapsed
    reparse: str  # how dbt parsed: full (and why) or partial / skipped


@dataclass
class Step:
    name: str
    args: tuple[str, ...]
    wall_s: float
    cpu_s: float
    load_1m: float
    dbt: list[DbtInvocation] = field(default_factory=list)
    nodes: int = 0
    tests: int = 0


def _events(log: Path, offset: int) -> tuple[list[dict], int]:
    if not log.exists():
        return [], 0
    with log.open() as f:
        f.seek(offset)
        lines = f.readlines()
        end = f.tell()
    events = []
    for line in lines:
        try:
            events.append(json.loads(line))
        except ValueError:
            continue
    return events, end


def _ts(event: dict) -> float:
    return datetime.fromisoformat(event["info"]["ts"].replace("Z", "+00:00")).timestamp()


def dbt_invocations(events: list[dict], command_started: float) -> list[DbtInvocation]:
    by_id: dict[str, list[dict]] = {}
    for event in events:
        by_id.setdefault(event["info"].get("invocation_id", ""), []).append(event)
    out = []
    previous_end = command_started
    for evs in by_id.values():
        names = {e["info"]["name"]: e for e in evs}
        first, last = _ts(evs[0]), _ts(evs[-1])
        found = names.get("FoundStats") or names.get("ConcurrencyLine")
        parsed = _ts(found) if found else last
        args = names.get("MainReportArgs", {}).get("data", {}).get("args", {})
        # the command from its completion (`cli parse`): a prestarted dbt's invocation_command
        # is its driver's arguments
        completed = names.get("CommandCompleted", {}).get("data", {}).get("command", "")
        words = str(args.get("invocation_command", "dbt ?")).split()
        command = completed.split()[-1] if completed else words[1] if len(words) > 1 else "?"
        if "UnableToPartialParse" in names or "PartialParsingNotEnabled" in names:
            why = names.get("UnableToPartialParse", names.get("PartialParsingNotEnabled"))
            reparse = "full: " + why["info"]["msg"][:80]
        elif "PartialParsingSkipParsing" in names:
            reparse = "skipped (unchanged)"
        elif "PartialParsingEnabled" in names:
            reparse = "partial"
        else:
            reparse = "full (no cache)"
        out.append(
            DbtInvocation(
                command=command,
                startup_s=max(first - previous_end, 0.0),
                parse_s=parsed - first,
                execute_s=last - parsed,
                total_s=last - first,
                reparse=reparse,
            )
        )
        previous_end = last
    return out


def run_results(checkout: Path) -> tuple[int, int]:
    path = checkout / "dbt_project" / "target" / "run_results.json"
    if not path.exists():
        return 0, 0
    nodes = json.loads(path.read_text())["results"]
    return len(nodes), sum(n["unique_id"].startswith(("test.", "unit_test.")) for n in nodes)


def tessera(args: tuple[str, ...], env: dict[str, str], checkout: Path, log: Path) -> Step:
    script = Path(sys.executable).with_name("tessera")
    dbt_log = checkout / "dbt_project" / "logs" / "dbt.log"
    _, offset = _events(dbt_log, 0) if dbt_log.exists() else ([], 0)
    results = checkout / "dbt_project" / "target" / "run_results.json"
    results.unlink(missing_ok=True)
    load = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started_epoch = time.time()
    started = time.perf_counter()
    with log.open("a") as out:
        out.write(f"\n$ tessera {' '.join(args)}\n")
        out.flush()
        proc = subprocess.run(
            [str(script), *args], cwd=checkout, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"tessera {' '.join(args)} failed (exit {proc.returncode}); see {log}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    events, _ = _events(dbt_log, offset)
    step = Step("", args, wall, cpu, load, dbt_invocations(events, started_epoch))
    step.nodes, step.tests = run_results(checkout)
    return step


def fresh_clone_state(checkout: Path) -> None:
    for name in ("target", "logs"):
        shutil.rmtree(checkout / "dbt_project" / name, ignore_errors=True)


def run_sequence(
    raw: Path, sequence: tuple, workdir: Path, checkout: Path, name: str
) -> list[Step]:
    run_dir = workdir / name
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    shutil.copyfile(raw, run_dir / "warehouse.duckdb")
    fresh_clone_state(checkout)
    env = user_env(run_dir, checkout)
    steps = []
    for step_name, args in sequence:
        step = tessera(args, env, checkout, run_dir / "commands.log")
        step.name = step_name
        steps.append(step)
    return steps


def describe(steps: list[Step]) -> str:
    parts = []
    for s in steps:
        dbt = "; ".join(
            f"dbt {d.command} start {d.startup_s:.1f} + parse {d.parse_s:.1f} ({d.reparse}) "
            f"+ run {d.execute_s:.1f}"
            for d in s.dbt
        )
        nodes = f", {s.nodes} nodes ({s.tests} tests) in last dbt" if s.nodes else ""
        parts.append(
            f"**{s.name}** {s.wall_s:.1f} s (cpu {s.cpu_s:.1f}, load {s.load_1m:.1f}{nodes})"
            + (f" [{dbt}]" if dbt else "")
        )
    return "; ".join(parts)


def _row(code: str, data: str, customers: int, orders: int, sequence: str, steps: list) -> str:
    total = sum(s.wall_s for s in steps)
    return (
        f"| {code} | {data}: {customers:,} customers, {orders:,} orders | {sequence} | "
        f"{total:.1f} | {sum(s.cpu_s for s in steps):.1f} | {describe(steps)} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_first_pipeline")
    parser.add_argument("--cdnow", type=Path, help="the lifetimes wheel or CDNOW_master.txt")
    parser.add_argument("--synthetic", type=int, default=0, help="also N synthetic customers")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--steps", action="store_true", help="also the four separate commands")
    parser.add_argument(
        "--checkout",
        type=Path,
        nargs="+",
        default=[ROOT],
        help="code to measure; several are run alternately (before/after in one window)",
    )
    parser.add_argument("--label", nargs="+", default=[], help="a name per checkout")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/tessera-first-pipeline"))
    parser.add_argument("--write", action="store_true", help="append to BENCHMARKS.md")
    args = parser.parse_args(argv)
    checkouts = [c.resolve() for c in args.checkout]
    labels = args.label + [c.name for c in checkouts[len(args.label) :]]
    args.workdir.mkdir(parents=True, exist_ok=True)

    data: dict[str, pd.DataFrame] = {}
    if args.cdnow:
        data["CDNOW"] = cdnow_orders(args.cdnow)
    if args.synthetic:
        from bench.bench_first_run import orders_frame

        data[f"synthetic {args.synthetic:,}"] = orders_frame(args.synthetic)
    if not data:
        parser.error("give --cdnow and/or --synthetic")
    sequences = [("one command", ONE_COMMAND)] + ([("steps", STEPS)] if args.steps else [])

    rows = []
    for label, orders in data.items():
        raw = args.workdir / f"orders_{label.split()[0].lower()}.duckdb"
        write_raw_orders(raw, orders)
        customers = orders["user_id"].nunique()
        for _ in range(args.runs):
            for checkout, code in zip(checkouts, labels, strict=True):
                for seq_name, sequence in sequences:
                    steps = run_sequence(raw, sequence, args.workdir, checkout, "run")
                    rows.append(_row(code, label, customers, len(orders), seq_name, steps))
                    print(rows[-1], flush=True)
    if args.write:
        from bench.harness import append_section, git_sha, machine_description

        when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        lines = [
            "",
            f"## First pipeline on orders only (issue 20) — {when}, git {git_sha()}",
            "",
            f"Machine: {machine_description()}. `python -m bench.bench_first_pipeline`.",
            "",
            "| code | data | sequence | wall s | cpu s | per command |",
            "|---|---|---|---:|---:|---|",
            *rows,
        ]
        append_section(lines)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
