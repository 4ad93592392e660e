"""`tessera sync ...` commands: list, plan (dry run sends nothing), run, status, errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from retl_helpers import execute, hubspot_destination, hubspot_sync, query, sync_paths

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
    paths = sync_paths(tmp_path, [hubspot_destination(hubspot.base_url)], [hubspot_sync()])
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
