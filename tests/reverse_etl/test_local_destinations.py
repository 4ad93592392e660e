"""The local destinations profile `make ui` uses: emulators served by their own process, a
syncs dir pointing at them and an env file with throwaway credentials."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import yaml

from reverse_etl.config import Catalog

ROOT = Path(__file__).resolve().parents[2]


def test_serve_writes_a_profile_whose_destinations_answer(tmp_path: Path) -> None:
    env_file = tmp_path / "local.env"
    proc = subprocess.Popen(
        [sys.executable, "-m", "orchestration.local_destinations"]
        + ["--source", str(ROOT / "dbt_project" / "syncs"), "--target", str(tmp_path / "syncs")]
        + ["--env-file", str(env_file)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        ready = json.loads(proc.stdout.readline())
        variables = dict(line.split("=", 1) for line in env_file.read_text().splitlines())
        assert variables["TESSERA_SYNCS_DIR"] == ready["syncs_dir"]
        assert oct(env_file.stat().st_mode & 0o777) == "0o600"
        catalog = Catalog.load(Path(ready["syncs_dir"]))  # the shipped syncs, all valid
        assert {"hubspot", "meta", "salesforce", "braze", "google_ads"} <= set(ready["emulators"])
        destinations = yaml.safe_load(Path(ready["syncs_dir"], "destinations.yml").read_text())
        for dest in destinations["destinations"]:
            if dest["type"] != "file":
                assert dest["base_url"] == ready["emulators"][dest["name"]]
                for env_name in dest["credentials"].values():
                    assert variables[env_name].startswith("local-token-")
        assert catalog.syncs
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    assert not env_file.exists()
