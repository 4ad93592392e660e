"""`tessera segments list | validate | preview | new | refresh | chart`."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.table import Table

from tessera.cli_args import row_count
from tessera.segments.catalog import SegmentCatalog, load_catalog
from tessera.segments.checks import SegmentReport, check_catalog, check_project
from tessera.segments.validate import check_unique
from tessera.settings import Settings
from tessera.warehouse import Session, Warehouse

console = Console(soft_wrap=True)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("segments", help="author, validate, preview and track segments")
    parser.add_argument(
        "--project-dir",
        type=Path,
        default=None,
        help="dbt project holding models/segments (default: the Tessera dbt project)",
    )
    sub = parser.add_subparsers(dest="segments_command", required=True)

    p = sub.add_parser("list", help="segments with owner, refresh cadence, tags and syncs")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("validate", help="check segment SQL before it runs (all, or one)")
    p.add_argument("name", nargs="?", default=None)
    p.add_argument(
        "--offline", action="store_true", help="skip the column checks against the warehouse"
    )
    p.add_argument("--show-snowflake", action="store_true", help="print the Snowflake SQL")
    p.add_argument("--no-dbt", action="store_true", help="skip checking what dbt compiles (faster)")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("preview", help="size, sample rows and overlap with other segments")
    p.add_argument("name")
    p.add_argument("--rows", type=row_count, default=10, help="sample rows to show")
    p.set_defaults(func=cmd_preview)

    p = sub.add_parser("new", help="scaffold models/segments/NAME.sql and NAME.yml")
    p.add_argument("name")
    p.add_argument("--owner", default="data-team")
    p.add_argument("--description", default=None)
    p.add_argument("--refresh", default="daily", help="15m, 2h, hourly, daily or weekly")
    p.set_defaults(func=cmd_new)

    p = sub.add_parser("refresh", help="record membership changes and sizes of built segments")
    p.add_argument("names", nargs="*", help="segments to record (default: all built ones)")
    p.set_defaults(func=cmd_refresh)

    p = sub.add_parser("chart", help="chart of segment size over time (PNG, SVG or PDF)")
    p.add_argument(
        "--output",
        type=_chart_output,
        default=None,
        help="file to write; its suffix picks the format: .png, .svg or .pdf "
        "(default: segments/segment_sizes.png under the artifacts directory)",
    )
    p.add_argument("--segment", action="append", default=None, help="only these segments")
    p.set_defaults(func=cmd_chart)


def _chart_output(text: str) -> Path:
    """--output of `chart` (argparse type): a file name whose suffix names a chart format,
    checked before the command opens the warehouse or writes anything."""
    from tessera.segments.chart import chart_format

    path = Path(text)
    try:
        chart_format(path)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return path


class SegmentCommandError(ValueError):
    """A segments command cannot do what was asked; the message says why and what to run."""


def _project_dir(args: argparse.Namespace, settings: Settings) -> Path:
    return args.project_dir or settings.dbt_project_dir


def _catalog(args: argparse.Namespace, settings: Settings) -> SegmentCatalog:
    return load_catalog(_project_dir(args, settings) / "models" / "segments")


def _warehouse_available(settings: Settings) -> bool:
    return settings.target != "duckdb" or settings.warehouse_path.exists()


@contextmanager
def _session(settings: Settings, read_only: bool) -> Iterator[Session]:
    with Warehouse(settings).session(read_only=read_only, create=not read_only) as session:
        yield session


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    catalog = _catalog(args, settings)
    sizes: dict[str, int] = {}
    if _warehouse_available(settings):
        with _session(settings, read_only=True) as session:
            for name in catalog.names():
                if session.table_exists("segments", name):
                    sizes[name] = int(session.scalar(f"select count(*) from segments.{name}"))
    table = Table(title=f"{len(catalog.segments)} segments")
    table.add_column("segment", no_wrap=True)
    table.add_column("size", justify="right", no_wrap=True, min_width=9)
    table.add_column("refresh", no_wrap=True, min_width=7)
    for column in ("owner", "tags", "syncs"):
        table.add_column(column, min_width=10)
    table.add_column("description", min_width=16)
    for name in catalog.names():
        segment = catalog.segments[name]
        table.add_row(
            name,
            f"{sizes[name]:,}" if name in sizes else "not built",
            segment.refresh,
            segment.owner,
            ", ".join(segment.tags),
            ", ".join(segment.syncs),
            segment.description,
        )
    console.print(table)
    if not _warehouse_available(settings):
        console.print(
            f"No warehouse at {settings.warehouse_path} (TESSERA_WAREHOUSE): these are the "
            "definitions only; sizes appear once `tessera demo` or `tessera build` has built "
            "the segments there.",
            soft_wrap=True,
        )
    return 0


def cmd_validate(args: argparse.Namespace, settings: Settings) -> int:
    names = [args.name] if args.name else None
    project_dir = _project_dir(args, settings)
    compile_with_dbt = not args.no_dbt
    if args.offline or not _warehouse_available(settings):
        if not args.offline:
            console.print(
                f"[yellow]no warehouse at {settings.warehouse_path}: columns not checked[/yellow]"
            )
        result = check_project(project_dir, names, compile_with_dbt=compile_with_dbt)
    else:
        with _session(settings, read_only=True) as session:
            result = check_project(
                project_dir, names, columns_from=session, compile_with_dbt=compile_with_dbt
            )
    for issue in result.folder_issues:
        console.print(f"[red]error[/red] {issue}", highlight=False, markup=True)
    for report in result.reports:
        _print_report(report, args.show_snowflake)
    failed = [r.name for r in result.reports if not r.ok]
    if result.folder_issues and not result.reports:
        console.print(
            f"[red]{len(result.folder_issues)} problem(s) in the segments folder; no segment "
            "was checked until they are fixed[/red]"
        )
        return 1
    if failed or result.folder_issues:
        console.print(
            f"[red]{len(failed)} of {len(result.reports)} segments invalid"
            + (
                f", {len(result.folder_issues)} problem(s) in the folder"
                if result.folder_issues
                else ""
            )
            + (":[/red] " + ", ".join(failed) if failed else "[/red]")
        )
        return 1
    console.print(f"[green]{len(result.reports)} segment(s) valid[/green]")
    return 0


def _print_report(report: SegmentReport, show_snowflake: bool) -> None:
    status = "[green]ok[/green]" if report.ok else "[red]invalid[/red]"
    console.print(f"{status} {report.name}")
    for issue in report.issues:
        colour = "red" if issue.severity == "error" else "yellow"
        prefix = f"{issue.where}: " if issue.line else ""
        console.print(
            f"    [{colour}]{issue.severity}[/{colour}] {prefix}{issue.message}",
            highlight=False,
            markup=True,
        )
    if show_snowflake and report.snowflake_sql:
        console.print(report.snowflake_sql, highlight=False, markup=False)


def cmd_preview(args: argparse.Namespace, settings: Settings) -> int:
    catalog = _catalog(args, settings)
    with _session(settings, read_only=True) as session:
        [report] = check_catalog(
            catalog, _project_dir(args, settings), [args.name], columns_from=session
        )
        if not report.ok or report.validated is None:
            _print_report(report, show_snowflake=False)
            return 1
        segment = report.validated
        _require_built(session, segment.relations, args.name)
        sql = segment.sql_for(session.dialect)
        uniqueness = check_unique(session, segment, raise_on_failure=False)
        sample = session.df(f"select * from ({sql}) as segment_rows limit {int(args.rows)}")
        overlaps = _overlaps(session, sql, [n for n in catalog.names() if n != args.name])

    console.print(
        f"[bold]{args.name}[/bold]: {uniqueness.rows:,} rows, "
        f"{uniqueness.distinct_person_ids:,} persons"
    )
    if not uniqueness.ok:
        console.print(
            f"[red]not one row per person:[/red] {uniqueness.rows:,} rows, "
            f"{uniqueness.distinct_person_ids:,} distinct person_ids, "
            f"{uniqueness.null_person_ids:,} null"
        )
    sample_table = Table(title=f"sample ({len(sample)} rows)")
    for column in sample.columns:
        sample_table.add_column(str(column), no_wrap=True, overflow="ellipsis", max_width=28)
    for row in sample.itertuples(index=False):
        sample_table.add_row(*("" if v is None else str(v) for v in row))
    console.print(sample_table)
    if overlaps:
        overlap_table = Table(title="overlap with other built segments")
        for column in ("segment", "shared persons", f"% of {args.name}", "% of other"):
            overlap_table.add_column(column, justify="left" if column == "segment" else "right")
        for other, shared, other_size in overlaps:
            overlap_table.add_row(
                other,
                f"{shared:,}",
                _percent(shared, uniqueness.distinct_person_ids),
                _percent(shared, other_size),
            )
        console.print(overlap_table)
    return 0 if uniqueness.ok else 1


def _require_built(session: Session, relations: tuple[str, ...], name: str) -> None:
    """Preview runs the segment's SQL on the warehouse: what it reads must exist there."""
    missing = [
        relation
        for relation in relations
        if "." in relation and not session.table_exists(*relation.split(".", 1))
    ]
    if not missing:
        return
    segments = [r.split(".", 1)[1] for r in missing if r.startswith("segments.")]
    hint = (
        f"build {'them' if len(segments) > 1 else 'it'} first "
        f"(`tessera build --select {' '.join(segments)}`)"
        if segments
        else "build the project first (`tessera build`)"
    )
    raise SegmentCommandError(
        f"segment {name!r} reads {', '.join(missing)}, which "
        f"{'are' if len(missing) > 1 else 'is'} not in the warehouse yet: {hint}"
    )


def _overlaps(session: Session, sql: str, others: list[str]) -> list[tuple[str, int, int]]:
    built = [n for n in others if session.table_exists("segments", n)]
    results = []
    for other in built:  # names come from the catalog, which only admits plain identifiers
        row = session.df(
            f"with this_segment as (select distinct person_id from ({sql}) as s), "
            f"other_segment as (select distinct person_id from segments.{other}) "
            "select (select count(*) from this_segment t join other_segment o "
            "on o.person_id = t.person_id) as shared, "
            "(select count(*) from other_segment) as other_size"
        )
        results.append((other, int(row.iloc[0, 0]), int(row.iloc[0, 1])))
    return sorted(results, key=lambda r: -r[1])


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def cmd_new(args: argparse.Namespace, settings: Settings) -> int:
    from tessera.segments.scaffold import scaffold_segment

    directory = _project_dir(args, settings) / "models" / "segments"
    created = scaffold_segment(
        directory, args.name, owner=args.owner, description=args.description, refresh=args.refresh
    )
    console.print(f"created {created.sql_path} and {created.yml_path}")
    console.print(f"next: edit the SQL, then `tessera segments validate {args.name}`")
    return 0


def cmd_refresh(args: argparse.Namespace, settings: Settings) -> int:
    from tessera.segments.membership import refresh_membership

    catalog = _catalog(args, settings)
    names = args.names or catalog.names()
    for name in names:
        catalog.get(name)
    with _session(settings, read_only=False) as session:
        if not args.names:
            names = [n for n in names if session.table_exists("segments", n)]
        changes = refresh_membership(session, names)
    table = Table(title="segment membership recorded")
    for column in ("segment", "size", "entered", "exited"):
        table.add_column(column, justify="left" if column == "segment" else "right")
    for change in changes:
        table.add_row(
            change.segment, f"{change.size:,}", f"{change.entered:,}", f"{change.exited:,}"
        )
    console.print(table)
    return 0


def cmd_chart(args: argparse.Namespace, settings: Settings) -> int:
    from tessera.segments.chart import plot_segment_sizes
    from tessera.segments.membership import size_history

    with _session(settings, read_only=True) as session:
        history = size_history(session)
    if args.segment:
        recorded = sorted(set(history["segment"]))
        missing = [name for name in args.segment if name not in recorded]
        if missing:
            raise SegmentCommandError(
                f"no size history for {', '.join(repr(n) for n in missing)} (recorded: "
                f"{', '.join(recorded) or 'none'}); build the segment and run "
                "`tessera segments refresh`"
            )
        history = history[history["segment"].isin(args.segment)].reset_index(drop=True)
    output = args.output or settings.artifacts_dir / "segments" / "segment_sizes.png"
    plot_segment_sizes(history, output)
    console.print(f"wrote {output}")
    return 0
