"""The contract every destination passes (issue 8 adds its destinations as more cases).

A case says how to configure the destination and its emulator, what the emulator's final
state looks like, what it should look like given the segment, and how to make one row
invalid. The same tests then prove: state equals segment after every run, a no-change run
sends nothing, a 1% change sends exactly that, removals follow the mode, 429/5xx storms
lose nothing, and rejected rows are recorded and retried.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import more_destination_cases as more
import pytest
from retl_helpers import (
    HUBSPOT_TOKEN,
    META_TOKEN,
    SEGMENT,
    WEBHOOK_SECRET,
    execute,
    expected_contacts,
    expected_members,
    hubspot_destination,
    hubspot_sync,
    live_contacts,
    meta_destination,
    meta_sync,
    query,
    rows_received,
    run,
    sync_paths,
)

from reverse_etl.destinations.base import DestinationDownError
from reverse_etl.privacy import request_deletion
from reverse_etl.testing import EmulatorHandle, start_emulator
from tessera.settings import Settings
from tessera.warehouse import Warehouse

ERASED, REVOKED = "p0000101", "p0000102"  # both consented to email and ads at first


@dataclass(frozen=True)
class Case:
    emulator: str
    token: str
    destination: Callable[[str], dict[str, Any]]
    sync: dict[str, Any]
    actual: Callable[[Any], Any]
    expected: Callable[[Settings], Any]
    break_row_sql: str  # makes person p0000003 a row the destination rejects
    fix_row_sql: str
    env: dict[str, str] = field(default_factory=dict)  # credentials the destination reads


def webhook_records(app: Any) -> dict[str, str]:
    with app.lock:
        return {key: fields["email"] for key, fields in app.records.items()}


def webhook_expected(settings: Settings) -> dict[str, str]:
    frame = query(settings, f"select person_id, email from {SEGMENT}")
    return dict(frame.itertuples(index=False, name=None))


CASES = {
    "hubspot": Case(
        emulator="hubspot",
        token=HUBSPOT_TOKEN,
        destination=lambda url: hubspot_destination(url, batch_size=50),
        sync=hubspot_sync(name="contract", mode="mirror"),
        actual=live_contacts,
        expected=expected_contacts,
        break_row_sql=f"update {SEGMENT} set email = 'nope' where person_id = 'p0000003'",
        fix_row_sql=f"update {SEGMENT} set email = 'p3@example.com' where person_id = 'p0000003'",
    ),
    "meta_audience": Case(
        emulator="meta_audience",
        token=META_TOKEN,
        destination=lambda url: meta_destination(url, batch_size=200),
        sync=meta_sync(name="contract"),
        actual=lambda app: set(app.members.get("1234567890", set())),
        expected=expected_members,
        break_row_sql=f"update {SEGMENT} set email = null, phone = null "
        "where person_id = 'p0000003'",
        fix_row_sql=f"update {SEGMENT} set email = 'p3@example.com' where person_id = 'p0000003'",
    ),
    "webhook": Case(
        emulator="webhook",
        token=WEBHOOK_SECRET,
        destination=lambda url: {
            "name": "hook",
            "type": "webhook",
            "base_url": url,
            "credentials": {"signing_secret": "TEST_WEBHOOK_SECRET"},
            "batch_size": 100,
            "timeout_seconds": 0.5,
            "retry": {"max_attempts": 8, "base_delay_seconds": 0.01, "max_delay_seconds": 0.1},
        },
        sync={
            "name": "contract",
            "segment": "test_audience",
            "destination": "hook",
            "object": "people",
            "mode": "mirror",
            "mapping": {"email": "email", "first_name": "first_name"},
        },
        actual=webhook_records,
        expected=webhook_expected,
        break_row_sql=f"update {SEGMENT} set email = 'nope' where person_id = 'p0000003'",
        fix_row_sql=f"update {SEGMENT} set email = 'p3@example.com' where person_id = 'p0000003'",
    ),
    # Bulk API jobs for batches of 500+ rows (the first sync), sObject Collections below
    "salesforce": Case(
        emulator="salesforce",
        token=more.SALESFORCE_TOKEN,
        destination=lambda url: more.salesforce_destination(
            url, batch_size=1000, options={"bulk_threshold": 500}
        ),
        sync=more.salesforce_sync(name="contract"),
        actual=more.salesforce_actual,
        expected=more.salesforce_expected,
        break_row_sql=f"update {SEGMENT} set email = 'nope' where person_id = 'p0000003'",
        fix_row_sql=f"update {SEGMENT} set email = 'p3@example.com' where person_id = 'p0000003'",
        env=more.ENV,
    ),
    "braze": Case(
        emulator="braze",
        token=more.BRAZE_KEY,
        destination=more.braze_destination,
        sync=more.braze_sync(name="contract"),
        actual=more.braze_actual,
        expected=more.braze_expected,
        break_row_sql=f"update {SEGMENT} set email = 'nope' where person_id = 'p0000003'",
        fix_row_sql=f"update {SEGMENT} set email = 'p3@example.com' where person_id = 'p0000003'",
        env=more.ENV,
    ),
    "google_ads": Case(
        emulator="google_ads",
        token=more.GOOGLE_TOKEN,
        destination=lambda url: more.google_destination(url, batch_size=500),
        sync=more.google_sync(name="contract"),
        actual=more.google_actual,
        expected=more.google_expected,
        break_row_sql=f"update {SEGMENT} set email = null, phone = null "
        "where person_id = 'p0000003'",
        fix_row_sql=f"update {SEGMENT} set email = 'p3@example.com' where person_id = 'p0000003'",
        env=more.ENV,
    ),
}


@pytest.fixture(params=sorted(CASES))
def case(
    request: pytest.FixtureRequest, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple]:
    spec = CASES[request.param]
    for name, value in spec.env.items():
        monkeypatch.setenv(name, value)
    with start_emulator(spec.emulator, token=spec.token) as handle:
        yield spec, handle


def test_contract_diff_only_and_removals(
    tmp_path: Path, settings: Settings, case: tuple[Case, EmulatorHandle]
) -> None:
    spec, handle = case
    paths = sync_paths(tmp_path, [spec.destination(handle.base_url)], [spec.sync])
    assert run(settings, paths, "contract").status == "success"
    assert spec.actual(handle.app) == spec.expected(settings)

    before = len(handle.app.requests)
    assert run(settings, paths, "contract").plan.to_send == 0
    assert len(handle.app.requests) == before

    execute(
        settings,
        f"update {SEGMENT} set email = 'moved.' || person_id || '@example.net' "
        "where cast(substr(person_id, 2) as integer) % 100 = 1",
    )  # 20 rows = 1%
    execute(settings, f"delete from {SEGMENT} where person_id between 'p0000011' and 'p0000015'")
    before = len(handle.app.requests)
    result = run(settings, paths, "contract")
    assert result.plan.counts["changed"] == 20 and result.plan.counts["removed"] == 5
    assert result.stats.sent_ok == 25
    assert rows_received(handle.app, since=before) >= 25
    assert spec.actual(handle.app) == spec.expected(settings)


def test_contract_storms_lose_nothing(
    tmp_path: Path, settings: Settings, case: tuple[Case, EmulatorHandle]
) -> None:
    spec, handle = case
    faults = handle.app.faults
    faults.rate_limit_requests, faults.rate_limit_window_seconds = 6, 0.2
    faults.error_rate, faults.timeout_rate, faults.hang_seconds = 0.2, 0.03, 0.8
    faults.schedule = ["500", "429", "timeout", "500"]
    paths = sync_paths(tmp_path, [spec.destination(handle.base_url)], [spec.sync])
    result = run(settings, paths, "contract")
    assert result.status == "success" and result.stats.retries > 0
    assert spec.actual(handle.app) == spec.expected(settings)
    execute(settings, f"delete from {SEGMENT} where person_id < 'p0000100'")
    run(settings, paths, "contract")
    assert spec.actual(handle.app) == spec.expected(settings)


def test_contract_a_destination_down_fails_the_run_and_the_next_run_sends_each_row_once(
    tmp_path: Path, settings: Settings, case: tuple[Case, EmulatorHandle]
) -> None:
    """Connections refused for every batch: `failed`, nothing rejected, nothing in state;
    back up, the destination gets every row exactly once."""
    spec, handle = case
    destination = spec.destination(handle.base_url)
    destination["retry"] = {"max_attempts": 2, "base_delay_seconds": 0, "max_delay_seconds": 0.01}
    paths = sync_paths(tmp_path, [destination], [spec.sync])
    handle.go_down()
    with pytest.raises(DestinationDownError) as down:
        run(settings, paths, "contract")
    stats = down.value.result.stats
    assert down.value.result.status == "failed"
    assert stats.sent_ok == stats.rejected == 0 and stats.not_delivered > 0
    assert f"destination {destination['name']}" in str(down.value)
    assert query(settings, "select count(*) as n from tessera_sync.state_contract").n[0] == 0
    assert query(settings, "select count(*) as n from tessera_sync.errors").n[0] == 0
    assert query(settings, "select status from tessera_sync.runs").status.tolist() == ["failed"]

    handle.come_back()
    back = run(settings, paths, "contract")
    assert back.status == "success" and back.plan.counts["added"] == stats.not_delivered
    assert handle.app.resends() == 0
    assert spec.actual(handle.app) == spec.expected(settings)


def test_contract_rejected_rows_recorded_and_retried(
    tmp_path: Path, settings: Settings, case: tuple[Case, EmulatorHandle]
) -> None:
    spec, handle = case
    execute(settings, spec.break_row_sql)
    paths = sync_paths(tmp_path, [spec.destination(handle.base_url)], [spec.sync])
    first = run(settings, paths, "contract")
    assert first.stats.rejected == 1 and first.status == "partial"
    errors = query(settings, "select key, attempt from tessera_sync.errors")
    assert errors.key.tolist() == ["p0000003"] and errors.attempt.tolist() == [1]
    execute(settings, spec.fix_row_sql)
    second = run(settings, paths, "contract")
    assert second.plan.counts["retry"] == 1 and second.status == "success"
    assert spec.actual(handle.app) == spec.expected(settings)


def test_contract_a_deletion_request_and_a_revoked_consent_leave_the_destination(
    tmp_path: Path, settings: Settings, case: tuple[Case, EmulatorHandle]
) -> None:
    spec, handle = case
    paths = sync_paths(tmp_path, [spec.destination(handle.base_url)], [spec.sync])
    assert run(settings, paths, "contract").status == "success"
    held_before = spec.actual(handle.app)
    with Warehouse(settings).session() as session:
        request_deletion(session, ERASED, "dsr-contract")
    execute(
        settings,
        "update profiles.customer_profiles set consent_email = false, consent_ads = false "
        f"where person_id = '{REVOKED}'",
    )
    second = run(settings, paths, "contract")
    revocable = 1 if spec.sync.get("consent") else 0  # the webhook case sends without a purpose
    assert second.status == "success"
    assert (second.plan.counts["erased"], second.plan.counts["suppressed"]) == (1, revocable)
    assert len(spec.actual(handle.app)) == len(held_before) - 1 - revocable
    assert run(settings, paths, "contract").plan.to_send == 0  # still in the segment
    state = query(settings, "select key from tessera_sync.state_contract")
    assert ERASED not in set(state.key) and (REVOKED in set(state.key)) == (not revocable)
    audit = query(settings, "select person_id, kind from tessera_sync.privacy_audit")
    expected_audit = [(ERASED, "erased")] + [(REVOKED, "suppressed")] * revocable
    assert sorted(audit.itertuples(index=False, name=None)) == expected_audit
    # what the destination holds is the consented segment without the erased person
    execute(settings, f"delete from {SEGMENT} where person_id = '{ERASED}'")
    assert spec.actual(handle.app) == spec.expected(settings)
