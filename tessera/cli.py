"""`tessera` command line: demo, datagen, build, and the subcommands each layer registers."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable
from datetime import date

from rich.console import Console

from tessera.settings import Settings, SettingsError

console = Console()

# Layers register their own subcommands: module path -> function(subparsers) adding parsers.
# Imported lazily so `tessera datagen` does not pay for lightgbm or dagster imports.
LAYER_COMMANDS: tuple[str, ...] = (
    "tessera.identity.cli",
    "tessera.segments.cli",
    "ml.cli",
    "reverse_etl.cli",
)


def _register_layers(subparsers: argparse._SubParsersAction) -> None:
    for module_name in LAYER_COMMANDS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                continue  # layer not installed in this checkout
            raise
        module.register(subparsers)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tessera", description="Warehouse-native customer data platform."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("datagen", help="generate multi-source demo data into the warehouse")
    p.add_argument("--persons", type=int, default=5000, help="hidden persons to simulate")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument(
        "--end-date",
        type=date.fromisoformat,
        default=None,
        help="last day of simulated activity (default: today, UTC)",
    )
    p.add_argument("--days", type=int, default=730, help="days of history to simulate")
    p.add_argument("--parquet-dir", default=None, help="also write each table as Parquet here")
    p.add_argument(
        "--mode",
        choices=("default", "adversarial"),
        default="default",
        help="adversarial: a second world written from a catalogue of real-world mess "
        "(tessera/datagen/adversarial)",
    )
    p.set_defaults(func=_cmd_datagen)

    p = sub.add_parser("build", help="dbt build the project (extra args go to dbt)")
    p.add_argument("--select", "-s", default=None)
    p.add_argument("--full-refresh", action="store_true")
    p.add_argument("dbt_args", nargs=argparse.REMAINDER)
    p.set_defaults(func=_cmd_build)

    p = sub.add_parser("demo", help="the main job end to end on embedded DuckDB")
    p.add_argument("--persons", type=int, default=5000)
    p.add_argument("--seed", type=int, default=42)
    p.set_defaults(func=_cmd_demo)

    _register_layers(sub)
    return parser


def _cmd_datagen(args: argparse.Namespace, settings: Settings) -> int:
    from tessera.datagen import generate
    from tessera.warehouse import Warehouse

    if args.mode == "adversarial":
        from tessera.datagen.adversarial.cli import run_datagen

        return run_datagen(args, settings, _print_rows_per_table)

    summary = generate(
        Warehouse(settings),
        persons=args.persons,
        seed=args.seed,
        end_date=args.end_date,
        days=args.days,
        parquet_dir=args.parquet_dir,
    )
    _print_rows_per_table(summary.rows_per_table, f"Generated {args.persons:,} persons")
    return 0


def _cmd_build(args: argparse.Namespace, settings: Settings) -> int:
    from tessera.dbt import run_dbt
    from tessera.segments.checks import require_valid_segments

    require_valid_segments(settings.dbt_project_dir)
    dbt_args = ["build"]
    if args.select:
        dbt_args += ["--select", args.select]
    if args.full_refresh:
        dbt_args.append("--full-refresh")
    dbt_args += [a for a in args.dbt_args if a != "--"]
    run = run_dbt(settings, dbt_args)
    console.print(f"dbt build finished in {run.seconds:.1f}s ({len(run.results)} nodes)")
    return 0


def _cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from tessera.demo import run_demo

    return run_demo(settings, persons=args.persons, seed=args.seed, console=console)


def _print_rows_per_table(rows: dict[str, int], title: str) -> None:
    from rich.table import Table

    table = Table(title=title)
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, n in rows.items():
        table.add_row(name, f"{n:,}")
    console.print(table)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
        func: Callable[[argparse.Namespace, Settings], int] = args.func
        return func(args, settings)
    except SettingsError as exc:
        console.print(f"[red]configuration error:[/red] {exc}")
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        # Known errors carry a message meant for the user; show it without a traceback.
        if type(exc).__name__.endswith("Error") and getattr(exc, "user_facing", True):
            console.print(f"[red]{type(exc).__name__}:[/red] {exc}")
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
