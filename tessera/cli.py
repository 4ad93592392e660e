"""The core of the `tessera` command line: `datagen` and the core layers' subcommands.

The `tessera` console script itself lives in `orchestration/cli.py`: it adds the commands of
the layers above the core (ml, sync) and the ones that wire layers together (build, demo),
because the core imports none of them. Everything here is reusable by that entry point:
`build_parser` takes the layer modules to register and `run` the error handling.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import importlib
import importlib.metadata
import os
import signal
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from tessera.cli_args import day_count, iso_date, person_count, seed
from tessera.settings import Settings, SettingsError, check_dbt_project_file

console = Console()

# Layers register their own subcommands: module path -> function(subparsers) adding parsers.
# Imported lazily so `tessera datagen` does not pay for lightgbm or dagster imports.
LAYER_COMMANDS: tuple[str, ...] = (
    "tessera.identity.cli",
    "tessera.sources.cli",
    "tessera.segments.cli",
    "tessera.experiments.cli",
)

Handler = Callable[[argparse.Namespace, Settings], int]

# Built-in exceptions that mean a bug in Tessera, not something the person running it can fix:
# `run` reports them as an internal error and writes their traceback to a file. Every other
# error (OSError, ValueError, DuckDB's, the project's own ...) carries a message meant for a
# person and prints as one line. An error class can say which it is with `user_facing`.
INTERNAL_ERRORS: tuple[type[Exception], ...] = (
    AssertionError,
    AttributeError,
    IndexError,
    KeyError,
    NameError,  # UnboundLocalError too
    NotImplementedError,
    RecursionError,
    StopIteration,
    SystemError,
    TypeError,
    ZeroDivisionError,
)
EXIT_INTERNAL_ERROR = 70  # EX_SOFTWARE in sysexits.h: an internal software error


def _register_layers(subparsers: argparse._SubParsersAction, layers: Sequence[str]) -> None:
    for module_name in layers:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                continue  # layer not installed in this checkout
            raise
        module.register(subparsers)


def build_parser(
    layers: Sequence[str] = LAYER_COMMANDS,
    add_commands: Callable[[argparse._SubParsersAction], None] | None = None,
) -> argparse.ArgumentParser:
    """`datagen`, then each layer module's `register(subparsers)`, then `add_commands`."""
    parser = argparse.ArgumentParser(
        prog="tessera", description="Warehouse-native customer data platform."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("datagen", help="generate multi-source demo data into the warehouse")
    p.add_argument("--persons", type=person_count, default=5000, help="hidden persons to simulate")
    p.add_argument("--seed", type=seed, default=42)
    p.add_argument(
        "--end-date",
        type=iso_date,
        default=None,
        help="last day of simulated activity, YYYY-MM-DD (default: today, UTC)",
    )
    p.add_argument("--days", type=day_count, default=730, help="days of history to simulate")
    p.add_argument("--parquet-dir", default=None, help="also write each table as Parquet here")
    p.add_argument(
        "--mode",
        choices=("default", "adversarial"),
        default="default",
        help="adversarial: a second world written from a catalogue of real-world mess "
        "(tessera/datagen/adversarial)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="recreate schema raw even in a warehouse Tessera did not generate",
    )
    p.set_defaults(func=_cmd_datagen, creates_warehouse=True)

    _register_layers(sub, layers)
    if add_commands is not None:
        add_commands(sub)
    return parser


def _cmd_datagen(args: argparse.Namespace, settings: Settings) -> int:
    from tessera.datagen import generate
    from tessera.warehouse import Warehouse

    _prepare_generated_warehouse(settings, args)
    if args.mode == "adversarial":
        from tessera.datagen.adversarial.cli import run_datagen

        code = run_datagen(args, settings, print_rows_per_table)
    else:
        summary = generate(
            Warehouse(settings),
            persons=args.persons,
            seed=args.seed,
            end_date=args.end_date,
            days=args.days,
            parquet_dir=args.parquet_dir,
        )
        print_rows_per_table(summary.rows_per_table, f"Generated {args.persons:,} persons")
        code = 0
    print_warehouse_written(settings)
    return code


def print_warehouse_written(settings: Settings, what: str = "Wrote the warehouse") -> None:
    """One line: the warehouse a command wrote, absolute (and, for a relative
    TESSERA_WAREHOUSE, that it was taken from the project root)."""
    from tessera.warehouse import warehouse_location

    console.print(
        f"{what}: {warehouse_location(settings)}", soft_wrap=True, markup=False, highlight=False
    )


def _prepare_generated_warehouse(settings: Settings, args: argparse.Namespace) -> None:
    """datagen recreates schemas raw and truth: refuse a warehouse whose raw tables Tessera did
    not write (a company's data) unless --force, and record what it generates."""
    from tessera.generated import NotGeneratedError, inspect, mark_generated

    if settings.target == "duckdb" and not settings.warehouse_path.exists():
        mark_generated(settings, "datagen", args.persons, args.seed, created_file=True)
        return
    state = inspect(settings)
    if state.raw_generated:
        return
    if state.has_raw and not args.force:
        raise NotGeneratedError(
            f"{_where(settings)} holds tables in schema raw that `tessera datagen` did not "
            "write, and datagen would replace them. Run `tessera datagen --force` to replace "
            "them anyway, or point TESSERA_WAREHOUSE (or SNOWFLAKE_DATABASE) elsewhere."
        )
    mark_generated(settings, "datagen", args.persons, args.seed, created_file=False)


def _where(settings: Settings) -> str:
    if settings.target == "snowflake" and settings.snowflake is not None:
        return f"Snowflake database {settings.snowflake.database}"
    return str(settings.warehouse_path)


def print_rows_per_table(rows: dict[str, int], title: str) -> None:
    from rich.table import Table

    table = Table(title=title)
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, n in rows.items():
        table.add_row(name, f"{n:,}")
    console.print(table)


def run(
    parser: argparse.ArgumentParser,
    argv: Sequence[str] | None = None,
    parse: Callable[[argparse.ArgumentParser, Sequence[str] | None], argparse.Namespace]
    | None = None,
) -> int:
    """Parse, then run the chosen command with the settings from the environment.

    Only commands that declare `creates_warehouse` may create a missing DuckDB file; every
    other one refuses it with the same message. An error meant for a person prints as one
    line, without a traceback, and exits 1 (2 for a setting); a bug (`is_internal_error`)
    prints one line naming the file its traceback went to and exits `EXIT_INTERNAL_ERROR`;
    Ctrl-C prints one line and exits 130.
    """
    given = list(sys.argv[1:] if argv is None else argv)
    if given and given[0].startswith("-") and given[0] not in ("-h", "--help"):
        # argparse would only say the command is missing, not that the option is unknown here
        parser.error(
            f"unrecognized arguments: {given[0]} (options go after the command: "
            f"{parser.prog} COMMAND {given[0]})"
        )
    args = parse(parser, argv) if parse else parser.parse_args(argv)
    _children_stop_on_sigterm()
    interrupted: list[int] = []
    settings: Settings | None = None
    try:
        with _recording_interrupts(interrupted):
            settings = Settings.from_env()
            check_dbt_project_file(settings.dbt_project_dir)
            if not getattr(args, "creates_warehouse", False):
                settings = dataclasses.replace(settings, create_missing_warehouse=False)
            func: Handler = args.func
            return func(args, settings)
    except SettingsError as exc:
        console.print(f"[red]configuration error:[/red] {exc}", soft_wrap=True)
        return 2
    except KeyboardInterrupt as exc:
        return _interrupted(args, str(exc))
    except Exception as exc:
        if interrupted:  # DuckDB turns Ctrl-C during a query into RuntimeError
            return _interrupted(args, "")
        if is_internal_error(exc):
            return _internal_error(args, settings, exc)
        # An error meant for a person: its message, without a traceback. soft_wrap: paths in
        # the message stay whole for copy and paste; escaped: brackets in it are not markup.
        console.print(f"[red]{type(exc).__name__}:[/red] {escape(str(exc))}", soft_wrap=True)
        return 1


def is_internal_error(exc: BaseException) -> bool:
    """Whether `exc` is a bug in Tessera rather than an error meant for a person: an instance
    of one of `INTERNAL_ERRORS`, unless a class of Tessera's own is among its classes (a
    project error that also inherits KeyError is still written for a person). A `user_facing`
    attribute, where an error class sets one, decides instead."""
    user_facing = getattr(exc, "user_facing", None)
    if user_facing is not None:
        return not user_facing
    if not isinstance(exc, INTERNAL_ERRORS):
        return False
    return not any(cls.__module__.split(".")[0] in _project_packages() for cls in type(exc).__mro__)


@functools.cache
def _project_packages() -> frozenset[str]:
    """The top-level packages installed with Tessera (the core and the layers above it), read
    from its distribution's metadata so that the core names none of the layers."""
    own = __name__.split(".")[0]
    try:
        top_level = importlib.metadata.distribution(own).read_text("top_level.txt") or ""
    except (importlib.metadata.PackageNotFoundError, OSError):  # not installed: the core only
        top_level = ""
    return frozenset({own, *top_level.split()})


def _internal_error(args: argparse.Namespace, settings: Settings | None, exc: Exception) -> int:
    """One line: a bug, what it is, and the file holding its traceback."""
    what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    log = _write_traceback(exc, args, settings)
    where = f"the traceback is in {log}" if log else "the traceback follows on stderr"
    console.print(
        f"[red]internal error:[/red] {escape(what)} (a bug in Tessera, please report it; "
        f"{escape(where)})",
        soft_wrap=True,
    )
    if log is None:  # no file could be written: the traceback would be lost otherwise
        traceback.print_exception(exc, file=sys.stderr)
    return EXIT_INTERNAL_ERROR


def _write_traceback(
    exc: Exception, args: argparse.Namespace, settings: Settings | None
) -> Path | None:
    """Write `exc`'s traceback to a new file in the artifacts' logs, else in the temp dir;
    its path, or None if neither could be written.

    The traceback text only: frames, their source lines and the messages. Never the frames'
    local variables, which can hold credentials (keep it so: no `capture_locals`, no rich
    tracebacks with `show_locals`). Nor the command line, which can too.
    """
    now = datetime.now(UTC)
    command = " ".join(["tessera", *([args.command] if getattr(args, "command", None) else [])])
    text = (
        f"{command}: internal error at {now.isoformat(timespec='seconds')} "
        f"(Python {sys.version.split()[0]})\n\n" + "".join(traceback.format_exception(exc))
    )
    prefix = f"tessera_error_{now:%Y%m%dT%H%M%SZ}_"
    directories = [settings.artifacts_dir / "logs"] if settings is not None else []
    for directory in [*directories, None]:  # None: the temp dir
        try:
            if directory is not None:
                directory.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix=prefix, suffix=".log", dir=directory)
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                file.write(text)
        except OSError:
            continue
        return Path(name)
    return None


def _children_stop_on_sigterm() -> None:
    """Undo an inherited SIGTERM ignore (a supervisor or a shell's background job can start
    this process so). Every child would inherit it, Dagster's compute-log `tail -F` processes
    included, which Dagster stops with SIGTERM: they would outlive the command and hold its
    output pipe open, so `tessera demo | tee demo.log` would never end."""
    try:
        if signal.getsignal(signal.SIGTERM) == signal.SIG_IGN:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
    except ValueError:  # not the main thread: leave signals alone
        pass


@contextmanager
def _recording_interrupts(interrupted: list[int]) -> Iterator[None]:
    """Ctrl-C still raises KeyboardInterrupt, and is remembered even when a library (DuckDB)
    turns it into an error of its own."""

    def handler(signum: int, frame: object) -> None:
        interrupted.append(signum)
        signal.default_int_handler(signum, frame)

    try:
        previous = signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _interrupted(args: argparse.Namespace, message: str) -> int:
    console.print(
        message or f"Interrupted: `tessera {args.command}` stopped. Run it again to continue.",
        soft_wrap=True,  # one line, however narrow the terminal
    )
    return 130


def main(argv: list[str] | None = None) -> int:
    return run(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
