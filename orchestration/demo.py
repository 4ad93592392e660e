"""`tessera demo`: the main job end to end on an embedded DuckDB file with generated data.

The demo is a list of steps (`demo_steps`); a layer adds its part with one line there. Each
step gets the same `DemoContext` and prints what a person should see; the demo ends with the
timings and the next steps.

The demo only ever replaces a warehouse Tessera generated (`tessera demo` or `datagen` marked
it, tessera/generated.py) and refuses any other existing file unless `--force`. It marks the
new file before writing anything else, so an interrupted demo is simply run again.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

from tessera.generated import NotGeneratedError, inspect, mark_generated
from tessera.settings import Settings
from tessera.warehouse import Session, Warehouse, warehouse_location

SEGMENTS_SELECTOR = "path:models/segments"


class DemoError(RuntimeError):
    """A demo step failed or the demo refused to start; the message says which and why."""


@dataclass
class DemoContext:
    settings: Settings
    persons: int
    seed: int
    console: Console
    # What steps found out, for later steps and the closing summary (e.g. "profiles": 8484).
    facts: dict[str, object] = field(default_factory=dict)

    @property
    def warehouse(self) -> Warehouse:
        return Warehouse(self.settings)


@dataclass(frozen=True)
class DemoStep:
    title: str
    run: Callable[[DemoContext], None]


def demo_steps() -> list[DemoStep]:
    """The demo, in order."""
    return [
        DemoStep("Generate demo data", generate_data),
        DemoStep("dbt build: staging, identity, profiles, features", build_models),
        DemoStep("Identity resolution", show_identity),
        DemoStep("Customer profiles", show_profiles),
        DemoStep("ML: train, evaluate, score", train_and_score),
        DemoStep("dbt build: segments", build_segments),
        DemoStep("Segments", show_segments),
        DemoStep("Experiments: assign arms, hold out", assign_experiments),  # issue 18
        DemoStep("Reverse ETL to local emulators", sync_to_emulators),
        DemoStep("Experiments: measured lift vs the simulated truth", measure_experiments),
    ]


def run_demo(
    settings: Settings,
    persons: int,
    seed: int,
    console: Console,
    force: bool = False,
    steps: list[DemoStep] | None = None,
) -> int:
    if settings.target != "duckdb":
        console.print("[red]`tessera demo` runs on embedded DuckDB; unset TESSERA_TARGET.[/red]")
        return 2
    if persons < 1:
        raise DemoError(f"--persons must be at least 1, not {persons}")
    prepare_warehouse(settings, persons, seed, force, console)
    # before any step: a demo that stops half way has still said which file it wrote
    console.print(
        f"Demo warehouse: {warehouse_location(settings)}",
        soft_wrap=True,
        markup=False,
        highlight=False,
    )
    context = DemoContext(settings=settings, persons=persons, seed=seed, console=console)
    timings: dict[str, float] = {}
    for step in steps if steps is not None else demo_steps():
        console.rule(f"[bold]{step.title}")
        started = time.perf_counter()
        try:
            step.run(context)
        except KeyboardInterrupt:
            raise KeyboardInterrupt(
                f"Interrupted during '{step.title}'. Run `tessera demo` again: it replaces "
                "the warehouse it created and starts over."
            ) from None
        timings[step.title] = time.perf_counter() - started
    print_timings(timings, console)
    print_next_steps(context)
    return 1 if context.facts.get("failed") else 0


# -- the warehouse the demo owns ------------------------------------------------------------


def prepare_warehouse(
    settings: Settings, persons: int, seed: int, force: bool, console: Console
) -> None:
    """Remove the previous generated warehouse (only one Tessera generated, unless forced)
    and mark the new one before anything else is written to it."""
    path = settings.warehouse_path
    if path.exists():
        if not force:
            refuse_foreign_warehouse(settings)
        console.print(f"Replacing the demo warehouse {path}")
        remove_warehouse(path)
    mark_generated(settings, "demo", persons, seed, created_file=True)


def refuse_foreign_warehouse(settings: Settings) -> None:
    try:
        if inspect(settings).file_generated:
            return
        reason = "it was not created by `tessera demo` or `tessera datagen`"
    except NotGeneratedError as exc:
        reason = str(exc).split(" exists but ", 1)[-1]
    raise DemoError(
        f"{settings.warehouse_path} already exists and {reason}. It may hold your data, so "
        "the demo will not replace it. Run `tessera demo --force` to replace it anyway, or "
        "set TESSERA_WAREHOUSE to another file (e.g. TESSERA_WAREHOUSE=warehouse/demo.duckdb)."
    )


def remove_warehouse(path: Path) -> None:
    for leftover in (path, path.with_name(path.name + ".wal")):
        leftover.unlink(missing_ok=True)
    shutil.rmtree(path.with_name(path.name + ".tmp"), ignore_errors=True)


# -- the steps ------------------------------------------------------------------------------


def generate_data(context: DemoContext) -> None:
    from tessera.datagen import generate

    summary = generate(context.warehouse, persons=context.persons, seed=context.seed, end_date=None)
    table = Table(title="Rows per source table")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, n in summary.rows_per_table.items():
        table.add_row(name, f"{n:,}")
    context.console.print(table)


def build_models(context: DemoContext) -> None:
    from tessera.dbt import run_dbt

    run_dbt(
        context.settings,
        ["build", "--exclude", SEGMENTS_SELECTOR],
        console=context.console,
        label="demo_models",
    )


def show_identity(context: DemoContext) -> None:
    from tessera.identity.cli import print_evaluation, print_stats
    from tessera.identity.evaluate import evaluate
    from tessera.identity.stats import read_stats

    print_stats(read_stats(context.warehouse), context.console)
    result = evaluate(context.warehouse)
    print_evaluation(result, context.console)
    for failure in result.failures():
        context.console.print(f"[red]below threshold:[/red] {failure}")


def show_profiles(context: DemoContext) -> None:
    with context.warehouse.session(read_only=True) as session:
        _print_counts(session, "lifecycle_stage", "Profiles per lifecycle stage", context.console)
        _print_counts(session, "rfm_segment", "Profiles per RFM segment", context.console)
        profiles = int(session.scalar("select count(*) from profiles.customer_profiles"))
        known = int(
            session.scalar("select count(*) from profiles.customer_profiles where is_known")
        )
    context.facts["profiles"] = profiles
    context.console.print(persons_explained(context.persons, profiles, known), soft_wrap=True)


def persons_explained(simulated: int, profiles: int, known: int) -> str:
    """Why N simulated people give more profiles: one line for a person reading the demo."""
    anonymous = profiles - known
    return (
        f"{simulated:,} simulated people became {profiles:,} profiles: {known:,} known "
        f"customers (an email, phone, login or loyalty id ties their records together) and "
        f"{anonymous:,} anonymous visitors whose devices never identified, so nothing links "
        "them to anyone; each is a person of its own, as in any CDP."
    )


def train_and_score(context: DemoContext) -> None:
    from orchestration.demo_runs import materialize_ml_assets

    # the UI's own ML assets, recorded in .dagster_home: `make ui` shows the models materialized
    failed = materialize_ml_assets(context.settings, context.console)
    if failed:
        raise DemoError(f"{failed} ML step(s) failed; see the messages above")


def build_segments(context: DemoContext) -> None:
    from tessera.dbt import run_dbt
    from tessera.segments.checks import require_valid_segments

    settings = context.settings
    require_valid_segments(
        settings.dbt_project_dir, target=settings.dbt_target, env=settings.dbt_env()
    )
    run_dbt(
        context.settings,
        ["build", "--select", SEGMENTS_SELECTOR],
        console=context.console,
        label="demo_segments",
    )


def show_segments(context: DemoContext) -> None:
    from tessera.segments.catalog import load_catalog, segments_dir
    from tessera.segments.membership import refresh_membership

    table = Table(title="Segment sizes")
    table.add_column("segment")
    table.add_column("members", justify="right")
    table.add_column("entered", justify="right")
    table.add_column("exited", justify="right")
    with context.warehouse.session() as session:
        names = [
            name
            for name in load_catalog(segments_dir(context.settings)).names()
            if session.table_exists("segments", name)
        ]
        for change in refresh_membership(session, names):
            table.add_row(
                change.segment, f"{change.size:,}", f"{change.entered:,}", f"{change.exited:,}"
            )
    context.facts["segments"] = names
    context.console.print(table)


def sync_to_emulators(context: DemoContext) -> None:
    from reverse_etl.demo import run_sync_demo

    if run_sync_demo(context.settings, context.console):
        context.facts["failed"] = True


def assign_experiments(context: DemoContext) -> None:
    from tessera.experiments.demo import assign_experiments as assign

    assign(context.settings, context.console)


def measure_experiments(context: DemoContext) -> None:
    from tessera.experiments.demo import measure_experiments as measure

    measure(context.settings, context.console)


# -- the closing summary --------------------------------------------------------------------


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


def print_timings(timings: dict[str, float], console: Console) -> None:
    table = Table(title="Demo timings")
    table.add_column("step")
    table.add_column("seconds", justify="right")
    for name, seconds in timings.items():
        table.add_row(name, f"{seconds:.1f}")
    table.add_row("[bold]total", f"{sum(timings.values()):.1f}")
    console.print(table)


def print_next_steps(context: DemoContext) -> None:
    settings = context.settings
    segments = context.facts.get("segments") or ["lapsed_vips"]
    example = "lapsed_vips" if "lapsed_vips" in segments else segments[0]  # type: ignore[index]
    console = context.console
    console.rule("[bold]Next steps")
    steps = Table.grid(padding=(0, 2))
    steps.add_column(style="bold", no_wrap=True)
    steps.add_column()
    for command, what in (
        ("make ui", "the Dagster UI: assets, lineage, checks; launch the refresh jobs there"),
        (f"tessera segments preview {example}", "a segment's size, sample rows and overlaps"),
        ("tessera sync status", "what each sync sent, changed and removed"),
        ("tessera segments chart", "segment sizes over time, as a PNG"),
    ):
        steps.add_row(command, what)
    console.print(steps)
    console.print(
        f"Warehouse: {warehouse_location(settings)}", soft_wrap=True, markup=False, highlight=False
    )
    console.print(
        "Charts: each model's lift and reliability, "
        f"{settings.artifacts_dir / 'models'}/<model>/<version>/*.png (and in the Dagster UI)",
        soft_wrap=True,
    )
    console.print(f"dbt logs: {settings.artifacts_dir / 'logs'}", soft_wrap=True)
