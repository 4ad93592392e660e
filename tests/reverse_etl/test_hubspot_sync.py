"""The engine against the HubSpot emulator: diff only, modes, faults, rejections, consent."""

from __future__ import annotations

from pathlib import Path

import pytest
from retl_helpers import (
    execute,
    expected_contacts,
    hubspot_destination,
    hubspot_sync,
    live_contacts,
    query,
    rows_received,
    run,
    sync_paths,
)

from reverse_etl.destinations.base import AllRowsRejectedError, DestinationDownError
from reverse_etl.testing import EmulatorHandle
from tessera.settings import Settings


def test_state_equals_segment_and_unchanged_rerun_sends_nothing(
    tmp_path: Path, settings: Settings, hubspot: EmulatorHandle
) -> None:
    paths = sync_paths(tmp_path, [hubspot_destination(hubspot.base_url)], [hubspot_sync()])
    first = run(settings, paths, "crm")
    expected = expected_contacts(settings)
    assert first.status == "success"
    assert first.plan.counts["added"] == len(expected) == 1960
    assert live_contacts(hubspot.app) == expected
    assert all(n <= 100 for n in (r.rows for r in hubspot.app.requests))

    before = len(hubspot.app.requests)
    second = run(settings, paths, "crm")
    assert second.plan.to_send == 0
    assert len(hubspot.app.requests) == before  # not a single request
    assert live_contacts(hubspot.app) == expected

    state = query(settings, "select status, count(*) n from tessera_sync.state_crm group by 1")
    assert dict(state.itertuples(index=False)) == {"synced": 1960}
    runs = query(settings, "select status, sent_ok from tessera_sync.runs order by started_at")
    assert list(runs.itertuples(index=False, name=None)) == [("success", 1960), ("success", 0)]


def test_one_percent_change_sends_exactly_that_one_percent(
    tmp_path: Path, settings: Settings, hubspot: EmulatorHandle
) -> None:
    paths = sync_paths(tmp_path, [hubspot_destination(hubspot.base_url)], [hubspot_sync()])
    run(settings, paths, "crm")
    # 20 of 2,000 persons (1%) change a mapped column, plus 5 consented-out persons.
    execute(
        settings,
        "update segments.test_audience set first_name = first_name || '-changed' "
        "where cast(substr(person_id, 2) as integer) % 100 in (1, 50) "
        "and cast(substr(person_id, 2) as integer) < 2000",
    )
    execute(
        settings,
        "update segments.test_audience set first_name = 'x' "
        "where person_id in ('p0000000', 'p0000100', 'p0000200', 'p0000300', 'p0000400')",
    )
    changed_consented = 20  # i % 100 == 50 are multiples of 50: consented out
    # ...and an unmapped column changes for everyone: it must not count as a change
    execute(settings, "update segments.test_audience set lifecycle_stage = 'x'")
    before = len(hubspot.app.requests)
    result = run(settings, paths, "crm")
    assert result.plan.counts["changed"] == changed_consented
    assert result.plan.to_send == changed_consented
    assert rows_received(hubspot.app, since=before) == changed_consented
    assert live_contacts(hubspot.app) == expected_contacts(settings)
    assert max(hubspot.app.creates.values()) == 1  # updates, never re-creates


def test_consented_out_person_is_never_sent(
    tmp_path: Path, settings: Settings, hubspot: EmulatorHandle
) -> None:
    paths = sync_paths(tmp_path, [hubspot_destination(hubspot.base_url)], [hubspot_sync()])
    run(settings, paths, "crm")
    execute(settings, "update segments.test_audience set first_name = 'changed'")
    run(settings, paths, "crm", full_resync=True)
    never = {f"person.{i}@example.com" for i in range(0, 2000, 50)}
    assert never.isdisjoint(hubspot.app.creates)
    assert never.isdisjoint(hubspot.app.contacts)


def test_consent_needs_profiles_unless_sync_declares_no_purpose(
    tmp_path: Path, settings: Settings, hubspot: EmulatorHandle
) -> None:
    execute(settings, "drop table profiles.customer_profiles")
    paths = sync_paths(
        tmp_path,
        [hubspot_destination(hubspot.base_url)],
        [hubspot_sync(), hubspot_sync(name="no_purpose", consent=None)],
    )
    with pytest.raises(Exception, match="profiles.customer_profiles") as err:
        run(settings, paths, "crm")
    assert type(err.value).__name__ == "PlanError"
    assert run(settings, paths, "no_purpose").stats.sent_ok == 2000


def test_a_segment_with_a_duplicated_key_is_refused_before_anything_is_sent(
    tmp_path: Path, settings: Settings, hubspot: EmulatorHandle
) -> None:
    execute(
        settings,
        "insert into segments.test_audience select * replace ('dup.' || email as email) "
        "from segments.test_audience where person_id = 'p0000007'",
    )
    paths = sync_paths(tmp_path, [hubspot_destination(hubspot.base_url)], [hubspot_sync()])
    with pytest.raises(Exception, match="several rows for one key .*e.g. 'p0000007';"):
        run(settings, paths, "crm")
    assert not hubspot.app.requests, "nothing sent"
    execute(settings, "delete from segments.test_audience where email like 'dup.%'")
    assert run(settings, paths, "crm").status == "success"
    assert live_contacts(hubspot.app) == expected_contacts(settings)


def test_upsert_keeps_leavers_mirror_archives_them(
    tmp_path: Path, settings: Settings, hubspot: EmulatorHandle
) -> None:
    paths = sync_paths(
        tmp_path,
        [hubspot_destination(hubspot.base_url)],
        [hubspot_sync(name="crm_upsert"), hubspot_sync(name="crm_mirror", mode="mirror")],
    )
    run(settings, paths, "crm_mirror")
    # 100 persons leave the segment, 30 revoke consent (previously sent): mirror removes all,
    # the revocations as `suppressed` (they would be removed in any mode).
    execute(settings, "delete from segments.test_audience where person_id < 'p0000100'")
    execute(
        settings,
        "update profiles.customer_profiles set consent_email = false "
        "where person_id between 'p0001001' and 'p0001030'",
    )
    mirror = run(settings, paths, "crm_mirror")
    leavers = 100 - 2 + 30  # p0000000 and p0000050 were never sent (no consent)
    assert mirror.plan.counts["removed"] == 100 - 2
    assert mirror.plan.counts["suppressed"] == 30
    assert live_contacts(hubspot.app) == expected_contacts(settings)
    assert len(hubspot.app.archived) == leavers
    state = query(settings, "select count(*) n from tessera_sync.state_crm_mirror")
    assert state.n[0] == len(expected_contacts(settings))

    before = len(hubspot.app.requests)
    upsert = run(settings, paths, "crm_upsert")  # first run of the upsert sync
    execute(settings, "delete from segments.test_audience where person_id < 'p0000201'")
    upsert = run(settings, paths, "crm_upsert")
    assert upsert.plan.counts["removed"] == 0
    assert upsert.plan.to_send == 0
    assert all(r.path.endswith("upsert") for r in hubspot.app.requests[before:])


def test_insert_mode_sends_new_keys_only_and_update_mode_never_creates(
    tmp_path: Path, settings: Settings, hubspot: EmulatorHandle
) -> None:
    paths = sync_paths(
        tmp_path,
        [hubspot_destination(hubspot.base_url)],
        [
            hubspot_sync(name="crm_insert", mode="insert"),
            hubspot_sync(name="crm_update", mode="update"),
        ],
    )
    # update before anything exists: every row is rejected as not found, nothing created,
    # so nothing was delivered: the run is failed (the rows are kept for the next run)
    with pytest.raises(AllRowsRejectedError) as rejected:
        run(settings, paths, "crm_update")
    update = rejected.value.result
    assert update.status == "failed" and update.stats.rejected == 1960
    assert hubspot.app.contacts == {}

    run(settings, paths, "crm_insert")
    execute(settings, "update segments.test_audience set first_name = 'renamed'")
    insert = run(settings, paths, "crm_insert")
    assert insert.plan.to_send == 0  # changes are not inserts
    assert all(c["properties"]["firstname"] != "renamed" for c in hubspot.app.contacts.values())

    update = run(settings, paths, "crm_update")  # failed rows retried, now found
    assert update.plan.counts["retry"] == 1960 and update.stats.rejected == 0
    assert live_contacts(hubspot.app) == expected_contacts(settings)
    assert sum(hubspot.app.creates.values()) == 1960


def test_rejected_rows_are_recorded_retried_and_do_not_block_others(
    tmp_path: Path, settings: Settings, hubspot: EmulatorHandle
) -> None:
    execute(
        settings,
        "update segments.test_audience set email = 'not-an-email-' || person_id "
        "where person_id in ('p0000011', 'p0000012', 'p0000013')",
    )
    paths = sync_paths(tmp_path, [hubspot_destination(hubspot.base_url)], [hubspot_sync()])
    first = run(settings, paths, "crm")
    assert first.status == "partial"
    assert first.stats.rejected == 3 and first.stats.sent_ok == 1957
    errors = query(settings, "select key, error, attempt from tessera_sync.errors order by key")
    assert list(errors.key) == ["p0000011", "p0000012", "p0000013"]
    assert errors.error.str.contains("invalid email").all()
    assert set(errors.attempt) == {1}

    # still invalid: retried, attempt 2, others untouched; a run that only retried rows
    # refused before stays partial (a row that stays bad must not fail every later run)
    second = run(settings, paths, "crm")
    assert second.status == "partial" and second.stats.rejected == 3
    assert second.plan.counts == {**second.plan.counts, "retry": 3, "added": 0, "changed": 0}
    assert query(settings, "select max(attempt) m from tessera_sync.errors").m[0] == 2

    execute(
        settings,
        "update segments.test_audience set email = person_id || '@fixed.example.com' "
        "where email like 'not-an-email-%'",
    )
    third = run(settings, paths, "crm")
    assert third.status == "success" and third.stats.sent_ok == 3
    assert live_contacts(hubspot.app) == expected_contacts(settings)
    failed = query(settings, "select count(*) n from tessera_sync.state_crm where status='failed'")
    assert failed.n[0] == 0


def test_rate_limit_storm_and_server_errors_lose_nothing(
    tmp_path: Path, settings: Settings, hubspot: EmulatorHandle
) -> None:
    faults = hubspot.app.faults
    faults.rate_limit_requests = 8
    faults.rate_limit_window_seconds = 0.25
    faults.error_rate = 0.15
    faults.timeout_rate = 0.03
    faults.hang_seconds = 0.8  # client timeout is 0.5 s
    faults.applied_before_failure = 0.5
    faults.seed = 7
    faults.schedule = ["500", "500", "500", "429", "timeout"]
    paths = sync_paths(
        tmp_path, [hubspot_destination(hubspot.base_url, batch_size=50)], [hubspot_sync()]
    )
    result = run(settings, paths, "crm")
    assert result.status == "success", query(settings, "select * from tessera_sync.errors")
    assert result.stats.rate_limited > 0 and result.stats.retries > 0
    statuses = hubspot.app.statuses()
    assert statuses.get(429, 0) > 0 and statuses.get(503, 0) > 0
    assert live_contacts(hubspot.app) == expected_contacts(settings)
    assert max(hubspot.app.creates.values()) == 1  # resent batches never duplicate
    runs = query(settings, "select rate_limited, retries, rejected from tessera_sync.runs")
    assert runs.rejected[0] == 0 and runs.rate_limited[0] == result.stats.rate_limited
    assert run(settings, paths, "crm").plan.to_send == 0


def test_destination_down_for_good_fails_the_run_then_next_run_delivers(
    tmp_path: Path, settings: Settings, hubspot: EmulatorHandle
) -> None:
    """5xx on every attempt: nothing delivered, so the run failed and no row was rejected;
    the rows stay pending (nothing in state) and the next run sends them as new."""
    hubspot.app.faults.error_rate = 1.0
    hubspot.app.faults.applied_before_failure = 0.0
    destination = hubspot_destination(
        hubspot.base_url,
        retry={"max_attempts": 2, "base_delay_seconds": 0.0, "max_delay_seconds": 0.01},
    )
    paths = sync_paths(tmp_path, [destination], [hubspot_sync()])
    with pytest.raises(DestinationDownError, match="HTTP 503") as down:
        run(settings, paths, "crm")
    stats = down.value.result.stats
    assert (stats.sent_ok, stats.rejected, stats.not_delivered) == (0, 0, 1960)
    assert hubspot.app.contacts == {}
    assert query(settings, "select count(*) as n from tessera_sync.state_crm").n[0] == 0
    hubspot.app.faults.error_rate = 0.0
    up = run(settings, paths, "crm")
    assert up.plan.counts["added"] == 1960 and up.status == "success"
    assert live_contacts(hubspot.app) == expected_contacts(settings)


def test_email_moving_between_keys_in_mirror_mode_ends_with_one_contact(
    tmp_path: Path, settings: Settings, hubspot: EmulatorHandle
) -> None:
    paths = sync_paths(
        tmp_path, [hubspot_destination(hubspot.base_url)], [hubspot_sync(mode="mirror")]
    )
    run(settings, paths, "crm")
    execute(
        settings,
        "update segments.test_audience set person_id = 'p9999999' where person_id = 'p0000001'",
    )
    execute(
        settings,
        "insert into profiles.customer_profiles (person_id, consent_email, consent_ads) "
        "values ('p9999999', true, true)",
    )
    result = run(settings, paths, "crm")
    assert result.plan.counts["removed"] == 1 and result.plan.counts["added"] == 1
    assert live_contacts(hubspot.app) == expected_contacts(settings)


def test_changed_email_renames_the_contact_and_a_deleted_contact_is_recreated(
    tmp_path: Path, settings: Settings, hubspot: EmulatorHandle
) -> None:
    paths = sync_paths(tmp_path, [hubspot_destination(hubspot.base_url)], [hubspot_sync()])
    run(settings, paths, "crm")
    contact_id = hubspot.app.contacts["person.1@example.com"]["id"]
    execute(
        settings,
        "update segments.test_audience set email = 'new.address@example.org' "
        "where person_id = 'p0000001'",
    )
    # someone deletes another contact in HubSpot by hand; then its row changes
    with hubspot.app.lock:
        gone = hubspot.app.contacts.pop("person.2@example.com")
        hubspot.app.ids.pop(gone["id"])
    execute(
        settings, "update segments.test_audience set first_name = 'B' where person_id = 'p0000002'"
    )
    result = run(settings, paths, "crm")
    assert result.status == "success" and result.plan.counts["changed"] == 2
    assert live_contacts(hubspot.app) == expected_contacts(settings)
    assert hubspot.app.contacts["new.address@example.org"]["id"] == contact_id  # renamed
    assert "new.address@example.org" not in hubspot.app.creates
    assert hubspot.app.creates["person.2@example.com"] == 2  # recreated after the deletion


def test_rejected_row_that_leaves_the_segment_is_forgotten_not_removed(
    tmp_path: Path, settings: Settings, hubspot: EmulatorHandle
) -> None:
    execute(
        settings, "update segments.test_audience set email = 'bad' where person_id = 'p0000007'"
    )
    paths = sync_paths(
        tmp_path, [hubspot_destination(hubspot.base_url)], [hubspot_sync(mode="mirror")]
    )
    assert run(settings, paths, "crm").stats.rejected == 1
    execute(settings, "delete from segments.test_audience where person_id = 'p0000007'")
    result = run(settings, paths, "crm")
    assert result.plan.counts["forget"] == 1 and result.plan.to_send == 0
    state = query(settings, "select count(*) n from tessera_sync.state_crm where key = 'p0000007'")
    assert state.n[0] == 0
    assert hubspot.app.archived == []
