"""`tessera sync ...` with hand-written, wrong YAML and a destination that is not there:
each problem is named with its file, line and column, and a refused connection is named where
the run ends."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from retl_helpers import hubspot_destination, hubspot_sync, write_config

from reverse_etl.__main__ import main
from reverse_etl.cli import console
from reverse_etl.config import Catalog, ConfigError
from tessera.settings import Settings

DESTINATIONS = """\
destinations:
  - name: hubspot
    type: hubspot
    base_url: http://127.0.0.1:9
    credentials:
      token: TEST_HUBSPOT_TOKEN
"""


def load(tmp_path: Path, syncs: str, destinations: str = DESTINATIONS) -> Catalog:
    folder = tmp_path / "syncs"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "destinations.yml").write_text(destinations)
    (folder / "syncs.yml").write_text(syncs)
    return Catalog.load(folder)


def test_unknown_key_is_named_with_line_column_and_the_allowed_keys(tmp_path: Path) -> None:
    syncs = """\
syncs:
  - name: crm
    segment: lapsed_vips
    destination: hubspot
    object: contacts
    mapping: {email: email}
    batch_size: 100
"""
    with pytest.raises(ConfigError) as err:
        load(tmp_path, syncs)
    message = str(err.value)
    assert "syncs[0] (crm).batch_size (line 7, column 5)" in message
    assert "unknown key 'batch_size'" in message and "allowed: name, segment" in message


def test_missing_field_wrong_type_and_unquoted_id_point_at_their_lines(tmp_path: Path) -> None:
    syncs = """\
syncs:
  - name: audience
    segment: lapsed_vips
    object: 120210000000000001
    mapping:
      email: email
    send_nulls: maybe
"""
    with pytest.raises(ConfigError) as err:
        load(tmp_path, syncs)
    message = str(err.value)
    assert "(audience).destination (line 2, column 5): Field required" in message
    assert "(audience).object (line 4, column 5)" in message
    assert "got the number 120210000000000001; quote it in the YAML" in message
    assert "(audience).send_nulls (line 7, column 5)" in message


def test_a_value_no_union_member_takes_is_one_line(tmp_path: Path) -> None:
    syncs = """\
syncs:
  - name: crm
    segment: lapsed_vips
    destination: hubspot
    object: contacts
    mapping: {email: email}
    options: {retries: [1, 2]}
    primary_key: {person: id}
"""
    with pytest.raises(ConfigError) as err:
        load(tmp_path, syncs)
    lines = str(err.value).splitlines()[1:]
    assert sorted(lines) == [
        "  syncs[0] (crm).options.retries (line 7, column 15): should be a string, number "
        "or true/false, not a list",
        "  syncs[0] (crm).primary_key (line 8, column 5): should be a column name or a list "
        "of column names, not a mapping",
    ]
    syncs = syncs.replace("primary_key: {person: id}", "primary_key: [person_id, 7]")
    syncs = syncs.replace("    options: {retries: [1, 2]}\n", "")
    with pytest.raises(ConfigError) as err:
        load(tmp_path, syncs)
    lines = str(err.value).splitlines()[1:]
    assert len(lines) == 1 and "(crm).primary_key.1 (line 7, column 30)" in lines[0]


def test_base_url_without_a_scheme_is_refused_in_the_file_and_in_the_override(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    syncs = "syncs: []\n"
    with pytest.raises(ConfigError) as err:
        load(tmp_path, syncs, DESTINATIONS.replace("http://127.0.0.1:9", "api.hubapi.com"))
    assert "(hubspot).base_url (line 4, column 5)" in str(err.value)
    assert "not an http:// or https:// URL" in str(err.value)

    destinations = DESTINATIONS + "    base_url_env: TEST_HUBSPOT_URL\n"
    catalog = load(tmp_path, syncs, destinations)
    monkeypatch.setenv("TEST_HUBSPOT_URL", "localhost")
    with pytest.raises(ConfigError, match="TEST_HUBSPOT_URL .*'localhost' is not an http"):
        catalog.destinations["hubspot"].resolved_base_url()
    monkeypatch.setenv("TEST_HUBSPOT_URL", "http://localhost:8080")
    assert catalog.destinations["hubspot"].resolved_base_url() == "http://localhost:8080"


def test_a_refused_connection_is_named_where_the_run_ends(
    tmp_path: Path,
    settings: Settings,
    tokens: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    destination = hubspot_destination(
        url, retry={"max_attempts": 2, "base_delay_seconds": 0.01, "max_delay_seconds": 0.01}
    )
    write_config(tmp_path / "syncs", [destination], [hubspot_sync()])
    monkeypatch.setenv("TESSERA_WAREHOUSE", str(settings.warehouse_path))
    monkeypatch.setenv("TESSERA_ARTIFACTS", str(settings.artifacts_dir))
    monkeypatch.setattr(console, "width", 300)
    code = main(["sync", "--syncs-dir", str(tmp_path / "syncs"), "run", "crm", "--no-progress"])
    assert code == 1  # nothing delivered: the run failed, and no row was rejected
    out = capsys.readouterr().out
    assert "rejected" not in out
    [line] = [line for line in out.splitlines() if "NewConnectionError" in line]
    assert line.startswith("sync crm failed: nothing was delivered to destination hubspot")
    assert f"NewConnectionError talking to {url}/crm/v3/objects/contacts" in line


@pytest.mark.parametrize(
    "argv", [["plan", "crm", "--sample", "-1"], ["errors", "crm", "--limit", "-5"]]
)
def test_a_negative_row_count_is_refused_by_the_parser(
    tmp_path: Path, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["sync", "--syncs-dir", str(tmp_path), *argv])
    assert exited.value.code == 2
    assert "rows: use 0 to 1,000,000,000" in capsys.readouterr().err
