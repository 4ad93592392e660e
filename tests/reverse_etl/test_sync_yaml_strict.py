"""Sync and destination files are read strictly: each mistake a CLI probe found is one line
with file:line:column, and a URL's password is never echoed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from reverse_etl.config import ConfigError, load_destinations, load_syncs
from tessera.settings import DBT_PROJECT_DIR

STARTER = DBT_PROJECT_DIR / "syncs"


@pytest.fixture
def syncs(tmp_path: Path) -> Path:
    shutil.copytree(STARTER, tmp_path / "syncs")
    return tmp_path / "syncs"


def _edit(path: Path, old: bytes, new: bytes) -> None:
    data = path.read_bytes()
    assert old in data
    path.write_bytes(data.replace(old, new, 1))


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        # the last key silently won: a sync written as upsert would mirror (and delete)
        (
            b"    mode: upsert\n",
            b"    mode: upsert\n    mode: mirror\n",
            ":10:5: not valid YAML: key 'mode' appears twice in one mapping (first on line 9)",
        ),
        (
            b"    object: contacts\n",
            b"    object: 2024-02-30\n",
            ":8:13: not valid YAML: '2024-02-30' is not a date (day is out of range for month)",
        ),
        (b"country: country", b"country: countr\xe9", ":15:22: not UTF-8 (byte 0xe9)"),
        (
            b"    mapping:\n",
            b"    mapping: [\n",
            ":12:16: not valid YAML: expected ',' or ']', but got ':' (while parsing a flow "
            "sequence that began at line 10, column 14)",
        ),
    ],
)
def test_a_mistake_in_a_sync_file_is_one_line_with_its_place(
    syncs: Path, old: bytes, new: bytes, message: str
) -> None:
    path = syncs / "starter_syncs.yml"
    _edit(path, old, new)
    with pytest.raises(ConfigError) as raised:
        load_syncs([path])
    assert str(raised.value).startswith(f"{path}{message}"), raised.value
    assert "\n" not in str(raised.value)


def test_deep_nesting_is_a_configuration_error_not_a_crash(syncs: Path) -> None:
    path = syncs / "starter_syncs.yml"
    path.write_text("syncs: " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(ConfigError, match="nested too deeply to read"):
        load_syncs([path])


def test_a_password_in_a_base_url_is_never_echoed(
    syncs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = syncs / "destinations.yml"
    _edit(path, b"https://api.hubapi.com", b"ftp://admin:hunter2pw@api.hubapi.com")
    with pytest.raises(ConfigError) as raised:
        load_destinations(path)
    assert "hunter2pw" not in str(raised.value) and "'ftp://***@api.hubapi.com'" in str(
        raised.value
    )

    shutil.copy(STARTER / "destinations.yml", path)
    hubspot = load_destinations(path)["hubspot"]
    monkeypatch.setenv("TESSERA_HUBSPOT_BASE_URL", "gopher://bob:s3cr3tpass@x")
    with pytest.raises(ConfigError) as raised:
        hubspot.resolved_base_url()
    assert "s3cr3tpass" not in str(raised.value) and "gopher://***@x" in str(raised.value)
