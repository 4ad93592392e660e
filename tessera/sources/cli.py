"""`tessera sources check | init`: registered by tessera/cli.py through `register`."""

from __future__ import annotations

import argparse
import json

from rich.console import Console
from rich.table import Table

from tessera.cli_args import dbt_vars
from tessera.settings import Settings
from tessera.warehouse import Warehouse

console = Console()
LEVEL_STYLE = {"error": "red", "warning": "yellow", "note": "dim"}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sources", help="your data: check the tables each source reads, or write the mapping"
    )
    sub = parser.add_subparsers(dest="sources_command", required=True)
    check = sub.add_parser(
        "check",
        help="what each source holds against the contract; exits 1 on what would break a build",
    )
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.add_argument(
        "--vars",
        type=dbt_vars,
        default=None,
        help="YAML like dbt's --vars; its tessera_sources replaces the block in dbt_project.yml",
    )
    check.set_defaults(func=cmd_check)
    init = sub.add_parser(
        "init", help="write the tessera_sources block of dbt_project.yml from the warehouse"
    )
    init.add_argument("--dry-run", action="store_true", help="print the block, write nothing")
    init.set_defaults(func=cmd_init)


def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    from tessera.sources.check import run_check
    from tessera.sources.identifiers import IdentifierRules

    raw_vars = _vars_override(args.vars)
    _validate(raw_vars)  # a malformed setting named here, not in dbt's compile of the rules
    rules = IdentifierRules.compile(settings, args.vars)  # before the session: dbt opens it
    with Warehouse(settings).session(read_only=True, create=False) as session:
        report = run_check(session, rules, raw_vars=raw_vars)
    if args.json:
        print(json.dumps(_as_json(report), indent=2, default=str))
        return 1 if report.errors else 0
    table = Table(title="Sources (var tessera_sources in dbt_project/dbt_project.yml)")
    for name in ("source", "read from", "tables (rows)", "newest load"):
        table.add_column(name)
    for source in report.sources:
        resolution = source.resolution
        mode = {"contract": "[green]", "adapter": "[green]", "off": "[dim]", "absent": "[dim]"}
        tables = ", ".join(
            f"{t.table.logical} ({t.rows:,})" for t in source.tables if t.rows is not None
        )
        newest = max((t.newest for t in source.tables if t.newest is not None), default=None)
        table.add_row(
            resolution.source,
            f"{mode[resolution.mode]}{resolution.reason}[/]",
            tables or "-",
            f"{newest:%Y-%m-%d %H:%M}" if newest is not None else "-",
        )
    console.print(table)
    for source in report.sources:
        for table_report in source.tables:
            if table_report.identifier_stats:
                _print_identifiers(source.resolution.source, table_report)
    for finding in report.findings:
        where = finding.source + (f".{finding.table}" if finding.table else "")
        style = LEVEL_STYLE[finding.level]
        console.print(f"[{style}]{finding.level:7}[/] {where}: {finding.message}")
    errors = len(report.errors)
    if errors:
        console.print(f"[red]{errors} problem(s) would fail `tessera build`.[/red]")
        return 1
    console.print("[green]Nothing here would fail `tessera build`.[/green]")
    return 0


def _vars_override(text: str | None) -> dict | None:
    import yaml

    from tessera.sources.config import SourceConfigError

    if text is None:
        return None
    value = yaml.safe_load(text) or {}  # checked by its argument type, cli_args.dbt_vars
    sources = value.get("tessera_sources") or {}
    if not isinstance(sources, dict):
        raise SourceConfigError(f"--vars: tessera_sources must be a mapping, got {sources!r}")
    return sources


def _validate(raw_vars: dict | None) -> None:
    """Raise SourceConfigError on a malformed tessera_sources setting (it names it)."""
    from tessera.sources.adapters import adapters_of
    from tessera.sources.config import read_source_vars, source_settings
    from tessera.sources.contract import load_contract

    raw_vars = read_source_vars() if raw_vars is None else raw_vars
    for source in load_contract().sources:
        source_settings(source.name, raw_vars, [a.name for a in adapters_of(source.name)])


def _print_identifiers(source: str, table_report) -> None:
    table = Table(title=f"{source}.{table_report.table.logical}: identifiers", title_justify="left")
    for name in ("column", "null", "placeholder", "malformed"):
        table.add_column(name, justify="right" if name != "column" else "left")
    for column, stats in table_report.identifier_stats.items():
        table.add_row(
            column,
            f"{stats['null']:.1%}",
            f"{stats['placeholder']:.1%}" if "placeholder" in stats else "-",
            f"{stats['invalid']:.1%}" if "invalid" in stats else "-",
        )
    console.print(table)


def _as_json(report) -> dict:
    return {
        "checked_at": report.checked_at,
        "sources": [
            {
                "source": s.resolution.source,
                "mode": s.resolution.mode,
                "adapter": s.resolution.adapter.name if s.resolution.adapter else None,
                "reason": s.resolution.reason,
                "tables": [
                    {
                        "table": t.table.logical,
                        "location": t.table.location,
                        "rows": t.rows,
                        "newest": t.newest,
                        "identifiers": t.identifier_stats,
                    }
                    for t in s.tables
                ],
            }
            for s in report.sources
        ],
        "findings": [f.__dict__ for f in report.findings],
        "errors": len(report.errors),
    }


def cmd_init(args: argparse.Namespace, settings: Settings) -> int:
    from tessera.sources.config import read_source_vars, render_block, write_block
    from tessera.sources.init import decide

    with Warehouse(settings).session(read_only=True, create=False) as session:
        decisions = decide(session)
    order = list(read_source_vars())
    decisions.sort(key=lambda d: order.index(d.source) if d.source in order else len(order))
    table = Table(title="tessera sources init")
    for name in ("source", "setting", "because"):
        table.add_column(name)
    for decision in decisions:
        table.add_row(decision.source, json.dumps(decision.entry), decision.because)
    console.print(table)
    entries = {d.source: d.entry for d in decisions}
    if args.dry_run:
        console.print(render_block(entries))
        return 0
    path = write_block(entries)
    console.print(f"Wrote vars.tessera_sources in {path}; `tessera sources check` reads it back.")
    return 0
