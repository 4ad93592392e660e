"""`tessera`: the console script, with every layer's commands in one parser.

The core (`tessera/cli.py`) owns `datagen` and the core layers' commands and imports nothing
above it; this module adds the ml and sync layers' commands and the two that wire layers
together, `build` (dbt, then training and scoring where a fresh warehouse needs them) and
`demo`. Handlers import their layer lazily, so `tessera --help` stays quick.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from tessera import cli as core
from tessera.cli_args import dbt_vars, person_count, seed
from tessera.settings import Settings

LAYER_COMMANDS: tuple[str, ...] = (*core.LAYER_COMMANDS, "ml.cli", "reverse_etl.cli")


def build_parser() -> argparse.ArgumentParser:
    return core.build_parser(LAYER_COMMANDS, add_commands=register)


def register(sub: argparse._SubParsersAction) -> None:
    """`build` and `demo`: the commands that wire several layers together."""
    p = sub.add_parser(
        "build",
        help="dbt build; on a fresh warehouse also train and score (dbt flags pass through)",
        description=(
            "dbt build the project. When ml.person_scores does not exist yet, the segments "
            "that read it are built after training (models without a champion) and scoring. "
            "Any dbt flag passes through: --select, --exclude, --vars, --threads ..."
        ),
        allow_abbrev=False,
    )
    p.add_argument("--select", "-s", nargs="+", action="extend", default=[], metavar="SELECTOR")
    p.add_argument("--exclude", nargs="+", action="extend", default=[], metavar="SELECTOR")
    p.add_argument("--vars", type=dbt_vars, default=None, help="dbt vars, as YAML or JSON")
    p.add_argument("--full-refresh", action="store_true")
    p.set_defaults(func=_cmd_build, accepts_dbt_args=True)

    p = sub.add_parser("demo", help="the main job end to end on embedded DuckDB")
    p.add_argument(
        "--persons", type=person_count, default=5000, help="simulated people (default 5000)"
    )
    p.add_argument("--seed", type=seed, default=42)
    p.add_argument(
        "--force",
        action="store_true",
        help="replace the warehouse file even if the demo did not create it",
    )
    p.set_defaults(func=_cmd_demo, creates_warehouse=True)


def parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """Like parse_args, except that `build` hands flags it does not know to dbt."""
    args, unknown = parser.parse_known_args(argv)
    if unknown and not getattr(args, "accepts_dbt_args", False):
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    args.dbt_args = [a for a in unknown if a != "--"]
    return args


def _cmd_build(args: argparse.Namespace, settings: Settings) -> int:
    from orchestration.build import BuildRequest, build
    from tessera.dbt import DbtError, DbtUsageError

    request = BuildRequest(
        select=tuple(args.select),
        exclude=tuple(args.exclude),
        full_refresh=args.full_refresh,
        vars=args.vars,
        dbt_args=tuple(getattr(args, "dbt_args", ())),
    )
    try:
        outcome = build(settings, request, core.console)
    except DbtUsageError as exc:  # a flag passed through to dbt that dbt build does not take
        print(f"tessera build: error: dbt build: {exc}", file=sys.stderr)
        return 2
    except DbtError as exc:
        if request.select and "does not exist" in str(exc):
            raise DbtError(
                f"{exc}\n  The selection reads models that are not built yet: select them too "
                "(dbt: `--select +MODEL`), or run `tessera build` once without a selection."
            ) from None
        raise
    if not outcome.ok:
        core.console.print(f"[red]not built:[/red] {outcome.not_built}")
        return 1
    return 0


def _cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from orchestration.demo import run_demo

    return run_demo(
        settings, persons=args.persons, seed=args.seed, console=core.console, force=args.force
    )


def main(argv: Sequence[str] | None = None) -> int:
    return core.run(build_parser(), argv, parse=parse)


if __name__ == "__main__":
    sys.exit(main())
