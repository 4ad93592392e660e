"""Two rows of a sync with one email are one HubSpot contact: one is sent, the other held back.

The sync's key (person_id) is unique, but a hand-written segment can give two persons one
email. HubSpot refuses, whole, a batch in which two inputs resolve to one contact (the
emulator does too), and across batches or runs the second row would overwrite the first's
contact. The plan holds such rows back in the warehouse: the row HubSpot already holds, or
else the first by key, is sent; the others are rejected with a message naming it, recorded
in tessera_sync.errors and planned again, so each goes out once its email is its own.
Real HubSpot emulator over HTTP, a real DuckDB file.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from retl_helpers import (
    SEGMENT,
    execute,
    hubspot_destination,
    hubspot_sync,
    live_contacts,
    query,
    run,
    sync_paths,
)

from reverse_etl.testing import EmulatorHandle
from tessera.settings import Settings

ERRORS = "select key, kind, error from tessera_sync.errors order by failed_at, key"


def _email_of(settings: Settings, person: str, email: str) -> None:
    execute(settings, f"update {SEGMENT} set email = '{email}' where person_id = '{person}'")


def test_rows_sharing_an_email_send_one_contact_and_hold_the_others_back(
    tmp_path: Path, settings: Settings, hubspot: EmulatorHandle
) -> None:
    # p0000011 and p0000012 take p0000010's email, in other cases and spacing
    _email_of(settings, "p0000011", " PERSON.10@example.COM")
    _email_of(settings, "p0000012", "person.10@example.com")
    paths = sync_paths(tmp_path, [hubspot_destination(hubspot.base_url)], [hubspot_sync()])
    result = run(settings, paths, "crm")

    assert result.status == "partial"
    assert result.plan.counts["held_back"] == 2
    consented = result.plan.counts["added"] + 2
    assert (result.stats.sent_ok, result.stats.rejected) == (consented - 2, 2)
    with hubspot.app.lock:
        refused = [r for r in hubspot.app.requests if r.status >= 400]
        creates = dict(hubspot.app.creates)
    assert not refused, "no batch was refused for naming one contact twice"
    assert max(creates.values()) == 1
    assert live_contacts(hubspot.app)["person.10@example.com"]["firstname"] == "First10"
    errors = query(settings, ERRORS)
    assert errors.key.tolist() == ["p0000011", "p0000012"]
    assert set(errors.kind) == {"added"}
    for message in errors.error:
        assert message.startswith("not sent: row 'p0000010' of this sync has the same email")
        assert "hubspot keeps one contact per email" in message
        assert "person.10" not in message.lower()  # the email itself is not repeated

    # the next run plans them again, and holds them back again: partial, not failed
    again = run(settings, paths, "crm")
    assert again.status == "partial" and again.plan.counts["retry"] == 0
    assert (again.stats.sent_ok, again.stats.rejected) == (0, 2)

    # once p0000012's email is its own, it goes out; p0000011 still waits
    _email_of(settings, "p0000012", "twelve@example.com")
    third = run(settings, paths, "crm")
    assert (third.stats.sent_ok, third.stats.rejected) == (1, 1)
    assert live_contacts(hubspot.app)["twelve@example.com"]["firstname"] == "First12"
    assert live_contacts(hubspot.app)["person.10@example.com"]["firstname"] == "First10"


def test_a_row_taking_an_email_hubspot_holds_for_another_row_is_held_back(
    tmp_path: Path, settings: Settings, hubspot: EmulatorHandle
) -> None:
    paths = sync_paths(tmp_path, [hubspot_destination(hubspot.base_url)], [hubspot_sync()])
    assert run(settings, paths, "crm").status == "success"
    contacts = live_contacts(hubspot.app)

    # a synced row changes to a synced row's email; a new row arrives with another's email
    _email_of(settings, "p0000020", "person.5@example.com")
    execute(
        settings,
        f"insert into {SEGMENT} select * replace ('p0002000' as person_id, "
        f"'Person.7@Example.com' as email) from {SEGMENT} where person_id = 'p0000021'",
    )
    execute(
        settings,
        "insert into profiles.customer_profiles select * replace ('p0002000' as person_id) "
        "from profiles.customer_profiles where person_id = 'p0000021'",
    )
    second = run(settings, paths, "crm")
    assert second.plan.counts["held_back"] == 2
    assert second.status == "partial", "nothing was refused by HubSpot"
    assert live_contacts(hubspot.app) == contacts, "no contact was overwritten or renamed"
    errors = query(settings, ERRORS)
    assert dict(zip(errors.key, errors.kind, strict=True)) == {
        "p0000020": "changed",
        "p0002000": "added",
    }
    assert "row 'p0000005'" in errors.error[errors.key == "p0000020"].iloc[0]
    assert "row 'p0000007'" in errors.error[errors.key == "p0002000"].iloc[0]


def test_the_cli_says_what_was_held_back_and_why(
    tmp_path: Path,
    settings: Settings,
    hubspot: EmulatorHandle,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from orchestration.cli import main
    from reverse_etl.cli import console

    monkeypatch.setenv("TESSERA_WAREHOUSE", str(settings.warehouse_path))
    monkeypatch.setenv("TESSERA_ARTIFACTS", str(settings.artifacts_dir))
    monkeypatch.setattr(console, "width", 200)
    _email_of(settings, "p0000011", "person.10@example.com")
    paths = sync_paths(tmp_path, [hubspot_destination(hubspot.base_url)], [hubspot_sync()])
    syncs = ["sync", "--syncs-dir", str(paths.syncs_dir)]
    assert main([*syncs, "plan", "crm"]) == 0
    assert "held back 1 (another row has their email)" in capsys.readouterr().out
    assert main([*syncs, "run", "crm", "--no-progress"]) == 3, "partial"
    out = capsys.readouterr().out
    assert "rejected 1 (1 held back before sending)" in out
    assert "1 x not sent: row 'p0000010' of this sync has the same email" in out


def test_erasing_a_held_back_person_leaves_the_contact_of_the_row_sent(
    tmp_path: Path, settings: Settings, hubspot: EmulatorHandle
) -> None:
    from reverse_etl.privacy import request_deletion
    from tessera.warehouse import Warehouse

    _email_of(settings, "p0000011", "person.10@example.com")
    paths = sync_paths(tmp_path, [hubspot_destination(hubspot.base_url)], [hubspot_sync()])
    assert run(settings, paths, "crm").stats.held_back == 1
    with Warehouse(settings).session() as session:
        request_deletion(session, "p0000011")
    erased = run(settings, paths, "crm")
    assert erased.stats.ok_by_kind.get("erased") == 1, "the person is forgotten"
    with hubspot.app.lock:
        gdpr_deleted = list(hubspot.app.gdpr_deleted)
    assert gdpr_deleted == [], "p0000010's contact, found by the shared email, is kept"
    assert live_contacts(hubspot.app)["person.10@example.com"]["firstname"] == "First10"
    state = query(settings, "select key from tessera_sync.state_crm where key = 'p0000011'")
    assert state.empty and query(settings, ERRORS).empty, "nothing of p0000011 is kept"

    # a person never held back, whom HubSpot holds, is still erased by the contact id
    with Warehouse(settings).session() as session:
        request_deletion(session, "p0000010")
    run(settings, paths, "crm")
    assert "person.10@example.com" not in live_contacts(hubspot.app)
