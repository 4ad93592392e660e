"""`tessera demo`: the main job end to end on an embedded DuckDB file with generated data."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from rich.console import Console
from rich.table import Table

from tessera.settings import Settings
from tessera.warehouse import Warehouse


@dataclass
class DemoReport:
    step_seconds: dict[str, float] = field(default_factory=dict)

    def timed(self, name: str, console: Console, fn: Callable[[], object]) -> object:
        console.rule(f"[bold]{name}")
        started = time.perf_counter()
        result = fn()
        self.step_seconds[name] = time.perf_counter() - started
        return result


def run_demo(settings: Settings, persons: int, seed: int, console: Console) -> int:
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
    report.timed("dbt build", console, lambda: run_dbt(settings, ["build"]))

    _print_source_rows(summary.rows_per_table, console)
    _print_timings(report, console)
    console.print(f"Warehouse: {settings.warehouse_path}")
    return 0


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
