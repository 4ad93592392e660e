"""`python -m orchestration.ui` (`make ui`): the second half of the demo, in the Dagster UI.

- a persistent DAGSTER_HOME inside the project (`.dagster_home/`, git-ignored) with Tessera's
  instance settings, so the demo's runs and the UI's share one history;
- demo data generated when the DuckDB warehouse does not exist yet;
- the destinations chosen by environment (orchestration.destinations_profile): on a fresh
  clone, local emulators for every HTTP destination, announced loudly;
- then `dagster dev` as a child process; the emulators live as long as it does.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from rich.console import Console

from orchestration.config import SYNCS_DIR_ENV
from tessera.cli_args import person_count
from tessera.settings import PROJECT_ROOT, Settings, SettingsError

DAGSTER_HOME = PROJECT_ROOT / ".dagster_home"
INSTANCE_TEMPLATE = Path(__file__).with_name("dagster.yaml")
PROJECT_SYNCS_DIR = PROJECT_ROOT / "dbt_project" / "syncs"
LOCAL_DESTINATIONS_DIR = "local_destinations"  # under DAGSTER_HOME


def dagster_home(env: dict[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    return Path(env.get("DAGSTER_HOME") or DAGSTER_HOME)


def prepare_dagster_home(home: Path) -> Path:
    """Create `home` with Tessera's dagster.yaml unless the user already has one there."""
    home.mkdir(parents=True, exist_ok=True)
    instance = home / "dagster.yaml"
    if not instance.exists():
        shutil.copyfile(INSTANCE_TEMPLATE, instance)
    return home


def ensure_demo_warehouse(settings: Settings, persons: int, console: Console) -> None:
    """Generate demo data when the DuckDB warehouse file does not exist yet."""
    if settings.target != "duckdb" or settings.warehouse_path.exists():
        return
    console.print(
        f"No warehouse at {settings.warehouse_path}: generating {persons:,} demo persons "
        "(raw data only; `make demo` builds, trains and syncs it too)"
    )
    subprocess.run(
        [sys.executable, "-m", "tessera.cli", "datagen", "--persons", str(persons)],
        cwd=PROJECT_ROOT,
        check=True,
    )
    console.print(
        "[yellow]Launch full_refresh first in the UI: it trains the models whose champions "
        "incremental_refresh scores with.[/yellow]"
    )


def dagster_dev_command(host: str, port: int) -> list[str]:
    dagster = Path(sys.executable).with_name("dagster")
    # No -m: dagster reads pyproject.toml's [tool.dagster], so the code location is `tessera`.
    return [
        str(dagster) if dagster.exists() else "dagster",
        "dev",
        "--host",
        host,
        "--port",
        str(port),
    ]


def run_dagster_dev(command: list[str], env: dict[str, str]) -> int:
    """Run dagster dev until it exits. Ctrl-C reaches it through the terminal's process
    group; this process waits for it to shut down, and passes a SIGTERM on."""
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env)
    previous_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
    previous_term = signal.signal(signal.SIGTERM, lambda *_: process.terminate())
    try:
        return process.wait()
    finally:
        signal.signal(signal.SIGINT, previous_int)
        signal.signal(signal.SIGTERM, previous_term)
        with contextlib.suppress(ProcessLookupError):
            process.terminate()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orchestration.ui")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument(
        "--persons", type=person_count, default=5000, help="demo size if data is missing"
    )
    args = parser.parse_args(argv)
    console = Console()

    from orchestration.destinations_profile import (
        choose_destinations,
        print_choice,
        start_demo_destinations,
    )

    try:
        settings = Settings.from_env()
        choice = choose_destinations(settings, PROJECT_SYNCS_DIR, os.environ)
    except SettingsError as exc:
        console.print(f"[red]{exc}[/red]")
        return 2
    home = prepare_dagster_home(dagster_home())
    ensure_demo_warehouse(settings, args.persons, console)
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    local = None
    if choice.local:
        local, cleared = start_demo_destinations(
            settings, PROJECT_SYNCS_DIR, home / LOCAL_DESTINATIONS_DIR
        )
        env.update(local.env)
        env[SYNCS_DIR_ENV] = str(local.syncs_dir)
        print_choice(console, choice, local, cleared)
    else:
        print_choice(console, choice, None)
    try:
        console.print(
            f"Dagster UI on [bold]http://{args.host}:{args.port}[/bold] (DAGSTER_HOME={home})"
        )
        # dagster dev loads `orchestration` from the project root (pyproject's [tool.dagster]).
        return run_dagster_dev(dagster_dev_command(args.host, args.port), env)
    finally:
        if local is not None:
            local.stop()


if __name__ == "__main__":
    sys.exit(main())
