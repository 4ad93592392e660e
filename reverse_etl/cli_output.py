"""What `tessera sync` prints: the plan line, the progress bar, a run's summary and its most
frequent errors (reverse_etl/cli.py runs the commands)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from rich.console import Console

from tessera.settings import Settings

if TYPE_CHECKING:
    from rich.progress import Progress

    from reverse_etl.planner import Plan
    from reverse_etl.runner import RunResult

console = Console()
KINDS = ("erased", "suppressed", "removed", "retry", "changed", "added")  # = planner.KINDS


def print_plan(plan: Plan) -> None:
    counts = ", ".join(f"{kind} {plan.counts.get(kind, 0):,}" for kind in KINDS)
    held_back = plan.counts.get("held_back", 0)
    if held_back and plan.match is not None:
        counts += f"; held back {held_back:,} (another row has their {plan.match.field})"
    narrowed = plan.counts.get("narrowed", 0)
    if narrowed:
        counts += f"; {narrowed:,} removals leave out identifiers staying members share"
    console.print(f"plan [bold]{plan.sync_name}[/bold]: {counts} (planned in {plan.seconds:.2f}s)")


def progress_bar(args: argparse.Namespace) -> Progress:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[failed]} failed"),
        TimeElapsedColumn(),
        console=console,
        disable=args.no_progress or not console.is_terminal,
    )


def print_down(exc: Exception) -> int:
    """A run that delivered nothing (the destination took no batch, or refused every row):
    one line naming the sync, the destination and the cause (for rejections, how many and
    where they are recorded); exit code 1, like any failed run."""
    result = getattr(exc, "result", None)
    line = f"sync {result.sync_name} failed: {result.error}" if result is not None else str(exc)
    console.print(line, style="red", markup=False, highlight=False, soft_wrap=True)
    return 1


def print_result(result: RunResult, settings: Settings | None = None) -> None:
    stats = result.stats
    sent = ", ".join(f"{k} {v:,}" for k, v in stats.ok_by_kind.items()) or "nothing"
    if result.recovered_rows:
        console.print(
            f"committed {result.recovered_rows:,} rows an interrupted run had acknowledged "
            "(from its journal); they were not sent again"
        )
    console.print(
        f"sync [bold]{result.sync_name}[/bold] {result.status}: sent {sent}; "
        f"rejected {stats.rejected:,}"
        + (f" ({stats.held_back:,} held back before sending); " if stats.held_back else "; ")
        + (f"not delivered {stats.not_delivered:,}; " if stats.not_delivered else "")
        + f"{stats.calls:,} requests "
        f"({stats.rate_limited:,} rate limited, {stats.retries:,} retried) in "
        f"{result.seconds:.2f}s ({result.rows_per_second:,.0f} rows/s)"
    )
    if stats.rejected:
        console.print(
            f"[yellow]{stats.rejected:,} rows were rejected; see `tessera sync errors "
            f"{result.sync_name}`. They are retried on the next run.[/yellow]"
        )
        for count, error in run_errors(settings, result.run_id) if settings else []:
            console.print(f"  {count:,} x {error}", highlight=False, markup=False)
    if stats.not_delivered:
        console.print(
            f"[yellow]{stats.not_delivered:,} rows were not delivered (the destination took "
            "none of their batches); they are not rejections, they stay pending and the next "
            "run sends them.[/yellow]"
        )
        for error, count in sorted(stats.not_delivered_causes.items(), key=lambda c: -c[1])[:3]:
            console.print(f"  {count:,} x {error}", highlight=False, markup=False)


def run_errors(settings: Settings, run_id: str, limit: int = 3) -> list[tuple[int, str]]:
    """The most frequent errors of one run, so a refused connection or a wrong URL is named
    where the run ends (empty when they cannot be read)."""
    from reverse_etl.dialect import placeholder
    from reverse_etl.state import SCHEMA
    from tessera.warehouse import Warehouse

    try:
        with Warehouse(settings).session(read_only=True) as session:
            if not session.table_exists(SCHEMA, "errors"):
                return []
            frame = session.df(
                f"select count(*) as n, error from {SCHEMA}.errors "
                f"where run_id = {placeholder(session.dialect)} group by error "
                f"order by n desc, error limit {int(limit)}",
                [run_id],
            )
    except Exception:  # a summary line is not worth failing a finished run over
        return []
    return [(int(n), str(error)) for n, error in frame.itertuples(index=False)]
