"""Meta audience add/remove, the signed webhook, and file export through the same engine."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest
from retl_helpers import (
    execute,
    expected_members,
    meta_destination,
    meta_sync,
    query,
    rows_received,
    run,
    sync_paths,
)

from reverse_etl.destinations.base import DestinationAuthError
from reverse_etl.hashing import hash_value
from reverse_etl.testing import EmulatorHandle
from tessera.settings import Settings


def members(meta: EmulatorHandle) -> set[tuple[str, ...]]:
    return set(meta.app.members.get("1234567890", set()))


def test_audience_add_remove_follows_segment_and_consent(
    tmp_path: Path, settings: Settings, meta: EmulatorHandle
) -> None:
    paths = sync_paths(tmp_path, [meta_destination(meta.base_url, batch_size=500)], [meta_sync()])
    first = run(settings, paths, "ads")
    assert members(meta) == expected_members(settings)
    assert first.stats.sent_ok == 1960
    assert all(r.rows <= 500 for r in meta.app.requests)

    # no raw email or phone ever left the warehouse: every value is a sha256 hex digest
    # (checked by the emulator, which counts anything else as invalid)
    assert not any(r.status >= 400 for r in meta.app.requests)

    # leave the segment, revoke ads consent, change a phone: removals and a re-add
    execute(settings, "delete from segments.test_audience where person_id < 'p0000010'")
    execute(
        settings,
        "update profiles.customer_profiles set consent_ads = false where person_id = 'p0000777'",
    )
    execute(
        settings,
        "update segments.test_audience set phone = '+44 20 7946 0958' where person_id = 'p0000778'",
    )
    second = run(settings, paths, "ads")
    assert second.plan.counts["removed"] == 9  # p0000000 never had consent
    assert second.plan.counts["suppressed"] == 1  # consent revoked: out, whatever the mode
    assert second.plan.counts["changed"] == 1
    assert members(meta) == expected_members(settings)
    old = (hash_value("email", "person.778@example.com"), hash_value("phone", "+14155550778"))
    assert old not in members(meta)

    before = len(meta.app.requests)
    assert run(settings, paths, "ads").plan.to_send == 0
    assert len(meta.app.requests) == before


def test_a_member_who_leaves_takes_no_identifier_a_staying_member_shares(
    tmp_path: Path, settings: Settings, meta: EmulatorHandle
) -> None:
    """Meta removes the user a removal's identifiers match, so the emulator removes every
    member sharing one: the removal must name only what no staying member holds."""
    consented = query(
        settings,
        "select s.person_id, s.email, s.phone from segments.test_audience s "
        "join profiles.customer_profiles p on p.person_id = s.person_id and p.consent_ads "
        "where s.email is not null and s.phone is not null order by s.person_id limit 6",
    )
    (stay, _, _), (leaves, _, _), (twin, twin_email, twin_phone), (copy, _, _), *couple = (
        consented.itertuples(index=False)
    )
    (moves, _, _), (partner, _, _) = couple
    for email, persons in (("family", (stay, leaves)), ("couple", (moves, partner))):
        execute(  # a shared email: one leaves, or changes phone; the other stays as it is
            settings,
            f"update segments.test_audience set email = '{email}@example.com' "
            f"where person_id in {persons}",
        )
    execute(  # a row with every identifier of a staying member
        settings,
        f"update segments.test_audience set email = '{twin_email}', phone = '{twin_phone}' "
        f"where person_id = '{copy}'",
    )
    paths = sync_paths(tmp_path, [meta_destination(meta.base_url)], [meta_sync()])
    run(settings, paths, "ads")
    assert members(meta) == expected_members(settings)
    leaving_phone = hash_value("phone", consented.phone[1])

    execute(
        settings, f"delete from segments.test_audience where person_id in ('{leaves}', '{copy}')"
    )
    execute(
        settings,
        f"update segments.test_audience set phone = '+1 415 555 0199' where person_id = '{moves}'",
    )
    before = len(meta.app.requests)
    second = run(settings, paths, "ads")
    assert members(meta) == expected_members(settings)  # family, twin and partner stay in
    assert second.plan.counts["removed"] == 2 and second.plan.counts["changed"] == 1
    assert second.plan.counts["narrowed"] == 3
    assert not any(leaving_phone in member for member in members(meta))
    removals = [r for r in meta.app.requests[before:] if r.method == "DELETE"]
    assert sum(r.rows for r in removals) == 2  # the copy's removal had nothing of its own
    state = query(settings, "select key from tessera_sync.state_ads").key.tolist()
    assert leaves not in state and copy not in state and twin in state and stay in state
    assert run(settings, paths, "ads").plan.to_send == 0


def test_audience_full_resync_never_removes(
    tmp_path: Path, settings: Settings, meta: EmulatorHandle
) -> None:
    paths = sync_paths(tmp_path, [meta_destination(meta.base_url)], [meta_sync()])
    run(settings, paths, "ads")
    execute(settings, "delete from segments.test_audience where person_id < 'p0000100'")
    before = len(meta.app.requests)
    resync = run(settings, paths, "ads", full_resync=True)
    assert resync.plan.counts["removed"] == 0
    assert resync.plan.counts["changed"] == len(expected_members(settings))
    assert rows_received(meta.app, since=before) == len(expected_members(settings))
    assert {r.method for r in meta.app.requests[before:]} == {"POST"}


def test_signed_webhook_delivers_and_rejects_bad_rows(
    tmp_path: Path, settings: Settings, webhook: EmulatorHandle
) -> None:
    destination = {
        "name": "hook",
        "type": "webhook",
        "base_url": webhook.base_url + "/hooks/tessera",
        "credentials": {"signing_secret": "TEST_WEBHOOK_SECRET"},
        "batch_size": 250,
    }
    sync = {
        "name": "hooked",
        "segment": "test_audience",
        "destination": "hook",
        "object": "people",
        "mode": "mirror",
        "mapping": {"email": "email", "name": "first_name"},
    }
    execute(
        settings,
        "update segments.test_audience set email = 'broken' where person_id = 'p0000005'",
    )
    paths = sync_paths(tmp_path, [destination], [sync])
    result = run(settings, paths, "hooked")
    assert result.stats.sent_ok == 1999 and result.stats.rejected == 1
    assert len(webhook.app.records) == 1999
    assert query(settings, "select key from tessera_sync.errors").key.tolist() == ["p0000005"]
    execute(settings, "delete from segments.test_audience where person_id < 'p0000100'")
    run(settings, paths, "hooked")
    assert len(webhook.app.records) == 1900


def test_webhook_with_wrong_secret_is_refused_and_the_secret_never_shows(
    tmp_path: Path, settings: Settings, webhook: EmulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_WEBHOOK_SECRET", "a-different-secret-value")
    destination = {
        "name": "hook",
        "type": "webhook",
        "base_url": webhook.base_url,
        "credentials": {"signing_secret": "TEST_WEBHOOK_SECRET"},
    }
    sync = {
        "name": "hooked",
        "segment": "test_audience",
        "destination": "hook",
        "object": "people",
        "mapping": {"email": "email"},
    }
    paths = sync_paths(tmp_path, [destination], [sync])
    with pytest.raises(DestinationAuthError) as err:
        run(settings, paths, "hooked")
    assert "a-different-secret-value" not in str(err.value)
    runs = query(settings, "select status, error from tessera_sync.runs")
    assert runs.status[0] == "failed" and "401" in runs.error[0]
    assert "a-different-secret-value" not in runs.error[0]
    assert webhook.app.records == {}


@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl"])
def test_file_export_writes_every_row_once(tmp_path: Path, settings: Settings, fmt: str) -> None:
    out = tmp_path / "exports"
    destination = {
        "name": "files",
        "type": "file",
        "base_url": f"file://{out}",
        "batch_size": 700,
        "options": {"format": fmt},
    }
    sync = {
        "name": "export",
        "segment": "test_audience",
        "destination": "files",
        "object": "people",
        "mode": "mirror",
        "mapping": {"email": "email", "first_name": "first_name"},
        "consent": "email",
    }
    paths = sync_paths(tmp_path, [destination], [sync])
    run(settings, paths, "export")
    files = sorted((out / "export").glob(f"*.{fmt}"))
    assert len(files) == 3  # 1,960 rows in batches of 700
    keys: list[str] = []
    for path in files:
        if fmt == "csv":
            keys += pa_csv.read_csv(path).column("_key").to_pylist()
        elif fmt == "parquet":
            keys += pq.read_table(path).column("_key").to_pylist()
        else:
            keys += [json.loads(line)["_key"] for line in path.read_text().splitlines()]
    assert len(keys) == len(set(keys)) == 1960
    assert not list((out / "export").glob("*.partial"))
