"""The read-only `tessera sync` commands: list, status, errors and destinations.

Each prints a table of what is configured or recorded (the syncs in the catalog, every
sync's last run and state counts, the rows a destination rejected, the destination types
and configured destinations with their credentials set or not) and changes nothing. It also
holds `sync_paths`, which every sync command uses to find the catalog; `reverse_etl.cli`
registers these handlers with the others.
"""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING

from rich.table import Table

from reverse_etl.cli_output import console
from tessera.settings import Settings

if TYPE_CHECKING:  # the engine is imported by the handlers, not when `tessera` starts
    from reverse_etl.runner import SyncPaths


def sync_paths(args: argparse.Namespace, settings: Settings) -> SyncPaths:
    from reverse_etl.runner import SyncPaths

    return SyncPaths.default(settings, args.syncs_dir)


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    catalog = sync_paths(args, settings).catalog()
    table = Table(title="Syncs")
    for column in ("name", "segment", "destination", "object", "mode", "consent", "schedule"):
        table.add_column(column)
    for sync in catalog.syncs.values():
        table.add_row(
            sync.name,
            sync.segment,
            sync.destination,
            sync.object,
            sync.mode,
            sync.consent or "-",
            sync.schedule or "-",
        )
    console.print(table)
    return 0


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    from reverse_etl.dialect import placeholder
    from reverse_etl.state import SCHEMA, state_table
    from tessera.warehouse import Warehouse

    catalog = sync_paths(args, settings).catalog()
    table = Table(title="Sync status")
    for column in ("sync", "last run", "status", "sent", "rejected", "rows/s", "synced", "failed"):
        table.add_column(column)
    with Warehouse(settings).session(read_only=True) as session:
        has_runs = session.table_exists(SCHEMA, "runs")
        for sync in catalog.syncs.values():
            last = None
            if has_runs:
                frame = session.df(
                    f"select finished_at, started_at, status, sent_ok, rejected, rows_per_second "
                    f"from {SCHEMA}.runs where sync_name = {placeholder(session.dialect)} "
                    "order by started_at desc limit 1",
                    [sync.name],
                )
                last = frame.iloc[0] if len(frame) else None
            synced = failed = "-"
            if session.table_exists(SCHEMA, f"state_{sync.name}"):
                counts = dict(
                    session.df(
                        f"select status, count(*) as n from {state_table(sync.name)} "
                        "group by status"
                    ).itertuples(index=False)
                )
                synced, failed = f"{counts.get('synced', 0):,}", f"{counts.get('failed', 0):,}"
            if last is None:
                table.add_row(sync.name, "never", "-", "-", "-", "-", synced, failed)
            else:
                table.add_row(
                    sync.name,
                    str(last.finished_at or last.started_at),
                    str(last.status),
                    f"{int(last.sent_ok or 0):,}",
                    f"{int(last.rejected or 0):,}",
                    f"{float(last.rows_per_second or 0):,.0f}",
                    synced,
                    failed,
                )
    console.print(table)
    return 0


def cmd_errors(args: argparse.Namespace, settings: Settings) -> int:
    from reverse_etl.dialect import placeholder
    from reverse_etl.state import SCHEMA
    from tessera.warehouse import Warehouse

    catalog = sync_paths(args, settings).catalog()
    sync = catalog.sync(args.name)
    with Warehouse(settings).session(read_only=True) as session:
        if not session.table_exists(SCHEMA, "errors"):
            console.print(f"sync {sync.name!r} has never run")
            return 0
        ph = placeholder(session.dialect)
        frame = session.df(
            f"select failed_at, key, kind, attempt, error from {SCHEMA}.errors "
            f"where sync_name = {ph} order by failed_at desc limit {int(args.limit)}",
            [sync.name],
        )
    if frame.empty:
        console.print(f"sync {sync.name!r}: no rejected rows")
        return 0
    table = Table(title=f"Rejected rows of {sync.name} (newest first)")
    for column in frame.columns:
        table.add_column(column)
    for record in frame.itertuples(index=False):
        table.add_row(*(str(v) for v in record))
    console.print(table)
    return 0


def cmd_destinations(args: argparse.Namespace, settings: Settings) -> int:
    from reverse_etl.destinations import DESTINATION_TYPES, destination_class

    types = Table(title="Destination types")
    for column in ("type", "modes", "batch (default / max)", "vendor limit", "credentials"):
        types.add_column(column)
    for name, cls in sorted(DESTINATION_TYPES.items()):
        default = getattr(cls, "default_batch_size", cls.max_batch_size)
        types.add_row(
            name,
            ", ".join(cls.modes),
            f"{default:,} / {cls.max_batch_size:,}",
            getattr(cls, "documented_rate_limit", "-"),
            ", ".join(cls.required_credentials) or "-",
        )
    console.print(types)

    catalog = sync_paths(args, settings).catalog()
    table = Table(title="Destinations")
    for column in ("name", "type", "modes", "batch size", "rate limit", "credentials (env)"):
        table.add_column(column)
    for dest in catalog.destinations.values():
        cls = destination_class(dest.type)
        limit = dest.rate_limit
        env_names = ", ".join(
            f"{name} ({'set' if os.environ.get(name) else 'NOT SET'})"
            for name in dest.credentials.values()
        )
        default = getattr(cls, "default_batch_size", cls.max_batch_size)
        table.add_row(
            dest.name,
            dest.type,
            ", ".join(cls.modes),
            f"{dest.batch_size or default:,} (max {cls.max_batch_size:,})",
            f"{limit.requests}/{limit.per_seconds:g}s" if limit else "none",
            env_names or "-",
        )
    console.print(table)
    return 0
