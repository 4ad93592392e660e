"""Point the project's sync destinations at local emulators (tests, benchmarks, `make ui`).

Copies the sync YAML files from a syncs directory into another one, starts one emulator
(`reverse_etl.testing`) per HTTP destination on 127.0.0.1 (free ports), and writes a
destinations.yml whose base URLs and credential variables lead to those emulators.

In-process: `start_local_destinations(source, target)` returns the local syncs dir, the
credential env vars to set and the emulator handles (`.stop()` them). For a separate
process such as `dagster dev`: `python -m orchestration.local_destinations --source
dbt_project/syncs --target <dir> --env-file <file>` serves the emulators until SIGTERM,
after writing `<file>` with TESSERA_SYNCS_DIR and the throwaway credentials and printing
one JSON line once ready. Only ever for local use: the tokens are throwaway, the
destinations fake.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from orchestration.config import SYNCS_DIR_ENV
from reverse_etl.config import DESTINATIONS_FILE

FILE_TYPE = "file"


@dataclass
class LocalDestinations:
    syncs_dir: Path
    env: dict[str, str] = field(default_factory=dict)  # credential variables -> tokens
    emulators: dict[str, Any] = field(default_factory=dict)  # destination name -> handle

    def stop(self) -> None:
        for handle in self.emulators.values():
            handle.stop()
        self.emulators.clear()


def start_local_destinations(source: Path, target: Path) -> LocalDestinations:
    """Mirror `source` (a syncs dir) into `target` with emulated destinations.

    Without a destinations.yml in `source` the project defines no syncs yet: `target` is
    left empty, which the orchestration reads as "no sync assets".
    """
    from reverse_etl.testing import start_emulator

    target.mkdir(parents=True, exist_ok=True)
    local = LocalDestinations(syncs_dir=target)
    destinations_file = source / DESTINATIONS_FILE
    if not destinations_file.exists():
        return local
    for path in source.glob("*.yml"):
        if path.name != DESTINATIONS_FILE:
            shutil.copyfile(path, target / path.name)
    rewritten = []
    for dest in yaml.safe_load(destinations_file.read_text())["destinations"]:
        dest = dict(dest)
        dest.pop("base_url_env", None)  # the emulator's URL must win over the environment
        if dest["type"] != FILE_TYPE:  # every HTTP destination type has an emulator
            token = f"local-token-{dest['name']}"
            handle = start_emulator(dest["type"], token=token)
            local.emulators[dest["name"]] = handle
            dest["base_url"] = handle.base_url
            for env_name in (dest.get("credentials") or {}).values():
                local.env[env_name] = token
        else:
            dest["base_url"] = str(target / "exports")
        rewritten.append(dest)
    (target / DESTINATIONS_FILE).write_text(yaml.safe_dump({"destinations": rewritten}))
    return local


def write_env_file(local: LocalDestinations, path: Path) -> Path:
    """A `NAME=value` file (mode 0600) with the throwaway credentials and TESSERA_SYNCS_DIR,
    for a process started separately (e.g. `dagster dev`) to load."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"{SYNCS_DIR_ENV}={local.syncs_dir}"] + [f"{k}={v}" for k, v in local.env.items()]
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)
    return path


def serve(source: Path, target: Path, env_file: Path) -> int:
    """Start the emulators, write the local syncs dir and env file, and serve until SIGTERM
    or Ctrl-C. Prints one JSON line `{"syncs_dir", "env_file", "emulators"}` once ready."""
    import json
    import signal
    import threading

    local = start_local_destinations(source, target)
    try:
        write_env_file(local, env_file)
        ready = {
            "syncs_dir": str(local.syncs_dir),
            "env_file": str(env_file),
            "emulators": {name: handle.base_url for name, handle in local.emulators.items()},
        }
        print(json.dumps(ready), flush=True)
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        stop.wait()
    finally:
        local.stop()
        env_file.unlink(missing_ok=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m orchestration.local_destinations",
        description="Serve the bundled destination emulators for the project's syncs.",
    )
    parser.add_argument("--source", type=Path, required=True, help="the project's syncs dir")
    parser.add_argument("--target", type=Path, required=True, help="where the local copy goes")
    parser.add_argument("--env-file", type=Path, required=True, help="credentials file to write")
    args = parser.parse_args(argv)
    return serve(args.source, args.target, args.env_file)


if __name__ == "__main__":
    raise SystemExit(main())
