"""`tessera datagen --mode adversarial`: the CLI side of the adversarial mode."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from tessera.settings import Settings


def run_datagen(
    args: argparse.Namespace,
    settings: Settings,
    print_rows: Callable[[dict[str, int], str], None],
) -> int:
    from tessera.datagen.adversarial import generate
    from tessera.warehouse import Warehouse

    if args.parquet_dir is not None:
        raise SystemExit("--parquet-dir is not supported with --mode adversarial")
    summary = generate(
        Warehouse(settings),
        persons=args.persons,
        seed=args.seed,
        end_date=args.end_date,
        days=args.days,
    )
    print_rows(
        summary.rows_per_table, f"Generated an adversarial world of {args.persons:,} persons"
    )
    return 0
