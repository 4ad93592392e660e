"""The reverse-ETL part of `tessera demo`: sync starter segments to local emulators, change
some rows, sync again, and show that only the changed rows were sent.

`orchestration/demo.py` calls `run_sync_demo(settings, console)` after the segments are built;
it returns 1 when a destination refused or never took a sync, after the other syncs have run.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

from reverse_etl.destinations.base import DestinationError
from reverse_etl.planner import PlanError
from reverse_etl.runner import RunResult, SyncPaths, run_sync
from reverse_etl.testing import EmulatorHandle, start_emulator
from tessera.settings import Settings
from tessera.warehouse import Warehouse

DEMO_SYNCS = ("hubspot_lapsed_vips", "meta_suppress_recent_buyers", "meta_churn_risk")


@dataclass
class DemoDestinations:
    env: dict[str, str]  # what the shipped destinations.yml reads: base URLs and tokens
    hubspot: EmulatorHandle
    meta: EmulatorHandle


@contextmanager
def demo_destinations() -> Iterator[DemoDestinations]:
    """HubSpot and Meta emulators on 127.0.0.1 with throwaway tokens."""
    hubspot_token, meta_token = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    with (
        start_emulator("hubspot", token=hubspot_token) as hubspot,
        start_emulator("meta_audience", token=meta_token) as meta,
    ):
        env = {
            "TESSERA_HUBSPOT_BASE_URL": hubspot.base_url,
            "HUBSPOT_PRIVATE_APP_TOKEN": hubspot_token,
            "TESSERA_META_BASE_URL": meta.base_url,
            "META_ACCESS_TOKEN": meta_token,
        }
        yield DemoDestinations(env, hubspot, meta)


def change_segments(settings: Settings, segment_tables: list[str]) -> None:
    """Stand-in for fresh data: rename ~1% of each segment and drop ~1% of its members."""
    with Warehouse(settings).session() as session:
        for table in segment_tables:
            columns = {name for name, _ in session.columns(*table.split("."))}
            if "first_name" in columns:
                session.execute(
                    f"update {table} set first_name = coalesce(first_name, '') || ' (updated)' "
                    "where abs(hash(person_id)) % 100 = 1"
                )
            session.execute(f"delete from {table} where abs(hash(person_id)) % 100 = 2")


def run_sync_demo(
    settings: Settings,
    console: Console,
    names: tuple[str, ...] = DEMO_SYNCS,
    change: Callable[[], None] | None = None,
) -> int:
    paths = SyncPaths.default(settings)
    catalog = paths.catalog()
    failed: list[str] = []
    with demo_destinations() as destinations:

        def sync_round(label: str) -> dict[str, RunResult]:
            results = {}
            for name in names:
                try:
                    results[name] = run_sync(
                        settings, catalog, name, lock_dir=paths.lock_dir, env=destinations.env
                    )
                except PlanError as exc:
                    console.print(f"[yellow]{label}: skipped {name}: {exc}[/yellow]")
                except DestinationError as exc:
                    # One sync the destination refused must not hide what the others did.
                    failed.append(name)
                    console.print(f"{label}: {name} failed: {exc}", style="red", markup=False)
            return results

        first = sync_round("first sync")
        if change is not None:
            change()
        else:
            change_segments(settings, sorted({catalog.sync(n).segment for n in first}))
        second = sync_round("re-sync")

        table = Table(title="Reverse ETL: first sync, then re-sync after a change")
        for column in ("sync", "first: sent", "re-sync: changed", "removed", "sent", "requests"):
            table.add_column(column, justify="right" if column != "sync" else "left")
        for name, result in second.items():
            if name not in first:
                continue
            counts = result.plan.counts
            table.add_row(
                name,
                f"{first[name].stats.sent_ok:,}",
                f"{counts['changed'] + counts['added'] + counts['retry']:,}",
                f"{counts['removed']:,}",
                f"{result.stats.sent_ok:,}",
                f"{result.stats.calls:,}",
            )
        console.print(table)
        console.print(
            f"HubSpot emulator holds {len(destinations.hubspot.app.contacts):,} contacts; "
            "Meta audiences: "
            + ", ".join(f"{k}: {len(v):,}" for k, v in destinations.meta.app.members.items())
        )
        console.print("Only the rows that changed were sent on the re-sync.")
    return 1 if failed else 0
