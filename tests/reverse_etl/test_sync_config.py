"""Sync and destination YAML: validation errors name the file and field; secrets stay secret."""

from __future__ import annotations

from pathlib import Path

import pytest
from retl_helpers import (
    hubspot_destination,
    hubspot_sync,
    meta_destination,
    meta_sync,
    write_config,
)

from reverse_etl.config import Catalog, ConfigError, load_destinations
from reverse_etl.cron import validate_cron


def catalog(tmp_path: Path, destinations: list[dict], syncs: list[dict]) -> Catalog:
    return Catalog.load(write_config(tmp_path / "syncs", destinations, syncs))


def test_valid_definitions_load_with_defaults(tmp_path: Path) -> None:
    cat = catalog(
        tmp_path,
        [hubspot_destination("http://x"), meta_destination("http://y")],
        [hubspot_sync(), meta_sync()],
    )
    crm = cat.sync("crm")
    assert crm.segment == "segments.test_audience"
    assert crm.key_columns == ["person_id"] and crm.mode == "upsert" and not crm.removes
    assert cat.sync("ads").removes
    assert cat.destination_for(crm).type == "hubspot"


@pytest.mark.parametrize(
    ("override", "field", "words"),
    [
        ({"mode": "sideways"}, "mode", "upsert"),
        ({"schedule": "61 * * * *"}, "schedule", "minute"),
        ({"schedule": "every hour"}, "schedule", "5 fields"),
        ({"mapping": {}}, "mapping", "at least one"),
        ({"consent": "fax"}, "consent", "email"),
        ({"name": "Bad-Name"}, "name", "lower-case"),
        ({"segment": "a.b.c"}, "segment", "schema.table"),
        ({"mapping": {"email": "email; drop table x"}}, "mapping", "identifier"),
        ({"surprise": 1}, "surprise", "Extra inputs"),
    ],
)
def test_bad_sync_field_is_named_with_its_file(
    tmp_path: Path, override: dict, field: str, words: str
) -> None:
    with pytest.raises(ConfigError) as err:
        catalog(tmp_path, [hubspot_destination("http://x")], [hubspot_sync(**override)])
    message = str(err.value)
    assert str(tmp_path / "syncs" / "syncs.yml") in message
    assert f".{field}" in message and words in message


def test_cross_checks_name_the_sync_and_field(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"crm.*field `destination`.*'nowhere'"):
        catalog(tmp_path, [hubspot_destination("http://x")], [hubspot_sync(destination="nowhere")])
    with pytest.raises(
        ConfigError, match=r"field `mode`: 'add_remove' is not supported by hubspot"
    ):
        catalog(tmp_path, [hubspot_destination("http://x")], [hubspot_sync(mode="add_remove")])
    with pytest.raises(ConfigError, match=r"`hashing`: PHONE_SHA256 must be `phone`"):
        catalog(
            tmp_path,
            [meta_destination("http://y")],
            [meta_sync(hashing={"EMAIL_SHA256": "email"})],
        )
    with pytest.raises(ConfigError, match=r"needs an `email` entry"):
        catalog(tmp_path, [hubspot_destination("http://x")], [hubspot_sync(mapping={"a": "b"})])


def test_duplicate_sync_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="already defined"):
        catalog(tmp_path, [hubspot_destination("http://x")], [hubspot_sync(), hubspot_sync()])


def test_credentials_must_be_env_var_names_not_values(tmp_path: Path) -> None:
    bad = hubspot_destination("http://x", credentials={"token": "pat-na1-abc123"})
    with pytest.raises(ConfigError) as err:
        catalog(tmp_path, [bad], [hubspot_sync()])
    assert "credentials" in str(err.value) and "NAME of an environment variable" in str(err.value)


def test_secret_values_come_from_env_and_never_render(tmp_path: Path) -> None:
    write_config(tmp_path / "syncs", [hubspot_destination("http://x")], [])
    dest = load_destinations(tmp_path / "syncs" / "destinations.yml")["hubspot"]
    secret = "pat-na1-super-secret-value"
    secrets = dest.secrets({"TEST_HUBSPOT_TOKEN": secret})
    assert secrets["token"].get_secret_value() == secret
    assert secret not in repr(secrets) and secret not in str(secrets) and secret not in repr(dest)
    with pytest.raises(ConfigError) as err:
        dest.secrets({})
    assert "TEST_HUBSPOT_TOKEN" in str(err.value)


def test_unknown_destination_type_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"destinations\[0\] \(hubspot\)\.type: unknown"):
        catalog(tmp_path, [hubspot_destination("http://x", type="fax")], [])
    write_config(tmp_path / "syncs", [hubspot_destination("http://x")], [])
    (tmp_path / "syncs" / "syncs.yml").write_text("syncs: [unclosed")
    with pytest.raises(ConfigError, match=r"syncs.yml:1:\d+: not valid YAML"):
        Catalog.load(tmp_path / "syncs")


def test_batch_size_above_vendor_limit_is_refused(tmp_path: Path) -> None:
    from reverse_etl.destinations import build_destination

    cat = catalog(tmp_path, [hubspot_destination("http://x", batch_size=500)], [hubspot_sync()])
    with pytest.raises(ConfigError, match="batch_size.*500 exceeds the hubspot limit of 100"):
        build_destination(cat.destinations["hubspot"], cat.sync("crm"), {"TEST_HUBSPOT_TOKEN": "t"})


@pytest.mark.parametrize(
    "good", ["*/15 * * * *", "0 6 * * mon-fri", "@daily", "5,35 0-23/2 1 jan *"]
)
def test_valid_cron(good: str) -> None:
    validate_cron(good)
