"""`tessera demo`: the main job end to end on an embedded DuckDB file with generated data.

generate -> dbt build (staging, identity, profiles, features) -> identity accuracy ->
profile summary -> ML train/evaluate/score -> dbt build segments -> membership ->
reverse ETL to local emulators, change ~1%, re-sync.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from rich.console import Console
from rich.table import Table

from tessera.settings import Settings
from tessera.warehouse import Session, Warehouse

SEGMENTS_SELECTOR = "path:models/segments"


@dataclass
class DemoReport:
    step_seconds: dict[str, float] = field(default_factory=dict)

    def timed(self, name: str, console: Console, fn: Callable[[], object]) -> object:
        console.rule(f"[bold]{name}")
        started = time.perf_counter()
        result = fn()
        self.step_seconds[name] = time.perf_counter() - started
        return result


class DemoError(RuntimeError):
    """A demo step failed; the message names the step."""


def run_demo(settings: Settings, persons: int, seed: int, console: Console) -> int:
    from ml.cli import demo_step as ml_demo_step
    from reverse_etl.demo import run_sync_demo
    from tessera.datagen import generate
    from tessera.dbt import run_dbt

    if settings.target != "duckdb":
        console.print("[red]`tessera demo` runs on embedded DuckDB; unset TESSERA_TARGET.[/red]")
        return 2
    report = DemoReport()
    settings.warehouse_path.unlink(missing_ok=True)
    warehouse = Warehouse(settings)

    summary = report.timed(
        "Generate demo data",
        console,
        lambda: generate(warehouse, persons=persons, seed=seed, end_date=None),
    )
    _print_source_rows(summary.rows_per_table, console)
    report.timed(
        "dbt build: staging, identity, profiles, features",
        console,
        lambda: run_dbt(settings, ["build", "--exclude", SEGMENTS_SELECTOR]),
    )
    report.timed("Identity resolution", console, lambda: _print_identity(warehouse, console))
    report.timed("Customer profiles", console, lambda: _print_profiles(warehouse, console))
    failed = report.timed(
        "ML: train, evaluate, score", console, lambda: ml_demo_step(settings, console)
    )
    if failed:
        raise DemoError(f"{failed} ML step(s) failed; see the messages above")
    report.timed(
        "dbt build: segments",
        console,
        lambda: _build_segments(settings),
    )
    report.timed("Segments", console, lambda: _refresh_segments(settings, console))
    sync_status = report.timed(
        "Reverse ETL to local emulators", console, lambda: run_sync_demo(settings, console)
    )

    _print_timings(report, console)
    console.print(f"Warehouse: {settings.warehouse_path}")
    return int(bool(sync_status))


def _print_identity(warehouse: Warehouse, console: Console) -> None:
    from tessera.identity.cli import print_evaluation, print_stats
    from tessera.identity.evaluate import evaluate
    from tessera.identity.stats import read_stats

    print_stats(read_stats(warehouse), console)
    result = evaluate(warehouse)
    print_evaluation(result, console)
    for failure in result.failures():
        console.print(f"[red]below threshold:[/red] {failure}")


def _print_profiles(warehouse: Warehouse, console: Console) -> None:
    with warehouse.session(read_only=True) as session:
        _print_counts(session, "lifecycle_stage", "Profiles per lifecycle stage", console)
        _print_counts(session, "rfm_segment", "Profiles per RFM segment", console)


def _print_counts(session: Session, column: str, title: str, console: Console) -> None:
    frame = session.df(
        f"select coalesce({column}, '(none)') as value, count(*) as persons "
        f"from profiles.customer_profiles group by 1 order by 2 desc"
    )
    table = Table(title=title)
    table.add_column(column)
    table.add_column("persons", justify="right")
    for value, n in frame.itertuples(index=False, name=None):
        table.add_row(str(value), f"{n:,}")
    table.add_row("[bold]total", f"{int(frame['persons'].sum()):,}")
    console.print(table)


def _build_segments(settings: Settings) -> None:
    from tessera.dbt import run_dbt
    from tessera.segments.checks import require_valid_segments

    require_valid_segments(settings.dbt_project_dir)
    run_dbt(settings, ["build", "--select", SEGMENTS_SELECTOR])


def _refresh_segments(settings: Settings, console: Console) -> None:
    from tessera.segments.catalog import load_catalog, segments_dir
    from tessera.segments.membership import refresh_membership

    table = Table(title="Segment sizes")
    table.add_column("segment")
    table.add_column("members", justify="right")
    table.add_column("entered", justify="right")
    table.add_column("exited", justify="right")
    with Warehouse(settings).session() as session:
        names = [
            name
            for name in load_catalog(segments_dir(settings)).names()
            if session.table_exists("segments", name)
        ]
        for change in refresh_membership(session, names):
            table.add_row(
                change.segment, f"{change.size:,}", f"{change.entered:,}", f"{change.exited:,}"
            )
    console.print(table)


def _print_source_rows(rows: dict[str, int], console: Console) -> None:
    table = Table(title="Rows per source table")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, n in rows.items():
        table.add_row(name, f"{n:,}")
    console.print(table)


def _print_timings(report: DemoReport, console: Console) -> None:
    table = Table(title="Demo timings")
    table.add_column("step")
    table.add_column("seconds", justify="right")
    for name, seconds in report.step_seconds.items():
        table.add_row(name, f"{seconds:.1f}")
    table.add_row("[bold]total", f"{sum(report.step_seconds.values()):.1f}")
    console.print(table)
