"""A destination that answered and refused every row delivered nothing: the run is `failed`.

HubSpot refusing every row of its batches (per-row errors in a 207) and a Salesforce bulk job
ending `Failed` are runs that delivered nothing, like a destination that is down: the run is
recorded `failed`, `tessera sync run` exits 1 with one line saying how many rows were rejected
and where they are recorded, and the rows stay in `tessera_sync.errors` for the next run to
retry. Rejected rows and undelivered batches with nothing delivered are `failed` too; some
delivered and some rejected stays `partial`. Real emulators over HTTP, a real DuckDB file.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from more_destination_cases import (
    ENV,
    SALESFORCE_TOKEN,
    salesforce_actual,
    salesforce_destination,
    salesforce_expected,
    salesforce_sync,
)
from retl_helpers import (
    SEGMENT,
    execute,
    expected_contacts,
    hubspot_destination,
    hubspot_sync,
    live_contacts,
    meta_destination,
    meta_sync,
    query,
    run,
    sync_paths,
)

from reverse_etl.destinations.base import AllRowsRejectedError, DestinationDownError
from reverse_etl.testing import EmulatorHandle, start_emulator
from tessera.settings import Settings

FAST_FAIL = {"max_attempts": 2, "base_delay_seconds": 0.0, "max_delay_seconds": 0.01}
RUNS = "select status, sent_ok, rejected, not_delivered, error from tessera_sync.runs"


@pytest.fixture
def salesforce(monkeypatch: pytest.MonkeyPatch) -> Iterator[EmulatorHandle]:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    with start_emulator("salesforce", token=SALESFORCE_TOKEN) as handle:
        yield handle


def invalid_emails(settings: Settings, persons: int = 40) -> None:
    """`persons` rows (39 with email consent), every email one HubSpot refuses."""
    execute(settings, f"delete from {SEGMENT} where person_id >= 'p{persons:07d}'")
    execute(settings, f"update {SEGMENT} set email = 'not-an-email-' || person_id")


def test_hubspot_refusing_every_row_fails_the_run_and_keeps_the_rows_for_the_next(
    tmp_path: Path, settings: Settings, hubspot: EmulatorHandle
) -> None:
    invalid_emails(settings)
    paths = sync_paths(tmp_path, [hubspot_destination(hubspot.base_url)], [hubspot_sync()])
    with pytest.raises(AllRowsRejectedError) as rejected:
        run(settings, paths, "crm")
    result = rejected.value.result
    assert result.status == "failed"
    assert (result.stats.sent_ok, result.stats.rejected, result.stats.not_delivered) == (0, 39, 0)
    message = str(rejected.value)
    assert message.startswith("destination hubspot (hubspot) rejected all 39 rows; ")
    assert "tessera_sync.errors" in message and "`tessera sync errors crm`" in message
    assert "invalid email" in message and "not-an-email" not in message  # values scrubbed
    assert "\n" not in message
    runs = query(settings, RUNS)
    assert (runs.status[0], runs.sent_ok[0], runs.rejected[0]) == ("failed", 0, 39)
    assert runs.error[0] == message
    # nothing lost: every rejected row is recorded, and the next run retries it
    assert query(settings, "select count(*) as n from tessera_sync.errors").n[0] == 39

    execute(settings, f"update {SEGMENT} set email = person_id || '@ok.example'")
    again = run(settings, paths, "crm")
    assert again.status == "success" and again.plan.counts["retry"] == 39
    assert live_contacts(hubspot.app) == expected_contacts(settings)


def test_a_failed_salesforce_bulk_job_for_every_row_fails_the_run(
    tmp_path: Path, settings: Settings, salesforce: EmulatorHandle
) -> None:
    execute(settings, f"delete from {SEGMENT} where person_id >= 'p0000500'")  # one bulk job
    salesforce.app.fail_jobs = 1
    destination = salesforce_destination(
        salesforce.base_url, batch_size=1000, concurrency=1, options={"bulk_threshold": 100}
    )
    paths = sync_paths(tmp_path, [destination], [salesforce_sync()])
    with pytest.raises(AllRowsRejectedError) as rejected:
        run(settings, paths, "sf")
    result = rejected.value.result
    assert result.status == "failed" and result.stats.sent_ok == 0
    rows = result.stats.rejected
    assert rows == result.plan.counts["added"] > 100
    assert f"rejected all {rows:,} rows" in str(rejected.value)
    assert "job Failed: InvalidBatch" in str(rejected.value)
    assert SALESFORCE_TOKEN not in str(rejected.value)
    assert query(settings, RUNS).status.tolist() == ["failed"]
    assert query(settings, "select count(*) as n from tessera_sync.errors").n[0] == rows

    again = run(settings, paths, "sf")
    assert again.status == "success" and again.plan.counts["retry"] == rows
    assert salesforce_actual(salesforce.app) == salesforce_expected(settings)


def test_rejected_and_undelivered_with_nothing_delivered_is_failed(
    tmp_path: Path, settings: Settings, hubspot: EmulatorHandle
) -> None:
    invalid_emails(settings)  # 39 rows: batches of 10, 10, 10, 9
    destination = hubspot_destination(
        hubspot.base_url, batch_size=10, concurrency=1, retry=FAST_FAIL
    )
    paths = sync_paths(tmp_path, [destination], [hubspot_sync()])
    hubspot.app.faults.down_after_requests = 1  # the first batch is refused, then it is down
    with pytest.raises(DestinationDownError) as down:
        run(settings, paths, "crm")
    result = down.value.result
    assert result.status == "failed"
    assert (result.stats.sent_ok, result.stats.rejected, result.stats.not_delivered) == (0, 10, 29)
    assert "(10 rejected, recorded in tessera_sync.errors: `tessera sync errors crm`)" in str(
        down.value
    )
    runs = query(settings, RUNS)
    assert (runs.status[0], runs.rejected[0], runs.not_delivered[0]) == ("failed", 10, 29)


def test_some_delivered_and_some_rejected_stays_partial(
    tmp_path: Path, settings: Settings, hubspot: EmulatorHandle
) -> None:
    invalid_emails(settings)
    execute(settings, f"update {SEGMENT} set email = 'ok@example.com' where person_id = 'p0000007'")
    paths = sync_paths(tmp_path, [hubspot_destination(hubspot.base_url)], [hubspot_sync()])
    result = run(settings, paths, "crm")
    assert result.status == "partial"
    assert (result.stats.sent_ok, result.stats.rejected) == (1, 38)
    assert query(settings, RUNS).status.tolist() == ["partial"]


def test_an_audience_of_one_person_with_nothing_to_match_on_is_not_a_failed_run(
    tmp_path: Path, settings: Settings, meta: EmulatorHandle
) -> None:
    # the demo of 2026-12-08: the one churn-risk buyer with ads consent had a user id and
    # cookies but neither email nor phone; the run was `failed` and the demo exited 1
    execute(settings, f"delete from {SEGMENT} where person_id <> 'p0000001'")
    execute(settings, f"update {SEGMENT} set email = null, phone = null")  # consent: ads yes
    paths = sync_paths(tmp_path, [meta_destination(meta.base_url)], [meta_sync()])
    result = run(settings, paths, "ads")
    assert result.status == "partial"
    assert (result.stats.sent_ok, result.stats.rejected, result.stats.unsent) == (0, 1, 1)
    assert meta.app.requests == []  # nothing was sent to match on
    errors = query(settings, "select key, error from tessera_sync.errors")
    assert errors.key.tolist() == ["p0000001"]
    assert errors.error[0] == "no email or phone to match on"


def test_the_cli_exits_1_with_one_line_naming_the_rejections(
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
    monkeypatch.setattr(console, "width", 100)  # the line must not wrap however narrow
    invalid_emails(settings)
    paths = sync_paths(tmp_path, [hubspot_destination(hubspot.base_url)], [hubspot_sync()])
    code = main(["sync", "--syncs-dir", str(paths.syncs_dir), "run", "crm", "--no-progress"])
    out, err = capsys.readouterr()
    assert code == 1, out + err
    last = out.strip().splitlines()[-1]
    assert last.startswith("sync crm failed: destination hubspot (hubspot) rejected all 39 rows; ")
    assert "recorded in tessera_sync.errors (`tessera sync errors crm`)" in last
    assert "Traceback" not in out + err and "partial" not in out
    assert main(["sync", "--syncs-dir", str(paths.syncs_dir), "status"]) == 0
    assert "failed" in capsys.readouterr().out
