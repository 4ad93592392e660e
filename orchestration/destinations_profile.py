"""Which destinations `make ui` syncs to: the configured ones, or local emulators for the demo.

A fresh clone has no HubSpot or Meta credentials, so every sync asset would fail. `make ui`
therefore starts the bundled emulators (`reverse_etl.testing`) and points the syncs at them,
but only when that cannot be mistaken for production:

- `TESSERA_LOCAL_DESTINATIONS=1` asks for the emulators, `=0` forbids them;
- otherwise (unset) the emulators are used only when the target is the embedded DuckDB,
  `TESSERA_SYNCS_DIR` is not set and none of destinations.yml's credential or base-URL
  variables is set. Any of those means the user configured real destinations.

The choice is printed loudly either way. The emulators start empty, so the state of every
sync (what Tessera believes each destination holds) is cleared when they start: their first
run sends each segment in full, and afterwards only what changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml
from rich.console import Console
from rich.panel import Panel

from orchestration.config import SYNCS_DIR_ENV
from orchestration.local_destinations import LocalDestinations, start_local_destinations
from reverse_etl.config import DESTINATIONS_FILE
from tessera.settings import Settings, SettingsError
from tessera.warehouse import Warehouse

LOCAL_DESTINATIONS_ENV = "TESSERA_LOCAL_DESTINATIONS"
_YES = ("1", "true", "yes", "on")
_NO = ("0", "false", "no", "off")


@dataclass(frozen=True)
class DestinationsChoice:
    local: bool
    reason: str


def configured_destination_variables(syncs_dir: Path) -> list[str]:
    """Every credential and base-URL variable destinations.yml reads, in file order."""
    path = syncs_dir / DESTINATIONS_FILE
    if not path.exists():
        return []
    names: list[str] = []
    for dest in (yaml.safe_load(path.read_text()) or {}).get("destinations") or []:
        names += [str(v) for v in (dest.get("credentials") or {}).values()]
        if dest.get("base_url_env"):
            names.append(str(dest["base_url_env"]))
    return list(dict.fromkeys(names))


def choose_destinations(
    settings: Settings, project_syncs_dir: Path, env: Mapping[str, str]
) -> DestinationsChoice:
    flag = (env.get(LOCAL_DESTINATIONS_ENV) or "").strip().lower()
    if flag in _YES:
        return DestinationsChoice(True, f"{LOCAL_DESTINATIONS_ENV}={env[LOCAL_DESTINATIONS_ENV]}")
    if flag in _NO:
        return DestinationsChoice(False, f"{LOCAL_DESTINATIONS_ENV}={env[LOCAL_DESTINATIONS_ENV]}")
    if flag:
        raise SettingsError(
            f"{LOCAL_DESTINATIONS_ENV}={env[LOCAL_DESTINATIONS_ENV]!r} is not 1 or 0 "
            "(leave it unset to decide from the environment)"
        )
    if settings.target != "duckdb":
        return DestinationsChoice(False, f"TESSERA_TARGET={settings.target}")
    if env.get(SYNCS_DIR_ENV):
        return DestinationsChoice(False, f"{SYNCS_DIR_ENV} is set")
    configured = [
        name for name in configured_destination_variables(project_syncs_dir) if env.get(name)
    ]
    if configured:
        return DestinationsChoice(False, f"{', '.join(configured)} set")
    return DestinationsChoice(
        True, "embedded DuckDB warehouse and no destination credentials in the environment"
    )


def start_demo_destinations(
    settings: Settings, project_syncs_dir: Path, target_dir: Path
) -> tuple[LocalDestinations, list[str]]:
    """Emulators for every HTTP destination, a syncs dir pointing at them, and the syncs
    whose state was cleared because the emulators start empty."""
    local = start_local_destinations(project_syncs_dir, target_dir)
    try:
        cleared = forget_sync_state(settings, sync_names(local.syncs_dir))
    except Exception:
        local.stop()
        raise
    return local, cleared


def sync_names(syncs_dir: Path) -> list[str]:
    names = []
    for path in sorted(syncs_dir.glob("*.yml")):
        if path.name == DESTINATIONS_FILE:
            continue
        for sync in (yaml.safe_load(path.read_text()) or {}).get("syncs") or []:
            names.append(str(sync["name"]))
    return names


def forget_sync_state(settings: Settings, names: list[str]) -> list[str]:
    """Clear the state of these syncs (what their destinations are believed to hold); the
    names whose state had rows."""
    from reverse_etl.state import SCHEMA, StateStore

    if settings.target == "duckdb" and not settings.warehouse_path.exists():
        return []
    cleared = []
    with Warehouse(settings).session() as session:
        for name in names:
            if not session.table_exists(SCHEMA, f"state_{name}"):
                continue
            store = StateStore(session, name)
            if sum(store.counts().values()):
                cleared.append(name)
            store.reset()
    return cleared


def print_choice(
    console: Console,
    choice: DestinationsChoice,
    local: LocalDestinations | None,
    cleared: list[str] | None = None,
) -> None:
    if local is None:
        console.print(
            Panel(
                f"Syncs use the destinations configured in destinations.yml ({choice.reason}).",
                title="Destinations",
                border_style="blue",
            )
        )
        return
    lines = [
        "[bold]Syncs send to LOCAL EMULATORS on this machine, not to real HubSpot, Meta, "
        "Salesforce, Braze, Google Ads or webhooks.[/bold]",
        "",
        *(f"  {name:<12} {handle.base_url}" for name, handle in local.emulators.items()),
        "",
        "The emulators start empty, so Tessera forgot what it sent before "
        f"({len(cleared or [])} syncs had state): each sync's first run sends its whole "
        "segment, later runs only what changed.",
        f"Why: {choice.reason}.",
        "Real destinations: set their credentials (see dbt_project/syncs/destinations.yml) "
        f"or {LOCAL_DESTINATIONS_ENV}=0.",
    ]
    console.print(
        Panel("\n".join(lines), title="Local demo destinations", border_style="bold yellow")
    )
