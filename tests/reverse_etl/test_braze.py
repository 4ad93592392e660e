"""Braze against its emulator: request shape and limits, consent as subscription state,
email-keyed users, upsert vs mirror removals, rate limit, config validation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import urllib3
from more_destination_cases import (
    BRAZE_GROUP,
    BRAZE_KEY,
    ENV,
    braze_actual,
    braze_destination,
    braze_expected,
    braze_sync,
)
from retl_helpers import SEGMENT, execute, run, sync_paths, write_config

from reverse_etl.config import Catalog, ConfigError
from reverse_etl.testing import EmulatorHandle, start_emulator
from tessera.settings import Settings


@pytest.fixture
def braze(monkeypatch: pytest.MonkeyPatch) -> Iterator[EmulatorHandle]:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    with start_emulator("braze", token=BRAZE_KEY) as handle:
        yield handle


def track(handle: EmulatorHandle, body: dict) -> tuple[int, dict]:
    response = urllib3.request(
        "POST",
        f"{handle.base_url}/users/track",
        body=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {BRAZE_KEY}", "Content-Type": "application/json"},
    )
    return response.status, json.loads(response.data)


def test_users_get_attributes_and_consent_as_subscription_state(
    tmp_path: Path, settings: Settings, braze: EmulatorHandle
) -> None:
    paths = sync_paths(tmp_path, [braze_destination(braze.base_url)], [braze_sync()])
    result = run(settings, paths, "braze")
    assert result.status == "success" and result.stats.sent_ok == 1960
    assert result.stats.calls == 27  # ceil(1960 / 75)
    assert max(r.rows for r in braze.app.requests) == 75
    user = braze.app.users[("external_id", "p0000001")]
    assert user["email_subscribe"] == "opted_in" and user["first_name"] == "First1"
    assert ("external_id", "p0000050") not in braze.app.users  # no email consent: never sent
    assert braze_actual(braze.app) == braze_expected(settings)


def test_upsert_mode_keeps_leavers_and_mirror_unsubscribes_them(
    tmp_path: Path, settings: Settings, braze: EmulatorHandle
) -> None:
    paths = sync_paths(tmp_path, [braze_destination(braze.base_url)], [braze_sync(mode="upsert")])
    run(settings, paths, "braze")
    execute(settings, f"delete from {SEGMENT} where person_id < 'p0000010'")
    leavers = run(settings, paths, "braze")
    assert leavers.plan.counts["removed"] == 0 and len(braze_actual(braze.app)) == 1960

    braze.app.users.clear()
    braze.app.groups.clear()
    paths = sync_paths(tmp_path, [braze_destination(braze.base_url)], [braze_sync(name="m")])
    run(settings, paths, "m")
    execute(settings, f"delete from {SEGMENT} where person_id < 'p0000020'")
    mirrored = run(settings, paths, "m")
    assert mirrored.plan.counts["removed"] == 10 and mirrored.stats.sent_ok == 10
    assert braze_actual(braze.app) == braze_expected(settings)
    assert ("external_id", "p0000015") in braze.app.users  # unsubscribed, never deleted


def test_email_keyed_users_move_their_subscription_when_the_email_changes(
    tmp_path: Path, settings: Settings, braze: EmulatorHandle
) -> None:
    sync = braze_sync(mapping={"email": "email", "first_name": "first_name"})
    paths = sync_paths(tmp_path, [braze_destination(braze.base_url)], [sync])
    run(settings, paths, "braze")
    assert ("email", "Person.1@Example.com") in braze.app.users  # keyed by the email as trimmed
    execute(
        settings, f"update {SEGMENT} set email = 'new.1@example.com' where person_id = 'p0000001'"
    )
    assert run(settings, paths, "braze").stats.sent_ok == 1
    members = braze.app.groups[BRAZE_GROUP]
    assert ("email", "new.1@example.com") in members
    assert ("email", "Person.1@Example.com") not in members


def test_emulator_enforces_75_objects_and_reports_minor_errors(braze: EmulatorHandle) -> None:
    attributes = [{"external_id": f"u{i}", "first_name": "A"} for i in range(50)]
    events = [{"external_id": "u1", "name": "e", "time": "2026-01-01T00:00:00Z"}] * 26
    status, body = track(braze, {"attributes": attributes, "events": events})
    assert status == 400 and "75" in body["message"]
    status, body = track(
        braze,
        {"attributes": [{"external_id": "a", "email": "bad"}, {"external_id": "b"}, {"email": ""}]},
    )
    assert status == 201 and body["attributes_processed"] == 1
    assert [(e["input_array"], e["index"]) for e in body["errors"]] == [
        ("attributes", 0),
        ("attributes", 2),
    ]
    status, body = track(braze, {"attributes": [{"external_id": "a", "email_subscribe": "yes"}]})
    assert status == 400 and body["errors"][0]["index"] == 0


def test_rate_limit_answers_429_and_the_sync_waits_it_out(
    tmp_path: Path, settings: Settings, braze: EmulatorHandle
) -> None:
    braze.app.faults.rate_limit_requests = 10
    braze.app.faults.rate_limit_window_seconds = 0.3
    paths = sync_paths(tmp_path, [braze_destination(braze.base_url)], [braze_sync()])
    result = run(settings, paths, "braze")
    assert result.status == "success" and result.stats.rate_limited > 0
    assert result.stats.rejected == 0
    assert braze_actual(braze.app) == braze_expected(settings)


@pytest.mark.parametrize(
    ("override", "words"),
    [
        ({"object": "accounts"}, "braze syncs `users`"),
        ({"mapping": {"first_name": "first_name"}}, "needs `external_id`"),
        ({"options": {}}, "needs the group's id"),
        ({"mapping": {"external_id": "person_id", "email_subscribe": "email"}}, "do not map"),
        ({"hashing": {"external_id": "sha256"}}, "plain external_id"),
    ],
)
def test_bad_braze_syncs_are_refused_naming_the_field(
    tmp_path: Path, override: dict, words: str
) -> None:
    syncs_dir = write_config(
        tmp_path / "syncs", [braze_destination("http://x")], [braze_sync(**override)]
    )
    with pytest.raises(ConfigError, match=words):
        Catalog.load(syncs_dir)
