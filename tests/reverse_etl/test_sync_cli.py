"""`tessera sync ...` commands: list, plan (dry run sends nothing), run, status, errors,
reconcile (against the emulator, changed out of band through HubSpot's own API), forget."""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path

import pytest
from retl_helpers import (
    HUBSPOT_TOKEN,
    execute,
    expected_contacts,
    hubspot_destination,
    hubspot_sync,
    live_contacts,
    meta_destination,
    meta_sync,
    query,
    sync_paths,
)

from reverse_etl.__main__ import main
from reverse_etl.cli import console
from reverse_etl.testing import EmulatorHandle
from tessera.settings import Settings


@pytest.fixture
def cli_env(
    tmp_path: Path, settings: Settings, hubspot: EmulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> list[str]:
    monkeypatch.setenv("TESSERA_WAREHOUSE", str(settings.warehouse_path))
    monkeypatch.setenv("TESSERA_ARTIFACTS", str(settings.artifacts_dir))
    monkeypatch.setattr(console, "width", 200)
    paths = sync_paths(  # no faults injected: no client timeout turning a slow answer into a resend
        tmp_path, [hubspot_destination(hubspot.base_url, timeout_seconds=30)], [hubspot_sync()]
    )
    return ["sync", "--syncs-dir", str(paths.syncs_dir)]


def test_plan_is_a_dry_run_with_counts_and_a_sample(
    cli_env: list[str], hubspot: EmulatorHandle, settings: Settings, capsys: pytest.CaptureFixture
) -> None:
    assert main([*cli_env, "plan", "crm", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "added 1,960" in out and "dry run: nothing was sent" in out
    assert "person.1@example.com" in out.lower()  # the sample shows mapped values
    assert hubspot.app.requests == []
    assert query(settings, "select count(*) n from tessera_sync.state_crm").n[0] == 0
    assert main([*cli_env, "run", "crm", "--dry-run"]) == 0
    assert hubspot.app.requests == []


def test_run_status_errors_and_list(
    cli_env: list[str], settings: Settings, capsys: pytest.CaptureFixture
) -> None:
    execute(
        settings, "update segments.test_audience set email = 'nope' where person_id = 'p0000003'"
    )
    assert main([*cli_env, "run", "crm", "--no-progress"]) == 3  # partial: one row rejected
    out = capsys.readouterr().out
    assert "sent added 1,959" in out and "rejected 1" in out and "tessera sync errors" in out
    assert main([*cli_env, "status"]) == 0
    out = capsys.readouterr().out
    assert "partial" in out and "1,959" in out
    assert main([*cli_env, "errors", "crm"]) == 0
    out = capsys.readouterr().out
    assert "p0000003" in out and "invalid email" in out
    assert main([*cli_env, "list"]) == 0
    assert "segments.test_audience" in capsys.readouterr().out


def test_unknown_sync_is_a_clear_error(cli_env: list[str], capsys: pytest.CaptureFixture) -> None:
    assert main([*cli_env, "run", "nope"]) == 1
    assert "no sync named 'nope' (known: crm)" in capsys.readouterr().out


def test_registered_in_the_tessera_cli(cli_env: list[str], capsys: pytest.CaptureFixture) -> None:
    from orchestration.cli import main as tessera_main

    assert tessera_main([*cli_env, "destinations"]) == 0
    out = capsys.readouterr().out
    assert "hubspot" in out and "TEST_HUBSPOT_TOKEN (set)" in out


def test_cli_kinds_match_the_planner() -> None:
    from reverse_etl import cli, planner

    assert cli.KINDS == planner.KINDS


def hubspot_api(handle: EmulatorHandle, action: str, inputs: list[dict]) -> int:
    """What a CRM user or another integration does: HubSpot's own batch API, over HTTP."""
    request = urllib.request.Request(
        f"{handle.base_url}/crm/v3/objects/contacts/batch/{action}",
        data=json.dumps({"inputs": inputs}).encode(),
        headers={"Authorization": f"Bearer {HUBSPOT_TOKEN}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.status


def test_reconcile_from_the_command_line_repairs_what_changed_out_of_band(
    cli_env: list[str],
    hubspot: EmulatorHandle,
    settings: Settings,
    capsys: pytest.CaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from orchestration.cli import main as tessera_main

    assert tessera_main([*cli_env, "run", "crm", "--no-progress"]) == 0
    ids = dict(query(settings, "select key, dest_id from tessera_sync.state_crm").values)
    assert hubspot_api(hubspot, "archive", [{"id": ids[k]} for k in ("p0000011", "p0000012")])
    edited = {"id": ids["p0000021"], "properties": {"firstname": "Edited in HubSpot"}}
    assert hubspot_api(hubspot, "update", [edited]) == 200
    capsys.readouterr()

    before = len(hubspot.app.requests)
    assert tessera_main([*cli_env, "reconcile", "crm", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"deleted out of band: resend\s*│\s*2\s*│\s*p0000011, p0000012", out)
    assert re.search(r"edited out of band: resend\s*│\s*1\s*│\s*p0000021", out)
    assert "dry run: state unchanged, nothing sent" in out
    writes = [r for r in hubspot.app.requests[before:] if not r.path.endswith("/batch/read")]
    assert writes == []

    monkeypatch.setattr(console, "_force_terminal", True)  # as at a terminal: a progress bar
    assert tessera_main([*cli_env, "reconcile", "crm"]) == 0
    out = capsys.readouterr().out
    assert "read back" in out and "1960/1960" in out
    assert "sync crm success: sent changed 1, added 2" in out
    assert live_contacts(hubspot.app) == expected_contacts(settings)
    assert tessera_main([*cli_env, "reconcile", "crm", "--dry-run"]) == 0
    assert re.search(r"in sync\s*│\s*1,960", capsys.readouterr().out)


def test_reconcile_of_an_audience_says_it_cannot_read_it(
    tmp_path: Path,
    settings: Settings,
    meta: EmulatorHandle,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
) -> None:
    from orchestration.cli import main as tessera_main

    monkeypatch.setenv("TESSERA_WAREHOUSE", str(settings.warehouse_path))
    monkeypatch.setenv("TESSERA_ARTIFACTS", str(settings.artifacts_dir))
    monkeypatch.setattr(console, "width", 200)
    paths = sync_paths(tmp_path, [meta_destination(meta.base_url)], [meta_sync()])
    assert tessera_main(["sync", "--syncs-dir", str(paths.syncs_dir), "reconcile", "ads"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "meta cannot be read back" in out and "nothing to reconcile" in out
    assert meta.app.requests == []


def test_forget_needs_a_person_id(cli_env: list[str], capsys: pytest.CaptureFixture) -> None:
    from orchestration.cli import main as tessera_main

    with pytest.raises(SystemExit) as exited:
        tessera_main([*cli_env, "forget", "  "])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "argument person_id: an empty value" in err and "Traceback" not in err


def test_forget_warns_of_an_unknown_person_and_refuses_a_reused_request_id(
    cli_env: list[str], settings: Settings, capsys: pytest.CaptureFixture
) -> None:
    """A probe recorded `p_123` and `'; drop table x; --` as persons without a word, and one
    request id for two persons."""
    from orchestration.cli import main as tessera_main
    from tessera.warehouse import Warehouse

    with Warehouse(settings).session() as session:
        session.execute("create schema if not exists identity")
        session.execute("create table identity.persons as select 'p_known' as person_id")
        session.execute(
            "create table identity.person_merges as "
            "select 'p_old' as old_person_id, 'p_known' as person_id"
        )
    assert tessera_main([*cli_env, "forget", "p_123", "--request-id", "r1"]) == 0
    out = capsys.readouterr().out
    assert "'p_123' is not a person in identity.persons" in out and "recorded" in out
    for known in ("p_known", "p_old"):
        assert tessera_main([*cli_env, "forget", known]) == 0
        assert "is not a person" not in capsys.readouterr().out
    assert tessera_main([*cli_env, "forget", "p_123", "--request-id", "r1"]) == 0  # again
    assert tessera_main([*cli_env, "forget", "p_known", "--request-id", "r1"]) == 1
    assert "request id 'r1' is already recorded for another person" in capsys.readouterr().out
    rows = query(settings, "select person_id from privacy.deletion_requests order by 1")
    assert rows.person_id.tolist() == ["p_123", "p_known", "p_old"]


def test_reconcile_with_refused_credentials_is_one_clear_line_without_the_token(
    cli_env: list[str],
    hubspot: EmulatorHandle,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
) -> None:
    from orchestration.cli import main as tessera_main

    assert tessera_main([*cli_env, "run", "crm", "--no-progress"]) == 0
    capsys.readouterr()
    wrong = "pat-na1-WRONG-0123456789abcdef"
    monkeypatch.setenv("TEST_HUBSPOT_TOKEN", wrong)
    assert tessera_main([*cli_env, "reconcile", "crm"]) == 1
    out = capsys.readouterr().out
    assert "401" in out and "hubspot" in out.lower() and "Traceback" not in out
    assert wrong not in out
