"""Deletion requests, revoked consent and experiment holdouts: one suppression in the plan.

- A deletion request or a consent revocation takes the person out of every destination of
  the demo on the next run (asserted on the HubSpot and Meta emulators), out of sync state
  and `tessera_sync.errors`, and leaves an audit row without PII.
- In every mode, holdout members are never sent, and are removed where the mode removes.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from retl_helpers import (
    REJECTED,
    WEBHOOK_SECRET,
    demo_warehouse,
    execute,
    person_frame,
    query,
    run,
    settings_for,
    sync_paths,
)

from reverse_etl.__main__ import main
from reverse_etl.hashing import hash_value
from reverse_etl.planner import PlanError
from reverse_etl.privacy import request_deletion
from reverse_etl.runner import SyncPaths
from reverse_etl.testing import EmulatorHandle
from tessera.settings import Settings
from tessera.warehouse import Warehouse

DEMO_SYNCS = (
    "hubspot_lapsed_vips",
    "hubspot_churn_risk",
    "meta_churn_risk",
    "meta_suppress_recent_buyers",
)
ERASED, REVOKED = "p0000600", "p0000601"


def meta_member(person: str) -> tuple[str, str]:
    i = int(person[1:])
    phone = f"+1 (415) 555-{i % 10000:04d}" if i % 7 else None
    email = f"Person.{i}@Example.com "
    return (hash_value("email", email) or "", hash_value("phone", phone) or "")


def test_deletion_request_and_consent_revocation_reach_every_demo_destination(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from reverse_etl.demo import demo_destinations

    settings = settings_for(tmp_path)
    demo_warehouse(settings)
    monkeypatch.setenv("TESSERA_WAREHOUSE", str(settings.warehouse_path))
    monkeypatch.setenv("TESSERA_ARTIFACTS", str(settings.artifacts_dir))
    paths = SyncPaths.default(settings)
    caplog.set_level(logging.DEBUG)
    with demo_destinations() as dest:
        for name, value in dest.env.items():
            monkeypatch.setenv(name, value)

        def sync_all() -> dict[str, Any]:
            return {n: run(settings, paths, n, env=dest.env, origin="test") for n in DEMO_SYNCS}

        sync_all()
        hubspot, meta = dest.hubspot.app, dest.meta.app
        erased_email, revoked_email = "person.600@example.com", "person.601@example.com"
        assert {erased_email, revoked_email} <= set(hubspot.contacts)
        audiences = list(meta.members)
        assert len(audiences) == 2
        for audience in audiences:
            assert {meta_member(ERASED), meta_member(REVOKED)} <= meta.members[audience]
        errors = query(settings, "select key from tessera_sync.errors")
        assert set(errors.key) == {REJECTED}  # HubSpot refused the invalid email, twice

        assert main(["sync", "forget", ERASED, "--request-id", "dsr-1"]) == 0
        assert main(["sync", "forget", REJECTED]) == 0
        execute(
            settings,
            "update profiles.customer_profiles set consent_email = false, consent_ads = false "
            f"where person_id = '{REVOKED}'",
        )
        second = sync_all()

        assert second["hubspot_lapsed_vips"].plan.counts["erased"] == 2  # incl. the rejected
        assert second["hubspot_lapsed_vips"].plan.counts["suppressed"] == 1
        assert erased_email not in hubspot.contacts and erased_email in hubspot.gdpr_deleted
        assert revoked_email not in hubspot.contacts and revoked_email in hubspot.archived
        for audience in audiences:
            assert meta_member(ERASED) not in meta.members[audience]
            assert meta_member(REVOKED) not in meta.members[audience]
        # they are still in every segment, yet a third run sends them nothing
        received = (sum(hubspot.received.values()), sum(meta.received.values()))
        assert all(r.plan.to_send == 0 for r in sync_all().values())
        assert (sum(hubspot.received.values()), sum(meta.received.values())) == received

    people = (ERASED, REVOKED, REJECTED)
    for name in DEMO_SYNCS:
        state = query(settings, f"select key from tessera_sync.state_{name}")
        assert not set(state.key) & set(people), name
    assert query(settings, "select count(*) as n from tessera_sync.errors").n[0] == 0
    audit = query(
        settings, "select sync_name, kind, person_id, key_sha256 from tessera_sync.privacy_audit"
    )
    assert sorted(audit[audit.person_id == ERASED].sync_name) == sorted(DEMO_SYNCS)
    assert set(audit[audit.person_id == REVOKED].kind) == {"suppressed"}
    assert set(audit[audit.person_id == ERASED].kind) == {"erased"}
    assert audit.to_csv().count("@") == 0  # no email (the key is only kept hashed)
    requests = query(settings, "select request_id, person_id from privacy.deletion_requests")
    assert "dsr-1" in set(requests.request_id)
    for email in ("person.600@example.com", "Person.600@Example.com", "not-an-email"):
        assert email not in caplog.text


def test_a_deletion_request_follows_identity_merges(
    tmp_path: Path, settings: Settings, webhook: EmulatorHandle
) -> None:
    paths = sync_paths(tmp_path, [webhook_destination(webhook)], [webhook_sync("hooked")])
    run(settings, paths, "hooked")
    with Warehouse(settings).session() as s:
        s.write_df(
            pd.DataFrame({"old_person_id": ["gone-1"], "person_id": ["p0000401"]}),
            "identity",
            "person_merges",
            mode="replace",
        )
        s.write_df(
            pd.DataFrame({"request_id": ["r1"], "person_id": ["gone-1"]}),
            "privacy",
            "deletion_requests",
            mode="replace",
        )
    result = run(settings, paths, "hooked")
    assert result.plan.counts["erased"] == 1
    assert "p0000401" in webhook.app.erased and "p0000401" not in webhook.app.records


def test_suppression_needs_the_person_column(
    tmp_path: Path, settings: Settings, webhook: EmulatorHandle
) -> None:
    execute(settings, "create table segments.no_person as select email from segments.test_audience")
    execute(settings, "create schema privacy")
    execute(settings, "create table privacy.deletion_requests (person_id varchar)")
    sync = {**webhook_sync("keyless"), "segment": "no_person", "primary_key": "email"}
    sync.pop("consent")
    paths = sync_paths(tmp_path, [webhook_destination(webhook)], [sync])
    with pytest.raises(PlanError, match="no column person_id.*privacy.deletion_requests"):
        run(settings, paths, "keyless")
    assert webhook.app.requests == []


def test_only_a_sync_an_experiment_names_needs_the_person_column(
    tmp_path: Path, settings: Settings, webhook: EmulatorHandle
) -> None:
    """The experiments models always build sync_holdouts: its existence alone must not stop
    a segment without person ids; holdouts naming the sync must."""
    execute(
        settings,
        "create table segments.no_person as select email, first_name from segments.test_audience",
    )
    sync = {**webhook_sync("keyless"), "segment": "no_person", "primary_key": "email"}
    sync.pop("consent")
    paths = sync_paths(tmp_path, [webhook_destination(webhook)], [sync])
    create_holdouts(settings, "some_sync", ["p0000001"])
    assert run(settings, paths, "keyless").stats.sent_ok == 2000
    create_holdouts(settings, "keyless", ["p0000001"])
    with pytest.raises(PlanError, match="no column person_id.*experiments.sync_holdouts"):
        run(settings, paths, "keyless")


# --- holdouts, every mode ------------------------------------------------------------------


def webhook_destination(webhook: EmulatorHandle) -> dict[str, Any]:
    return {
        "name": "hook",
        "type": "webhook",
        "base_url": webhook.base_url,
        "credentials": {"signing_secret": "TEST_WEBHOOK_SECRET"},
        "batch_size": 200,
    }


def webhook_sync(name: str, mode: str = "upsert") -> dict[str, Any]:
    return {
        "name": name,
        "segment": "test_audience",
        "destination": "hook",
        "object": "people",
        "mode": mode,
        "mapping": {"email": "email", "first_name": "first_name"},
        "consent": "email",
    }


def create_holdouts(settings: Settings, sync_name: str, persons: list[str]) -> None:
    """The relation the experiments models produce (issue 18's contract), made by hand."""
    rows = pd.DataFrame(
        {
            "sync_name": [sync_name] * len(persons) + ["some_other_sync"] * 3,
            "person_id": persons + ["p0000001", "p0000002", "p0000003"],
            "experiment": "exp_holdout",
            "arm": "holdout",
        }
    )
    with Warehouse(settings).session() as s:
        s.write_df(rows, "experiments", "sync_holdouts", mode="replace")


MODES = ("upsert", "update", "insert", "mirror", "add_remove")
SENT_BEFORE = [f"p{i:07d}" for i in range(101, 121)]  # in the segment, consented
NEVER_SENT = [f"p{i:07d}" for i in range(1500, 1520)]


@pytest.mark.parametrize("mode", MODES)
def test_holdouts_are_never_sent_and_leave_where_the_mode_removes(
    tmp_path: Path, settings: Settings, webhook: EmulatorHandle, mode: str
) -> None:
    app = webhook.app
    # `update` only touches what exists: a first upsert sync creates the records
    paths = sync_paths(
        tmp_path,
        [webhook_destination(webhook)],
        [webhook_sync("held", mode), webhook_sync("seed", "upsert")],
    )
    execute(settings, "delete from segments.test_audience where person_id >= 'p0001500'")
    run(settings, paths, "seed" if mode == "update" else "held")
    if mode == "update":
        run(settings, paths, "held")
    assert set(SENT_BEFORE) <= set(app.records)

    with Warehouse(settings).session() as s:  # persons who join the segment only now
        s.write_df(person_frame(20, start=1500), "segments", "test_audience")
    create_holdouts(settings, "held", SENT_BEFORE + NEVER_SENT)
    execute(  # the held-out persons also change: still nothing may be sent for them
        settings,
        "update segments.test_audience set first_name = 'Changed' "
        "where person_id between 'p0000100' and 'p0000130'",
    )
    writes_before = Counter(app.received)
    result = run(settings, paths, "held")

    held = SENT_BEFORE + NEVER_SENT
    assert all(app.received[p] == writes_before[p] for p in held), mode  # nothing written
    assert not set(NEVER_SENT) & set(app.records)
    removing = mode in ("mirror", "add_remove")
    assert result.plan.counts["removed"] == (len(SENT_BEFORE) if removing else 0)
    if removing:
        assert all(app.removals_received[p] == 1 for p in SENT_BEFORE)
        assert not set(SENT_BEFORE) & set(app.records)
    else:
        assert set(SENT_BEFORE) <= set(app.records)
        assert all(app.records[p]["first_name"] != "Changed" for p in SENT_BEFORE)
    # persons outside the holdout still get their change; another sync's holdout is ignored
    if mode != "insert":
        assert app.records["p0000125"]["first_name"] == "Changed"
    assert "p0000001" in app.records
    assert query(settings, "select count(*) as n from tessera_sync.privacy_audit").n[0] == 0
    assert run(settings, paths, "held").plan.to_send == 0


def test_holdouts_apply_to_audiences_from_the_first_run(
    tmp_path: Path, settings: Settings, meta: EmulatorHandle
) -> None:
    from retl_helpers import meta_destination, meta_sync

    create_holdouts(settings, "ads", SENT_BEFORE)
    paths = sync_paths(tmp_path, [meta_destination(meta.base_url)], [meta_sync()])
    result = run(settings, paths, "ads")
    assert result.stats.sent_ok == 1960 - len(SENT_BEFORE)
    members = meta.app.members["1234567890"]
    assert not {meta_member(p) for p in SENT_BEFORE} & members
    assert meta_member("p0000121") in members


def test_webhook_rows_carry_stable_event_ids_so_resends_are_absorbed(
    tmp_path: Path, settings: Settings, webhook: EmulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_WEBHOOK_SECRET", WEBHOOK_SECRET)
    paths = sync_paths(tmp_path, [webhook_destination(webhook)], [webhook_sync("hooked")])
    run(settings, paths, "hooked")
    applied = len(webhook.app.applied_events)
    execute(settings, "delete from tessera_sync.state_hooked where key < 'p0000300'")
    run(settings, paths, "hooked")  # as if those acknowledgements had been lost in a crash
    assert webhook.app.duplicates == 294  # 300 minus the 6 persons without consent
    assert len(webhook.app.applied_events) == applied
    assert len(set(webhook.app.idempotency_keys)) == len(webhook.app.idempotency_keys)


@pytest.mark.parametrize("mode", MODES)
def test_erasure_and_revoked_consent_remove_the_person_in_every_mode(
    tmp_path: Path, settings: Settings, webhook: EmulatorHandle, mode: str
) -> None:
    app = webhook.app
    paths = sync_paths(
        tmp_path,
        [webhook_destination(webhook)],
        [webhook_sync("privy", mode), webhook_sync("seed", "upsert")],
    )
    run(settings, paths, "seed" if mode == "update" else "privy")
    if mode == "update":
        run(settings, paths, "privy")
    gone, revoked = "p0000111", "p0000112"
    assert {gone, revoked} <= set(app.records)
    with Warehouse(settings).session() as s:
        request_deletion(s, gone)
    execute(
        settings,
        "update profiles.customer_profiles set consent_email = false "
        f"where person_id = '{revoked}'",
    )
    removals_before = Counter(app.removals_received)
    result = run(settings, paths, "privy")
    assert (result.plan.counts["erased"], result.plan.counts["suppressed"]) == (1, 1), mode
    assert not {gone, revoked} & set(app.records)
    assert gone in app.erased and revoked not in app.erased  # suppressed, not erased
    assert app.removals_received - removals_before == Counter({gone: 1, revoked: 1})
    assert run(settings, paths, "privy").plan.to_send == 0
    state = query(settings, "select key from tessera_sync.state_privy")
    assert not {gone, revoked} & set(state.key)
