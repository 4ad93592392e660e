"""`make ui` picks local emulators only where that cannot be mistaken for production."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import requests
import yaml
from rich.console import Console

from orchestration.destinations_profile import (
    LOCAL_DESTINATIONS_ENV,
    choose_destinations,
    configured_destination_variables,
    print_choice,
    start_demo_destinations,
)
from reverse_etl.state import StateStore, ensure_tables
from tessera.settings import PROJECT_ROOT, Settings, SettingsError
from tessera.warehouse import Warehouse

SYNCS = PROJECT_ROOT / "dbt_project" / "syncs"
DUCKDB = Settings(target="duckdb")


def test_a_fresh_clone_gets_the_emulators() -> None:
    choice = choose_destinations(DUCKDB, SYNCS, {})
    assert choice.local
    assert "no destination credentials" in choice.reason


@pytest.mark.parametrize(
    ("env", "reason"),
    [
        ({"HUBSPOT_PRIVATE_APP_TOKEN": "pat-123"}, "HUBSPOT_PRIVATE_APP_TOKEN set"),
        ({"TESSERA_META_BASE_URL": "https://graph.example"}, "TESSERA_META_BASE_URL set"),
        ({"TESSERA_SYNCS_DIR": "/srv/syncs"}, "TESSERA_SYNCS_DIR is set"),
        ({LOCAL_DESTINATIONS_ENV: "0"}, f"{LOCAL_DESTINATIONS_ENV}=0"),
    ],
)
def test_any_sign_of_real_destinations_keeps_them(env: dict[str, str], reason: str) -> None:
    choice = choose_destinations(DUCKDB, SYNCS, env)
    assert not choice.local
    assert choice.reason == reason


def test_snowflake_never_gets_emulators_unless_asked() -> None:
    snowflake = Settings(target="snowflake")
    assert not choose_destinations(snowflake, SYNCS, {}).local
    assert choose_destinations(snowflake, SYNCS, {LOCAL_DESTINATIONS_ENV: "1"}).local


def test_a_bad_flag_is_refused_by_name() -> None:
    with pytest.raises(SettingsError, match=f"{LOCAL_DESTINATIONS_ENV}='maybe'"):
        choose_destinations(DUCKDB, SYNCS, {LOCAL_DESTINATIONS_ENV: "maybe"})


def test_every_credential_variable_of_the_project_is_watched() -> None:
    names = configured_destination_variables(SYNCS)
    destinations = yaml.safe_load((SYNCS / "destinations.yml").read_text())["destinations"]
    for dest in destinations:
        for variable in (dest.get("credentials") or {}).values():
            assert variable in names
    assert "GOOGLE_ADS_DEVELOPER_TOKEN" in names


def test_demo_destinations_start_empty_and_forget_what_was_sent(tmp_path: Path) -> None:
    settings = Settings(target="duckdb", warehouse_path=tmp_path / "w.duckdb")
    with Warehouse(settings).session() as session:
        ensure_tables(session, "hubspot_lapsed_vips")
        session.execute(
            "insert into tessera_sync.state_hubspot_lapsed_vips"
            " (key, row_hash, dest_id, status, last_synced_at, attempts)"
            " values ('p1', 'h', '101', 'synced', now(), 1)"
        )
    local, cleared = start_demo_destinations(settings, SYNCS, tmp_path / "local")
    try:
        assert cleared == ["hubspot_lapsed_vips"]
        with Warehouse(settings).session(read_only=True) as session:
            assert StateStore(session, "hubspot_lapsed_vips").counts() == {}
        written = yaml.safe_load((local.syncs_dir / "destinations.yml").read_text())
        urls = {d["name"]: d["base_url"] for d in written["destinations"]}
        assert urls["hubspot"] == local.emulators["hubspot"].base_url
        assert urls["hubspot"].startswith("http://127.0.0.1:")
        summary = requests.get(f"{urls['hubspot']}/_emulator/summary", timeout=5).json()
        assert summary["contacts"] == 0
        assert local.env["HUBSPOT_PRIVATE_APP_TOKEN"]
        out = io.StringIO()
        print_choice(
            Console(file=out, width=120), choose_destinations(settings, SYNCS, {}), local, cleared
        )
        text = out.getvalue()
        assert "LOCAL EMULATORS" in text and urls["hubspot"] in text
        assert local.env["HUBSPOT_PRIVATE_APP_TOKEN"] not in text, "tokens are never printed"
    finally:
        local.stop()
