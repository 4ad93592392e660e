"""`tessera identity evaluate | stats`: accuracy against ground truth and graph health."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from tessera.cli_args import fraction, whole_number
from tessera.settings import Settings

if TYPE_CHECKING:
    from tessera.identity.evaluate import IdentityEvaluation
    from tessera.identity.stats import StatRow

console = Console()


def register(subparsers: argparse._SubParsersAction) -> None:
    identity = subparsers.add_parser("identity", help="identity resolution: accuracy and stats")
    sub = identity.add_subparsers(dest="identity_command", required=True)

    p = sub.add_parser(
        "evaluate", help="pairwise precision / recall of persons against truth.identifier_person"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--min-precision", type=fraction, default=0.999)
    p.add_argument("--min-recall", type=fraction, default=0.98)
    p.add_argument(
        "--max-cluster",
        type=whole_number(1, 1_000_000_000, "identifiers"),
        default=1000,
        help="largest acceptable cluster",
    )
    p.add_argument(
        "--check", action="store_true", help="exit 1 when a threshold is missed (for CI)"
    )
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("stats", help="identity_stats: sizes, drops, clusters, iterations")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.set_defaults(func=_cmd_stats)


def _cmd_evaluate(args: argparse.Namespace, settings: Settings) -> int:
    from tessera.identity.evaluate import Thresholds, evaluate
    from tessera.warehouse import Warehouse

    result = evaluate(Warehouse(settings))
    thresholds = Thresholds(args.min_precision, args.min_recall, args.max_cluster)
    failures = result.failures(thresholds)
    if args.json:
        print(json.dumps(result.as_dict() | {"failures": failures}))
    else:
        print_evaluation(result, console)
        for failure in failures:
            console.print(f"[red]below threshold:[/red] {failure}")
    return 1 if failures and args.check else 0


def _cmd_stats(args: argparse.Namespace, settings: Settings) -> int:
    from tessera.identity.stats import read_stats
    from tessera.warehouse import Warehouse

    rows = read_stats(Warehouse(settings))
    if args.json:
        print(json.dumps([r.__dict__ for r in rows]))
        return 0
    print_stats(rows, console)
    return 0


def print_stats(rows: list[StatRow], console: Console) -> None:
    """Render identity_stats rows as a table (also for `tessera demo`)."""
    table = Table(title="Identity stats")
    table.add_column("metric")
    table.add_column("dimension")
    table.add_column("value", justify="right")
    for r in rows:
        value = "" if r.value is None else _format_number(r.value)
        table.add_row(r.metric, r.dimension or "", value)
    console.print(table)


def print_evaluation(result: IdentityEvaluation, console: Console) -> None:
    """Render an IdentityEvaluation as a table (also used by `tessera demo`)."""
    table = Table(title="Identity resolution vs ground truth")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for name, value in result.as_dict().items():
        if isinstance(value, bool):
            continue
        if isinstance(value, dict):
            for reason, pairs in sorted(value.items(), key=lambda item: -item[1]):
                table.add_row(f"{name.replace('_', ' ')}: {reason}", _format_number(pairs))
        else:
            table.add_row(name.replace("_", " "), _format_number(value))
    console.print(table)
    console.print(
        "recall = correct / all true pairs; recall of linkable = correct / pairs in one "
        "evidence group (identifiers raw records carry together); only the latter has a "
        "threshold: no resolver can link what no record joins. Hubs are identifiers kept as "
        "nodes, never bridges; cut edges are audited in identity.identity_audit (cuts vs "
        "truth: different_persons is a good cut, same_person a lost link)."
    )
    if not result.evidence_available:
        console.print(
            "[yellow]no truth.identifier_evidence[/yellow] (which identifiers raw records carry "
            "together; `tessera datagen` writes it): every true pair of truth.identifier_person "
            "counts as linkable, so recall of linkable is raw recall here."
        )


def _format_number(value: float | int) -> str:
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.4f}"
    return f"{int(value):,}"
