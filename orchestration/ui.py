"""`python -m orchestration.ui`: the Dagster UI on a persistent DAGSTER_HOME inside the project.

Creates `.dagster_home/` (git-ignored) with Tessera's instance settings, generates the demo
warehouse when it is missing, then replaces itself with `dagster dev`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tessera.settings import PROJECT_ROOT, Settings

DAGSTER_HOME = PROJECT_ROOT / ".dagster_home"
INSTANCE_TEMPLATE = Path(__file__).with_name("dagster.yaml")


def prepare_dagster_home(home: Path) -> Path:
    """Create `home` with Tessera's dagster.yaml unless the user already has one there."""
    home.mkdir(parents=True, exist_ok=True)
    instance = home / "dagster.yaml"
    if not instance.exists():
        shutil.copyfile(INSTANCE_TEMPLATE, instance)
    return home


def ensure_demo_warehouse(settings: Settings, persons: int) -> None:
    """Generate demo data when the DuckDB warehouse file does not exist yet."""
    if settings.target != "duckdb" or settings.warehouse_path.exists():
        return
    print(f"No warehouse at {settings.warehouse_path}: generating {persons:,} demo persons")
    subprocess.run(
        [sys.executable, "-m", "tessera.cli", "datagen", "--persons", str(persons)],
        cwd=PROJECT_ROOT,
        check=True,
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orchestration.ui")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument("--persons", type=int, default=5000, help="demo size if data is missing")
    args = parser.parse_args(argv)

    settings = Settings.from_env()
    home = prepare_dagster_home(Path(os.environ.get("DAGSTER_HOME") or DAGSTER_HOME))
    ensure_demo_warehouse(settings, args.persons)
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    # dagster dev loads `orchestration` from the working directory.
    os.chdir(PROJECT_ROOT)
    command = dagster_dev_command(args.host, args.port)
    print(f"Dagster UI on http://{args.host}:{args.port} (DAGSTER_HOME={home})", flush=True)
    os.execvpe(command[0], command, env)
    return 0  # unreachable: exec replaced the process


if __name__ == "__main__":
    sys.exit(main())
