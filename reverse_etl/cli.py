"""`tessera sync ...`: list, plan (dry run), run, reconcile, forget, status, errors,
destinations.

`tessera/cli.py` imports this module and calls `register(subparsers)`; each handler takes
(args, settings) and returns an exit code.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

from rich.table import Table

from reverse_etl.cli_inspect import (
    cmd_destinations,
    cmd_errors,
    cmd_list,
    cmd_status,
    sync_paths,
)
from reverse_etl.cli_output import (
    KINDS,
    console,
    print_down,
    print_plan,
    print_result,
    progress_bar,
)
from tessera.cli_args import non_empty, row_count, seconds
from tessera.settings import Settings

if TYPE_CHECKING:  # the engine is imported by the handlers, not when `tessera` starts
    from reverse_etl.planner import Plan


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sync", help="reverse ETL: send what changed in segments to destinations"
    )
    parser.add_argument(
        "--syncs-dir",
        type=Path,
        default=None,
        help="folder with sync YAML files and destinations.yml (default: dbt_project/syncs)",
    )
    sub = parser.add_subparsers(dest="sync_command", required=True)

    p = sub.add_parser("list", help="the defined syncs")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("plan", help="what a run would send (counts and a sample); sends nothing")
    p.add_argument("name")
    p.add_argument("--dry-run", action="store_true", help="accepted for symmetry; plan never sends")
    p.add_argument("--full-resync", action="store_true")
    p.add_argument("--sample", type=row_count, default=5, help="rows of the plan to show")
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser("run", help="plan and send one sync")
    p.add_argument("name")
    p.add_argument(
        "--full-resync", action="store_true", help="resend every row (never removes anything)"
    )
    p.add_argument("--dry-run", action="store_true", help="plan only, send nothing")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument(
        "--stop-timeout",
        type=seconds,
        default=20.0,
        help="on SIGTERM / Ctrl-C, seconds to wait for batches in flight (a second signal "
        "stops at once)",
    )
    p.set_defaults(func=cmd_run)

    p = sub.add_parser(
        "reconcile",
        help="read back what the destination holds, compare with sync state, repair the drift",
    )
    p.add_argument("name")
    p.add_argument("--dry-run", action="store_true", help="report the drift, change nothing")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_reconcile)

    p = sub.add_parser(
        "forget",
        help="record a deletion request: every sync erases the person on its next run",
    )
    p.add_argument("person_id", type=non_empty)
    p.add_argument("--request-id", default=None, help="your reference for the request")
    p.set_defaults(func=cmd_forget)

    p = sub.add_parser("status", help="last run and state of every sync")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("errors", help="rows a destination rejected, newest first")
    p.add_argument("name")
    p.add_argument("--limit", type=row_count, default=20, help="rows to show (newest first)")
    p.set_defaults(func=cmd_errors)

    p = sub.add_parser("destinations", help="configured destinations and their limits")
    p.set_defaults(func=cmd_destinations)


def cmd_plan(args: argparse.Namespace, settings: Settings) -> int:
    from reverse_etl.runner import plan_sync

    catalog = sync_paths(args, settings).catalog()
    plan, rows = plan_sync(
        settings,
        catalog,
        args.name,
        args.full_resync,
        args.sample,
        lock_dir=sync_paths(args, settings).lock_dir,
    )
    print_plan(plan)
    if rows.num_rows:
        table = Table(title=f"sample of the plan (first {rows.num_rows} rows)")
        for column in rows.column_names:
            table.add_column(column)
        for record in rows.to_pylist():
            table.add_row(*("" if v is None else str(v) for v in record.values()))
        console.print(table)
    console.print("dry run: nothing was sent")
    return 0


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    import signal

    from reverse_etl.destinations.base import AllRowsRejectedError, DestinationDownError
    from reverse_etl.runner import run_sync
    from reverse_etl.stopping import StopRequest, stop_on_signals

    if args.dry_run:
        return cmd_plan(argparse.Namespace(**{**vars(args), "sample": 5}), settings)
    paths = sync_paths(args, settings)
    catalog = paths.catalog()
    progress = progress_bar(args)
    tasks: dict[str, int] = {}

    def on_plan(plan: Plan) -> None:
        print_plan(plan)
        for kind in KINDS:
            if plan.counts.get(kind):
                tasks[kind] = progress.add_task(kind, total=plan.counts[kind], failed=0)

    def on_progress(kind: str, ok: int, failed: int) -> None:
        task = tasks[kind]
        progress.update(task, advance=ok + failed)
        progress.tasks[task].fields["failed"] += failed

    stop = StopRequest(deadline_seconds=args.stop_timeout)

    def first_signal(name: str) -> None:
        console.print(
            f"[yellow]{name}: taking no new batches; waiting up to {args.stop_timeout:g}s for "
            "the ones in flight, then committing (signal again to stop at once)[/yellow]"
        )

    def second_signal(signum: int) -> None:
        # every acknowledgement is already journaled: the next run commits it, loses nothing
        console.print(
            f"[red]{signal.Signals(signum).name} again: stopped at once; the next run "
            "commits what was acknowledged and resends only batches that were in flight[/red]"
        )
        os._exit(128 + signum)

    try:
        with stop_on_signals(stop, first_signal, second_signal), progress:
            result = run_sync(
                settings,
                catalog,
                args.name,
                lock_dir=paths.lock_dir,
                full_resync=args.full_resync,
                on_plan=on_plan,
                on_progress=on_progress,
                stop=stop,
            )
    except (DestinationDownError, AllRowsRejectedError) as exc:
        return print_down(exc)
    print_result(result, settings)
    if result.status == "cancelled":
        signum = {"SIGINT": signal.SIGINT, "SIGTERM": signal.SIGTERM}.get(stop.reason or "")
        return 128 + int(signum or signal.SIGTERM)
    return 0 if result.status == "success" else 3


def cmd_reconcile(args: argparse.Namespace, settings: Settings) -> int:
    from reverse_etl.destinations.base import AllRowsRejectedError, DestinationDownError
    from reverse_etl.reconcile import reconcile_sync

    paths = sync_paths(args, settings)
    progress = progress_bar(args)
    task: list[int] = []

    def on_plan(rows: int) -> None:
        task.append(progress.add_task("read back", total=rows, failed=0))

    def on_progress(rows: int) -> None:
        progress.update(task[0], advance=rows)

    try:
        with progress:
            report = reconcile_sync(
                settings,
                paths.catalog(),
                args.name,
                paths=paths,
                dry_run=args.dry_run,
                on_plan=on_plan,
                on_progress=on_progress,
            )
    except (DestinationDownError, AllRowsRejectedError) as exc:  # the repair delivered nothing
        return print_down(exc)
    if not report.readable:
        console.print(
            f"[yellow]sync {report.sync_name}: {report.destination} cannot be read back "
            f"({report.reason}); nothing to reconcile[/yellow]"
        )
        return 0
    table = Table(title=f"Reconcile {report.sync_name} against {report.destination}")
    table.add_column("what")
    table.add_column("rows", justify="right")
    table.add_column("examples (keys)")
    rows = (
        ("read back", report.checked, None),
        ("in sync", report.in_sync, None),
        ("deleted out of band: resend", report.missing, "resend_missing"),
        ("edited out of band: resend", report.changed, "resend_changed"),
        ("applied, never acknowledged: recorded", report.acknowledged, "acknowledge"),
        ("never acknowledged, absent: next run sends", report.unacknowledged_absent, None),
    )
    for label, count, action in rows:
        examples = ", ".join(report.examples.get(action or "", []))
        table.add_row(label, f"{count:,}", examples)
    console.print(table)
    if report.dry_run:
        console.print("dry run: state unchanged, nothing sent")
    elif report.repair is not None:
        print_result(report.repair, settings)
    else:
        console.print("nothing to repair")
    return 0 if report.repair is None or report.repair.status == "success" else 3


def cmd_forget(args: argparse.Namespace, settings: Settings) -> int:
    from reverse_etl.privacy import TABLE, known_person, request_deletion
    from tessera.warehouse import Warehouse

    with Warehouse(settings).session() as session:
        request_id = request_deletion(session, args.person_id, args.request_id)
        known = known_person(session, args.person_id)
    if known is False:
        console.print(
            f"[yellow]{args.person_id!r} is not a person in identity.persons nor a merged-away "
            "id in identity.person_merges: recorded anyway (it may be an older id), but check "
            "it; person ids look like p_9d1671be5fb306e76bf9[/yellow]"
        )
    console.print(
        f"deletion request {request_id} recorded in {TABLE}: every sync erases this person "
        "from its destination on its next run (see tessera_sync.privacy_audit)"
    )
    return 0
