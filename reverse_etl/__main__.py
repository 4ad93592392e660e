"""`python -m reverse_etl sync ...`: the sync commands without the other layers' imports."""

from __future__ import annotations

import argparse
import sys

from reverse_etl.cli import console, register
from tessera.settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reverse_etl")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        return args.func(args, Settings.from_env())
    except Exception as exc:
        if type(exc).__name__.endswith("Error"):
            console.print(f"[red]{type(exc).__name__}:[/red] {exc}")
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
