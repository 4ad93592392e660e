"""`tessera experiments list | report NAME | validate`."""

from __future__ import annotations

import argparse
import math

from rich.console import Console
from rich.table import Table

from tessera.experiments.config import ExperimentConfigError, load_experiments
from tessera.experiments.report import ExperimentReport, build_report, list_experiments
from tessera.settings import Settings
from tessera.warehouse import Warehouse

console = Console(soft_wrap=True)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "experiments", help="holdout experiments: declared arms, assignments, measured lift"
    )
    sub = parser.add_subparsers(dest="experiments_command", required=True)
    p = sub.add_parser("list", help="experiments with their segment, arms and persons")
    p.set_defaults(func=cmd_list)
    p = sub.add_parser("report", help="lift of an experiment with its 95%% interval")
    p.add_argument("name")
    p.set_defaults(func=cmd_report)
    p = sub.add_parser("validate", help="check the experiments declared in the segments' YAML")
    p.set_defaults(func=cmd_validate)


def cmd_validate(args: argparse.Namespace, settings: Settings) -> int:
    try:
        experiments = load_experiments(settings.dbt_project_dir / "models")
    except ExperimentConfigError as exc:
        console.print(f"[red]{exc}[/red]")
        return 1
    for exp in experiments:
        arms = ", ".join(f"{a.name} {a.share:g}%" for a in exp.arms)
        console.print(f"ok  {exp.name}  ({exp.source_file.name}: {arms})")
    if not experiments:
        console.print("No experiments declared (config.meta.experiments in a segment's YAML).")
    return 0


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    with Warehouse(settings).session(read_only=True) as session:
        frame = list_experiments(session)
    if frame.empty:
        console.print(
            "No experiments built. Declare one under config.meta.experiments in a segment's "
            "YAML (README, Experiments), then `tessera build`."
        )
        return 0
    table = Table(title="Experiments")
    # names are never cut or wrapped: a user copies them into `tessera experiments report`
    for i, column in enumerate(("experiment", "segment")):
        widest = max(len(column), *(len(str(v)) for v in frame.iloc[:, i]))
        table.add_column(column, no_wrap=True, min_width=widest)
    for column in ("start", "window", "arms", "persons"):
        table.add_column(column, justify="right" if column == "persons" else "left")
    for row in frame.itertuples(index=False):
        table.add_row(
            str(row[0]), str(row[1]), str(row[2]), f"{row[3]} d", str(row[4]), f"{int(row[5]):,}"
        )
    console.print(table)
    return 0


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    with Warehouse(settings).session(read_only=True) as session:
        report = build_report(session, args.name)
    print_report(report, console)
    return 0


def _fmt(value: object, kind: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    v = float(value)  # type: ignore[arg-type]
    return {"pct": f"{v:+.1%}", "rate": f"{v:.1%}", "money": f"{v:,.2f}"}.get(kind, f"{v:g}")


def print_report(report: ExperimentReport, out: Console) -> None:
    out.print(
        f"[bold]{report.name}[/bold] on segment {report.segment}: start {report.start_date}, "
        f"outcome window {report.window_days} days, {report.assigned:,} persons assigned"
    )
    arms = Table(title="Arms")
    for column in ("arm", "share", "persons", "sent"):
        arms.add_column(column)
    for row in report.arms.itertuples(index=False):
        arms.add_row(
            row.arm,
            f"{row.share_percent:g}%",
            f"{int(row.persons):,}",
            "never (holdout)" if row.is_holdout else "yes",
        )
    out.print(arms)
    if not report.results.empty:
        table = Table(title="Lift against the holdout (95% interval, normal approximation)")
        columns = ("metric", "arm", "treatment", "holdout", "difference", "lift", "95% interval")
        for column in (*columns, "MDE"):
            table.add_column(column)
        for row in report.results.itertuples(index=False):
            kind = "rate" if row.metric == "conversion_rate" else "money"
            table.add_row(
                row.metric,
                row.arm_treatment,
                _fmt(row.treatment_value, kind),
                _fmt(row.holdout_value, kind),
                _fmt(row.difference, "pct" if kind == "rate" else "money"),
                _fmt(row.lift, "pct"),
                f"{_fmt(row.ci_low, 'pct')} .. {_fmt(row.ci_high, 'pct')}",
                _fmt(row.mde, "pct"),
            )
        out.print(table)
    for note in report.notes:
        out.print(f"- {note}")
