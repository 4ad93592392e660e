"""Point the project's sync destinations at local emulators (tests, benchmarks, demos).

Copies the sync YAML files from a syncs directory into another one, starts one emulator
(`reverse_etl.testing`) per HTTP destination on 127.0.0.1, and writes a destinations.yml
whose base URLs and credential variables lead to those emulators.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

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
