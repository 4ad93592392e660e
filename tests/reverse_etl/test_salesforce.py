"""Salesforce against its emulator: Bulk API 2.0 jobs vs sObject Collections by size, job
states, failed jobs retried, the emulator's contract, and config validation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import urllib3
from more_destination_cases import (
    ENV,
    SALESFORCE_TOKEN,
    SF_EXTERNAL_ID,
    salesforce_actual,
    salesforce_destination,
    salesforce_expected,
    salesforce_sync,
)
from retl_helpers import SEGMENT, execute, query, run, sync_paths, write_config

from reverse_etl.config import Catalog, ConfigError
from reverse_etl.testing import EmulatorHandle, start_emulator
from tessera.settings import Settings

API = "/services/data/v61.0"


@pytest.fixture
def salesforce(monkeypatch: pytest.MonkeyPatch) -> Iterator[EmulatorHandle]:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    with start_emulator("salesforce", token=SALESFORCE_TOKEN) as handle:
        yield handle


def calls(app: object, since: int = 0) -> list[tuple[str, str, int]]:
    with app.lock:  # type: ignore[attr-defined]
        return [(r.method, r.path, r.status) for r in app.requests[since:]]  # type: ignore[attr-defined]


def test_big_batches_use_bulk_jobs_and_small_diffs_use_collections(
    tmp_path: Path, settings: Settings, salesforce: EmulatorHandle
) -> None:
    salesforce.app.in_progress_polls = 3
    # no faults here, and the test counts requests: a loaded CI machine must not turn a slow
    # answer into a client timeout and a retry
    patient = {"timeout_seconds": 30}
    paths = sync_paths(
        tmp_path,
        [salesforce_destination(salesforce.base_url, **patient)],
        [salesforce_sync(mode="upsert")],
    )
    # 1,960 consented rows in one batch: under the default 2,000 threshold -> Collections
    first = run(settings, paths, "sf")
    assert first.status == "success" and first.stats.sent_ok == 1960
    made = calls(salesforce.app)
    assert not any("/jobs/ingest" in path for _, path, _ in made)
    assert sum(m == "PATCH" and "/composite/sobjects/Contact/" in p for m, p, _ in made) == 10

    execute(settings, f"update {SEGMENT} set last_name = 'Bulk' where person_id < 'p0000600'")
    paths = sync_paths(
        tmp_path,
        [salesforce_destination(salesforce.base_url, options={"bulk_threshold": 500}, **patient)],
        [salesforce_sync(mode="upsert")],
    )
    before = len(salesforce.app.requests)
    second = run(settings, paths, "sf")
    assert second.status == "success" and second.plan.counts["changed"] == 588
    made = calls(salesforce.app, before)
    methods = [(m, p.rstrip("/").rsplit("/", 2)[-2:]) for m, p, _ in made]
    assert methods[0] == ("POST", ["jobs", "ingest"])
    assert methods[1][0] == "PUT" and methods[1][1][-1] == "batches"
    assert methods[2][0] == "PATCH"
    polls = [m for m in methods if m[0] == "GET" and m[1][0] == "ingest"]
    assert len(polls) == 4  # InProgress three times, then JobComplete
    assert [m[1][-1] for m in methods[-2:]] == ["successfulResults", "failedResults"]
    job = next(iter(salesforce.app.jobs.values()))
    assert job.state == "JobComplete" and job.operation == "upsert"
    assert job.columns == [SF_EXTERNAL_ID, "Email", "FirstName", "LastName"]
    assert salesforce_actual(salesforce.app) == salesforce_expected(settings)
    assert max(salesforce.app.creates.values()) == 1

    # the state remembers Salesforce's record ids (used to delete leavers in mirror mode)
    ids = query(settings, "select key, dest_id from tessera_sync.state_sf")
    records = salesforce.app.records["Contact"]
    assert all(records[k]["Id"] == d for k, d in ids.itertuples(index=False))


def test_failed_job_is_not_acknowledged_and_is_retried(
    tmp_path: Path, settings: Settings, salesforce: EmulatorHandle
) -> None:
    salesforce.app.fail_jobs = 1
    destination = salesforce_destination(
        salesforce.base_url, batch_size=1000, concurrency=1, options={"bulk_threshold": 100}
    )
    paths = sync_paths(tmp_path, [destination], [salesforce_sync()])
    first = run(settings, paths, "sf")
    assert first.status == "partial" and first.stats.rejected == 1000
    errors = query(settings, "select distinct error from tessera_sync.errors")
    assert errors.error.tolist() == [
        "not processed: job Failed: InvalidBatch : emulated job failure"
    ]
    second = run(settings, paths, "sf")
    assert second.plan.counts["retry"] == 1000 and second.status == "success"
    assert salesforce_actual(salesforce.app) == salesforce_expected(settings)
    assert SALESFORCE_TOKEN not in " ".join(errors.error)


def test_a_429_on_a_job_step_waits_it_out_and_keeps_the_job(
    tmp_path: Path, settings: Settings, salesforce: EmulatorHandle
) -> None:
    """A 429 was refused before it was processed: repeat the step, do not start a new job
    (in a storm each fresh job meets new 5xx, and a sync used to give up after 12)."""
    salesforce.app.faults.retry_after_seconds = 0.01
    salesforce.app.faults.schedule = ["ok", "429", "ok", "429", "ok"]  # create, upload x2, close x2
    destination = salesforce_destination(
        salesforce.base_url,
        batch_size=2000,
        concurrency=1,
        timeout_seconds=30,
        options={"bulk_threshold": 100},
    )
    paths = sync_paths(tmp_path, [destination], [salesforce_sync(mode="upsert")])
    result = run(settings, paths, "sf")
    assert result.status == "success" and result.stats.sent_ok == 1960
    made = calls(salesforce.app)
    assert sum(m == "POST" and p.endswith("/jobs/ingest") for m, p, _ in made) == 1
    assert [s for m, p, s in made if m in ("PUT", "PATCH")] == [429, 201, 429, 200]
    assert [job.state for job in salesforce.app.jobs.values()] == ["JobComplete"]
    assert salesforce_actual(salesforce.app) == salesforce_expected(settings)


def test_mirror_deletes_leavers_by_record_id_in_bulk_and_in_collections(
    tmp_path: Path, settings: Settings, salesforce: EmulatorHandle
) -> None:
    destination = salesforce_destination(salesforce.base_url, options={"bulk_threshold": 300})
    paths = sync_paths(tmp_path, [destination], [salesforce_sync()])
    run(settings, paths, "sf")
    execute(settings, f"delete from {SEGMENT} where person_id < 'p0000400'")  # 392 consented
    assert run(settings, paths, "sf").stats.sent_ok == 392
    delete_jobs = [j for j in salesforce.app.jobs.values() if j.operation == "delete"]
    assert len(delete_jobs) == 1 and delete_jobs[0].columns == ["Id"]
    execute(settings, f"delete from {SEGMENT} where person_id < 'p0000410'")  # 10 more
    before = len(salesforce.app.requests)
    assert run(settings, paths, "sf").stats.sent_ok == 9
    assert [m for m, _, _ in calls(salesforce.app, before)] == ["DELETE"]
    assert salesforce_actual(salesforce.app) == salesforce_expected(settings)


def request(handle: EmulatorHandle, method: str, path: str, body: object, **headers: str) -> tuple:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = urllib3.request(
        method,
        handle.base_url + path,
        body=data,
        headers={
            "Authorization": f"Bearer {SALESFORCE_TOKEN}",
            "Content-Type": "application/json",
            **headers,
        },
    )
    return response.status, response.data


def test_emulator_enforces_the_bulk_and_collections_contract(
    salesforce: EmulatorHandle,
) -> None:
    job = {"object": "Contact", "operation": "upsert", "contentType": "CSV", "lineEnding": "LF"}
    assert request(salesforce, "POST", f"{API}/jobs/ingest", job)[0] == 400  # no external id
    status, body = request(
        salesforce, "POST", f"{API}/jobs/ingest", {**job, "externalIdFieldName": "X__c"}
    )
    job_id = json.loads(body)["id"]
    batches = f"{API}/jobs/ingest/{job_id}/batches"
    csv_type = {"Content-Type": "text/csv"}
    assert request(salesforce, "PUT", batches, b"X__c,Email\r\na,a@b.co\r\n", **csv_type)[0] == 400
    assert request(salesforce, "PUT", batches, b"Email\na@b.co\n", **csv_type)[0] == 400
    assert request(salesforce, "PUT", batches, b"X__c,Email\na,a@b.co\n", **csv_type)[0] == 201
    assert request(salesforce, "PUT", batches, b"X__c,Email\nb,b@b.co\n", **csv_type)[0] == 409
    results = f"{API}/jobs/ingest/{job_id}/successfulResults/"
    assert request(salesforce, "GET", results, b"")[0] == 400  # not final yet
    records = [{"attributes": {"type": "Contact"}, "X__c": str(i)} for i in range(201)]
    path = f"{API}/composite/sobjects/Contact/X__c"
    assert request(salesforce, "PATCH", path, {"allOrNone": False, "records": records})[0] == 400
    status, body = request(salesforce, "PATCH", path, {"allOrNone": False, "records": records[:2]})
    assert status == 200 and [r["created"] for r in json.loads(body)] == [True, True]
    assert (
        request(salesforce, "POST", f"{API}/jobs/ingest", job, Authorization="Bearer no")[0] == 401
    )


@pytest.mark.parametrize(
    ("override", "words"),
    [
        ({"options": {}}, "options.external_id_field"),
        ({"options": {"external_id_field": "Email"}}, "must map the primary key"),
        ({"object": "Contact; drop"}, "object API name"),
        ({"options": {"external_id_field": SF_EXTERNAL_ID, "extra": 1}}, "unknown option"),
        ({"mode": "add_remove"}, "not supported by salesforce"),
    ],
)
def test_bad_salesforce_syncs_are_refused_naming_the_field(
    tmp_path: Path, override: dict, words: str
) -> None:
    syncs_dir = write_config(
        tmp_path / "syncs", [salesforce_destination("http://x")], [salesforce_sync(**override)]
    )
    with pytest.raises(ConfigError, match=words) as err:
        Catalog.load(syncs_dir)
    assert "syncs.yml" in str(err.value)


def test_destinations_catalogue_lists_types_limits_and_env_vars(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    from more_destination_cases import (
        braze_destination,
        braze_sync,
        google_destination,
        google_sync,
    )

    from reverse_etl.__main__ import main
    from reverse_etl.cli import console

    monkeypatch.setattr(console, "width", 250)
    monkeypatch.setenv("TEST_SALESFORCE_TOKEN", "x")
    monkeypatch.delenv("TEST_BRAZE_KEY", raising=False)
    syncs_dir = write_config(
        tmp_path / "syncs",
        [
            salesforce_destination("http://x"),
            braze_destination("http://y"),
            google_destination("http://z"),
        ],
        [salesforce_sync(), braze_sync(), google_sync()],
    )
    assert main(["sync", "--syncs-dir", str(syncs_dir), "destinations"]) == 0
    out = capsys.readouterr().out
    assert "3,000 requests / 3 s" in out and "75 / 75" in out  # Braze
    assert "10,000 / 100,000" in out and "15,000 Bulk batches" in out  # Salesforce
    assert "add_remove" in out and "developer_token" in out  # Google Ads
    assert "TEST_SALESFORCE_TOKEN (set)" in out and "TEST_BRAZE_KEY (NOT SET)" in out
