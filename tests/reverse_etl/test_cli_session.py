"""A newcomer's session at the shell: the `tessera` console script, the shipped syncs, the
destinations served by `python -m orchestration.local_destinations` in their own process,
real HTTP throughout, and nothing in the environment but what that command writes.

run -> a contact archived out of band through HubSpot's own API -> `sync reconcile` sends
exactly that contact again -> `sync forget` -> the next run erases the person from HubSpot
and from both Meta audiences.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from retl_helpers import demo_warehouse, query, settings_for

from tessera.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
TESSERA = Path(sys.executable).parent / "tessera"
HUBSPOT_SYNC, META_SYNCS = "hubspot_lapsed_vips", ("meta_churn_risk", "meta_suppress_recent_buyers")
FORGOTTEN = "p0000600"
FORGOTTEN_EMAIL = "person.600@example.com"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[dict[str, Any], dict[str, str]]]:
    env_file = tmp_path / "local.env"
    proc = subprocess.Popen(
        [sys.executable, "-m", "orchestration.local_destinations"]
        + ["--source", "dbt_project/syncs", "--target", str(tmp_path / "syncs")]
        + ["--env-file", str(env_file)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        ready = json.loads(proc.stdout.readline())
        variables = dict(line.split("=", 1) for line in env_file.read_text().splitlines())
        yield ready, variables
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def tessera(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(TESSERA), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def hubspot_call(base_url: str, token: str, action: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{base_url}/crm/v3/objects/contacts/batch/{action}",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        raw = response.read()
    return json.loads(raw) if raw else {}


def emulator_received(base_url: str) -> dict[str, dict[str, int]]:
    with urllib.request.urlopen(f"{base_url}/_emulator/received", timeout=5) as response:
        return json.loads(response.read())


def test_run_reconcile_forget_from_the_shell_against_served_destinations(
    tmp_path: Path, served: tuple[dict[str, Any], dict[str, str]]
) -> None:
    ready, variables = served
    settings: Settings = settings_for(tmp_path)
    demo_warehouse(settings)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")}
    env.update(variables)  # TESSERA_SYNCS_DIR and the throwaway tokens, as `source local.env`
    env["TESSERA_WAREHOUSE"] = str(settings.warehouse_path)
    env["TESSERA_ARTIFACTS"] = str(settings.artifacts_dir)
    hubspot_url, token = ready["emulators"]["hubspot"], variables["HUBSPOT_PRIVATE_APP_TOKEN"]

    for name in (HUBSPOT_SYNC, *META_SYNCS):
        done = tessera(env, "sync", "run", name, "--no-progress")
        assert done.returncode in (0, 3), done.stdout + done.stderr  # 3: one invalid email
        assert "Traceback" not in done.stderr
    contact_ids = dict(
        query(settings, f"select key, dest_id from tessera_sync.state_{HUBSPOT_SYNC}").values
    )
    hubspot_call(hubspot_url, token, "archive", {"inputs": [{"id": contact_ids["p0000011"]}]})

    before = emulator_received(hubspot_url)["received"]
    done = tessera(env, "sync", "reconcile", HUBSPOT_SYNC)
    # 3 = partial: the repair run also retries the invalid email, which HubSpot refuses again
    assert done.returncode == 3, done.stdout + done.stderr
    out = " ".join(done.stdout.split())
    assert "deleted out of band: resend │ 1 │ p0000011" in out
    after = emulator_received(hubspot_url)["received"]
    assert {k: n - before.get(k, 0) for k, n in after.items() if n != before.get(k, 0)} == {
        "person.11@example.com": 1,
        "not-an-email": 1,
    }

    done = tessera(env, "sync", "forget", FORGOTTEN, "--request-id", "dsr-42")
    assert done.returncode == 0 and "dsr-42" in done.stdout
    for name in (HUBSPOT_SYNC, *META_SYNCS):
        done = tessera(env, "sync", "run", name, "--no-progress")
        assert "erased 1" in done.stdout, done.stdout + done.stderr
        assert FORGOTTEN_EMAIL not in done.stdout + done.stderr
    found = hubspot_call(
        hubspot_url,
        token,
        "read",
        {"inputs": [{"id": FORGOTTEN_EMAIL}], "idProperty": "email", "properties": ["email"]},
    )
    assert found.get("results", []) == []
    removals = emulator_received(ready["emulators"]["meta"])["removals"]
    assert sum(removals.values()) == 2  # the person's hashed identifiers, once per audience
    for name in (HUBSPOT_SYNC, *META_SYNCS):
        state = query(settings, f"select key from tessera_sync.state_{name}")
        assert FORGOTTEN not in set(state.key)
