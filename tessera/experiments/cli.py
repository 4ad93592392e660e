"""`tessera experiments list | report NAME | validate`."""

from __future__ import annotations

import argparse
import math

from rich.console import Console

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
    # one line each, whole at any terminal width: names are copied into `report NAME`
    for row in frame.itertuples(index=False):
        console.print(
            f"[bold]{row.experiment}[/bold]  segment {row.segment}, from {row.start_date}, "
            f"{row.window_days}-day window, arms {row.arms}: {int(row.persons):,} persons",
            soft_wrap=True,
        )
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
    return {"pct": f"{v:+.1%}", "rate": f"{v:.1%}", "money": f"{v:,.2f}"}.get(kind, f"{v:+.1f}")


def print_report(report: ExperimentReport, out: Console) -> None:
    out.print(
        f"[bold]{report.name}[/bold] on segment {report.segment}: start {report.start_date}, "
        f"outcome window {report.window_days} days, {report.assigned:,} persons assigned",
        soft_wrap=True,
    )
    for row in report.arms.itertuples(index=False):
        sent = "never sent (holdout)" if row.is_holdout else "sent"
        out.print(f"  arm {row.arm}: {row.share_percent:g}%, {int(row.persons):,} persons, {sent}")
    if not report.results.empty:
        out.print("Lift against the holdout (95% interval, normal approximation):")
    for row in report.results.itertuples(index=False):
        kind = "rate" if row.metric == "conversion_rate" else "money"
        difference = (
            f"{_fmt(row.difference * 100, 'g')} pts"
            if kind == "rate" and not math.isnan(row.difference)
            else _fmt(row.difference, kind)
        )
        out.print(
            f"  {row.metric}, {row.arm_treatment} vs {row.arm_holdout}: "
            f"{_fmt(row.treatment_value, kind)} vs {_fmt(row.holdout_value, kind)}, "
            f"difference {difference}, lift {_fmt(row.lift, 'pct')} "
            f"(interval {_fmt(row.ci_low, 'pct')} .. {_fmt(row.ci_high, 'pct')}), "
            f"minimum detectable lift {_fmt(row.mde, 'pct')}; "
            f"{int(row.persons_treatment):,} vs {int(row.persons_holdout):,} persons",
            soft_wrap=True,
        )
    for note in report.notes:
        out.print(f"- {note}", soft_wrap=True)
