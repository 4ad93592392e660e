"""A destination that is down is not a destination that rejects rows.

Every batch failing to reach the destination (refused connections, timeouts after every
retry) records the run `failed`, counts its rows as not delivered (never as rejected), writes
nothing to the sync state or `tessera_sync.errors`, and the next run against the destination
back up sends exactly those rows, once. When some batches got through and later ones did not,
the run is `partial` and the rest are sent by the next run. Once the destination took none of
`retry.max_undelivered_batches` batches in a row the run stops taking batches: the rest count
as not delivered without being tried, and a destination failing every other batch never trips
that. Real HTTP throughout: the HubSpot emulator really stops listening (`handle.go_down()`)
or really hangs past the client timeout.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest
from retl_helpers import (
    HUBSPOT_TOKEN,
    SEGMENT,
    execute,
    expected_contacts,
    hubspot_destination,
    hubspot_sync,
    live_contacts,
    query,
    run,
    sync_paths,
)

from reverse_etl.cli_output import console, print_result
from reverse_etl.config import ConfigError
from reverse_etl.destinations.base import DestinationDownError
from reverse_etl.testing import EmulatorHandle
from tessera.settings import Settings

FAST_FAIL = {"max_attempts": 2, "base_delay_seconds": 0.0, "max_delay_seconds": 0.01}
STATE = "select key, row_hash, status, attempts from tessera_sync.state_crm order by key"


def small_segment(settings: Settings, persons: int = 40, held_back: int = 0) -> None:
    """Keep `persons` rows of the segment (p0000000 has no email consent), the last
    `held_back` of them in `held_back_rows`, to be added to the segment later."""
    execute(settings, f"delete from {SEGMENT} where person_id >= 'p{persons:07d}'")
    first_held = f"p{persons - held_back:07d}"
    execute(
        settings,
        f"create table held_back_rows as select * from {SEGMENT} where person_id >= '{first_held}'",
    )
    execute(settings, f"delete from {SEGMENT} where person_id >= '{first_held}'")


def destination(hubspot: EmulatorHandle, **overrides: object) -> dict:
    settings = {"batch_size": 10, "concurrency": 2, "retry": FAST_FAIL, **overrides}
    return hubspot_destination(hubspot.base_url, **settings)


def received(hubspot: EmulatorHandle) -> Counter[str]:
    with hubspot.app.lock:
        return Counter(hubspot.app.received)


@pytest.mark.parametrize("outage", ["connection refused", "timeouts"])
def test_every_batch_undelivered_fails_the_run_and_the_next_run_sends_those_rows_once(
    tmp_path: Path, settings: Settings, hubspot: EmulatorHandle, outage: str
) -> None:
    small_segment(settings, persons=50, held_back=10)
    paths = sync_paths(tmp_path, [destination(hubspot, timeout_seconds=0.2)], [hubspot_sync()])
    assert run(settings, paths, "crm").stats.sent_ok == 39  # p0000001 .. p0000039
    execute(
        settings,
        f"update {SEGMENT} set first_name = 'Changed' "
        "where person_id between 'p0000001' and 'p0000005'",
    )
    execute(settings, f"insert into {SEGMENT} select * from held_back_rows")  # 10 new persons
    state_before, sent_before = query(settings, STATE), received(hubspot)

    if outage == "connection refused":
        hubspot.go_down()
    else:
        faults = hubspot.app.faults
        faults.timeout_rate, faults.hang_seconds, faults.applied_before_failure = 1.0, 0.5, 0.0
    with pytest.raises(DestinationDownError) as down:
        run(settings, paths, "crm")
    result = down.value.result
    assert result.status == "failed"
    stats = result.stats
    assert (stats.sent_ok, stats.rejected, stats.not_delivered) == (0, 0, 15)
    assert stats.not_delivered_by_kind == {"changed": 5, "added": 10}
    runs = query(
        settings,
        "select status, sent_ok, rejected, not_delivered, error from tessera_sync.runs "
        "order by started_at",
    )
    last = runs.iloc[-1]
    assert (last.status, last.sent_ok, last.rejected, last.not_delivered) == ("failed", 0, 0, 15)
    assert last.error.startswith("nothing was delivered to destination hubspot (hubspot); ")
    assert "by sync crm" in str(down.value) and "15 rows not delivered" in str(down.value)
    cause = "NewConnectionError" if outage == "connection refused" else "ReadTimeoutError"
    assert cause in str(down.value) and "\n" not in str(down.value)
    # nothing was rejected, and nothing is marked sent: state is exactly as before the run
    assert query(settings, "select count(*) as n from tessera_sync.errors").n[0] == 0
    assert query(settings, STATE).equals(state_before)

    if outage == "connection refused":
        hubspot.come_back()
    else:
        hubspot.app.faults.timeout_rate = 0.0
    back = run(settings, paths, "crm")
    assert back.status == "success"
    assert (back.plan.counts["changed"], back.plan.counts["added"]) == (5, 10)
    assert back.stats.sent_ok == 15 and back.stats.not_delivered == 0
    delta = received(hubspot) - sent_before
    assert sum(delta.values()) == 15 and set(delta.values()) == {1}  # each row once
    assert live_contacts(hubspot.app) == expected_contacts(settings)
    assert run(settings, paths, "crm").plan.to_send == 0


def test_batches_undelivered_after_some_got_through_make_the_run_partial(
    tmp_path: Path, settings: Settings, hubspot: EmulatorHandle
) -> None:
    small_segment(settings, persons=40)  # 39 rows with email consent: batches of 10,10,10,9
    paths = sync_paths(tmp_path, [destination(hubspot, concurrency=1)], [hubspot_sync()])
    hubspot.app.faults.down_after_requests = 1  # the first batch is answered, then it is down

    first = run(settings, paths, "crm")
    assert first.status == "partial"
    stats = first.stats
    assert (stats.sent_ok, stats.rejected, stats.not_delivered) == (10, 0, 29)
    runs = query(settings, "select status, rejected, not_delivered, error from tessera_sync.runs")
    assert (runs.status[0], runs.rejected[0], runs.not_delivered[0]) == ("partial", 0, 29)
    assert "29 rows not delivered" in runs.error[0] and "NewConnectionError" in runs.error[0]
    state = query(settings, STATE)
    assert len(state) == 10 and set(state.status) == {"synced"}
    assert query(settings, "select count(*) as n from tessera_sync.errors").n[0] == 0

    hubspot.come_back()
    second = run(settings, paths, "crm")
    assert second.status == "success"
    assert second.plan.counts["added"] == 29 and second.plan.to_send == 29
    assert second.stats.sent_ok == 29
    counts = received(hubspot)
    assert len(counts) == 39 and set(counts.values()) == {1}  # nothing lost, nothing twice
    assert live_contacts(hubspot.app) == expected_contacts(settings)


def test_the_cli_says_in_one_line_which_sync_and_destination_failed_and_why(
    tmp_path: Path,
    settings: Settings,
    hubspot: EmulatorHandle,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from orchestration.cli import main as tessera_main

    small_segment(settings, persons=30)
    paths = sync_paths(tmp_path, [destination(hubspot)], [hubspot_sync()])
    monkeypatch.setenv("TESSERA_WAREHOUSE", str(settings.warehouse_path))
    monkeypatch.setenv("TESSERA_ARTIFACTS", str(settings.artifacts_dir))
    monkeypatch.setattr(console, "width", 80)  # a long line must stay one line
    argv = ["sync", "--syncs-dir", str(paths.syncs_dir), "run", "crm", "--no-progress"]
    hubspot.go_down()

    assert tessera_main(argv) == 1
    captured = capsys.readouterr()
    lines = [line for line in captured.out.splitlines() if line.strip()]
    assert lines[0].startswith("plan crm: ")  # (the plan line wraps at 80 columns)
    [message] = [line for line in lines if "failed" in line or "deliver" in line]
    assert message == lines[-1]
    assert message.startswith("sync crm failed: nothing was delivered to destination hubspot")
    assert "29 rows not delivered" in message and "next run sends them" in message
    assert f"NewConnectionError talking to {hubspot.base_url}/crm/v3/objects/contacts" in message
    assert "reject" not in message
    everything = captured.out + captured.err
    assert "Traceback" not in everything and HUBSPOT_TOKEN not in everything
    assert query(settings, "select status from tessera_sync.runs").status.tolist() == ["failed"]

    hubspot.come_back()
    assert tessera_main(argv) == 0
    assert "sync crm success: sent added 29" in capsys.readouterr().out
    counts = received(hubspot)
    assert len(counts) == 29 and set(counts.values()) == {1}
    assert live_contacts(hubspot.app) == expected_contacts(settings)


# --- the run stops taking batches once the destination took none of K in a row ------------

BREAKER_DEFAULT = 3  # retry.max_undelivered_batches when the destination does not set it


def settled_requests(hubspot: EmulatorHandle, expected: int, seconds: float = 5.0) -> int:
    """Requests the emulator recorded, once `expected` are in or `seconds` passed (a request
    that hangs past the client's timeout is recorded only when the emulator stops hanging)."""
    deadline = time.monotonic() + seconds
    while True:
        with hubspot.app.lock:
            count = len(hubspot.app.requests)
        if count >= expected or time.monotonic() > deadline:
            time.sleep(0.3)  # and none arrives after those
            with hubspot.app.lock:
                return len(hubspot.app.requests)
        time.sleep(0.05)


@pytest.mark.parametrize("outage", ["connection refused", "timeouts"])
def test_a_dead_destination_is_tried_for_about_k_batches_and_every_row_stays_pending(
    tmp_path: Path, settings: Settings, hubspot: EmulatorHandle, outage: str
) -> None:
    small_segment(settings, persons=400, held_back=300)
    concurrency, attempts = 2, FAST_FAIL["max_attempts"]
    paths = sync_paths(
        tmp_path,
        [destination(hubspot, concurrency=concurrency, timeout_seconds=0.2)],
        [hubspot_sync()],
    )
    assert run(settings, paths, "crm").stats.sent_ok == 98  # p0000001 .. p0000099 but p0000050
    execute(
        settings,
        f"update {SEGMENT} set first_name = 'Changed' "
        "where person_id between 'p0000001' and 'p0000005'",
    )
    execute(settings, f"insert into {SEGMENT} select * from held_back_rows")  # 294 consented
    state_before, sent_before = query(settings, STATE), received(hubspot)
    requests_before = len(hubspot.app.requests)

    if outage == "connection refused":
        hubspot.go_down()
    else:
        faults = hubspot.app.faults
        faults.timeout_rate, faults.hang_seconds, faults.applied_before_failure = 1.0, 0.5, 0.0
    with pytest.raises(DestinationDownError) as down:
        run(settings, paths, "crm")
    stats = down.value.result.stats
    # 31 batches planned (5 changed, 294 added by 10); only the K that tripped the breaker
    # and those already on the wire then (one per other worker) were tried, each in full
    tried = stats.calls // attempts
    assert stats.calls % attempts == 0
    assert BREAKER_DEFAULT <= tried <= BREAKER_DEFAULT + concurrency - 1, stats.calls
    if outage == "timeouts":  # counted where they arrive, too
        assert settled_requests(hubspot, requests_before + stats.calls) == (
            requests_before + stats.calls
        )
    # every planned row is not delivered (never rejected), the untried ones included
    assert (stats.sent_ok, stats.rejected, stats.not_delivered) == (0, 0, 299)
    assert stats.not_delivered_by_kind == {"changed": 5, "added": 294}
    assert stats.not_sent == 299 - 10 * (tried - 1) - 5  # the changed batch was tried first
    assert stats.stopped_early and f"{BREAKER_DEFAULT} batches in a row" in stats.stopped_early
    cause = "NewConnectionError" if outage == "connection refused" else "ReadTimeoutError"
    message = str(down.value)
    assert "by sync crm" in message
    assert "299 rows not delivered" in message and cause in message
    assert f"{stats.not_sent} of them not sent: the run stopped early" in message
    assert "\n" not in message
    last = query(
        settings,
        "select status, sent_ok, rejected, not_delivered, error from tessera_sync.runs "
        "order by started_at",
    ).iloc[-1]
    assert (last.status, last.sent_ok, last.rejected, last.not_delivered) == ("failed", 0, 0, 299)
    assert "stopped early" in last.error and cause in last.error
    assert query(settings, "select count(*) as n from tessera_sync.errors").n[0] == 0
    assert query(settings, STATE).equals(state_before)

    if outage == "connection refused":
        hubspot.come_back()
    else:
        hubspot.app.faults.timeout_rate = 0.0
    back = run(settings, paths, "crm")
    assert back.status == "success"
    assert (back.plan.counts["changed"], back.plan.counts["added"]) == (5, 294)
    assert back.stats.sent_ok == 299 and back.stats.not_delivered == 0
    assert back.stats.not_sent == 0 and back.stats.stopped_early is None
    delta = received(hubspot) - sent_before
    assert sum(delta.values()) == 299 and set(delta.values()) == {1}  # each row once
    assert live_contacts(hubspot.app) == expected_contacts(settings)
    assert run(settings, paths, "crm").plan.to_send == 0


def test_batches_taken_before_the_breaker_tripped_are_committed_and_the_run_is_partial(
    tmp_path: Path,
    settings: Settings,
    hubspot: EmulatorHandle,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    small_segment(settings, persons=103)  # 100 rows (p0, p50, p100 have no consent): 10 batches
    paths = sync_paths(tmp_path, [destination(hubspot, concurrency=1)], [hubspot_sync()])
    hubspot.app.faults.down_after_requests = 2  # two batches answered, then it is down

    first = run(settings, paths, "crm")
    assert first.status == "partial"
    stats = first.stats
    assert (stats.sent_ok, stats.rejected, stats.not_delivered) == (20, 0, 80)
    assert stats.calls == 2 + BREAKER_DEFAULT * FAST_FAIL["max_attempts"]
    assert stats.not_sent == 100 - 20 - BREAKER_DEFAULT * 10
    assert "NewConnectionError" in first.error
    assert f"; {stats.not_sent} of them not sent: the run stopped early" in first.error
    state = query(settings, STATE)  # what was acknowledged is committed, and only that
    assert len(state) == 20 and set(state.status) == {"synced"}
    assert query(settings, "select count(*) as n from tessera_sync.errors").n[0] == 0
    runs = query(settings, "select status, sent_ok, not_delivered from tessera_sync.runs")
    assert (runs.status[0], runs.sent_ok[0], runs.not_delivered[0]) == ("partial", 20, 80)
    monkeypatch.setattr(console, "width", 200)
    print_result(first)
    out = capsys.readouterr().out
    assert "not delivered 80;" in out and "80 rows were not delivered" in out
    assert f"{stats.not_sent} x not sent: the run stopped early" in out

    hubspot.come_back()
    second = run(settings, paths, "crm")
    assert second.status == "success" and second.plan.to_send == 80
    assert second.stats.sent_ok == 80
    counts = received(hubspot)
    assert len(counts) == 100 and set(counts.values()) == {1}  # nothing lost, nothing twice
    assert live_contacts(hubspot.app) == expected_contacts(settings)


@pytest.mark.parametrize("concurrency", [1, 4])
def test_a_destination_failing_every_other_batch_never_trips_the_breaker(
    tmp_path: Path, settings: Settings, hubspot: EmulatorHandle, concurrency: int
) -> None:
    """Every other batch times out on every attempt (so takes far longer than the ones
    answered): with several workers the failures pile up and finish together, yet the
    destination answered batches while they were tried, so that is no outage."""
    small_segment(settings, persons=103)  # 100 rows (p0, p50, p100 have no consent): 10 batches
    retry = {**FAST_FAIL, "max_undelivered_batches": 2}  # two in a row would trip it
    paths = sync_paths(
        tmp_path,
        [destination(hubspot, concurrency=concurrency, timeout_seconds=0.2, retry=retry)],
        [hubspot_sync()],
    )
    faults = hubspot.app.faults
    faults.fail_every_other_body, faults.hang_seconds = "timeout", 0.3
    faults.applied_before_failure = 0.0

    first = run(settings, paths, "crm")
    assert first.status == "partial"
    stats = first.stats
    assert (stats.sent_ok, stats.rejected, stats.not_delivered) == (50, 0, 50)
    assert stats.calls == 5 * 2 + 5  # every batch was tried: the breaker never tripped
    assert stats.not_sent == 0 and stats.stopped_early is None
    assert "stopped early" not in first.error and "50 rows not delivered" in first.error
    assert "ReadTimeoutError" in first.error
    runs = query(settings, "select status, sent_ok, not_delivered from tessera_sync.runs")
    assert (runs.status[0], runs.sent_ok[0], runs.not_delivered[0]) == ("partial", 50, 50)
    assert query(settings, "select count(*) as n from tessera_sync.errors").n[0] == 0
    assert len(query(settings, STATE)) == 50

    faults.fail_every_other_body = None
    second = run(settings, paths, "crm")
    assert second.status == "success" and second.stats.sent_ok == 50
    counts = received(hubspot)
    assert len(counts) == 100 and set(counts.values()) == {1}  # nothing lost, nothing twice
    assert live_contacts(hubspot.app) == expected_contacts(settings)


@pytest.mark.parametrize(
    ("value", "says"),
    [
        (0, "greater than or equal to 1"),
        (-2, "greater than or equal to 1"),
        (1.5, "valid integer"),
        ("three", "valid integer"),
        (None, "valid integer"),
    ],
)
def test_a_bad_max_undelivered_batches_is_a_config_error_naming_it(
    tmp_path: Path, hubspot: EmulatorHandle, value: object, says: str
) -> None:
    retry = {**FAST_FAIL, "max_undelivered_batches": value}
    paths = sync_paths(tmp_path, [destination(hubspot, retry=retry)], [hubspot_sync()])
    with pytest.raises(ConfigError) as err:
        paths.catalog()
    message = str(err.value)
    assert "destinations.yml" in message and says in message
    assert "(hubspot).retry.max_undelivered_batches (line " in message
