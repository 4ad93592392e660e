"""`tessera sync reconcile`: rows deleted or edited in the destination out of band are found
by reading the destination back, and exactly those are repaired; rows applied but never
acknowledged are recorded without a resend; unreadable destinations say so."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import more_destination_cases as more
import pytest
from retl_helpers import (
    HUBSPOT_TOKEN,
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

from reverse_etl.reconcile import reconcile_sync, same
from reverse_etl.testing import EmulatorHandle, start_emulator
from tessera.settings import Settings


def reconcile(settings: Settings, paths: Any, name: str, **kwargs: Any) -> Any:
    return reconcile_sync(settings, paths.catalog(), name, paths=paths, **kwargs)


def writes_since(app: Any, before: Counter[str]) -> Counter[str]:
    with app.lock:
        return Counter({k: n - before[k] for k, n in app.received.items() if n > before[k]})


def test_values_compare_as_the_destination_stores_them() -> None:
    assert same("Ada", " Ada ") and not same("Ada", "ada")
    assert same(120.5, "120.5") and same(3, "3.0") and not same(3, "4")
    assert same(True, "true") and not same(False, "true")
    assert same(None, None) and same(None, "") and not same("x", None)


def test_hubspot_reconcile_repairs_exactly_the_drifted_contacts(
    tmp_path: Path, settings: Settings, hubspot: EmulatorHandle
) -> None:
    app = hubspot.app
    paths = sync_paths(tmp_path, [hubspot_destination(hubspot.base_url)], [hubspot_sync()])
    assert run(settings, paths, "crm").stats.sent_ok == 1960
    deleted = ["person.11@example.com", "person.12@example.com", "person.13@example.com"]
    edited = ["person.21@example.com", "person.22@example.com", "person.23@example.com"]
    with app.lock:  # what a CRM user or another integration does
        for email in deleted:
            contact = app.contacts.pop(email)
            app.ids.pop(contact["id"])
        for email in edited:
            app.contacts[email]["properties"]["firstname"] = "Changed in HubSpot"
        renamed = app.contacts.pop("person.24@example.com")  # email edited in the CRM
        renamed["properties"]["email"] = "someone.else@example.org"
        app.contacts["someone.else@example.org"] = renamed
        app.ids[renamed["id"]] = "someone.else@example.org"
    # two rows applied but never acknowledged: state forgot them, HubSpot has them
    execute(settings, "delete from tessera_sync.state_crm where key in ('p0000031', 'p0000032')")

    before = Counter(app.received)
    dry = reconcile(settings, paths, "crm", dry_run=True)
    assert (dry.checked, dry.missing, dry.changed, dry.acknowledged) == (1960, 3, 4, 2)
    assert sorted(dry.examples["resend_missing"]) == ["p0000011", "p0000012", "p0000013"]
    assert dry.repair is None and not writes_since(app, before)
    assert run(settings, paths, "crm").plan.to_send == 2  # dry run changed no state
    execute(settings, "delete from tessera_sync.state_crm where key in ('p0000031', 'p0000032')")
    before = Counter(app.received)

    report = reconcile(settings, paths, "crm")
    assert (report.missing, report.changed, report.acknowledged) == (3, 4, 2)
    assert report.repair is not None and report.repair.status == "success"
    # exactly the drifted contacts were written, once each; the acknowledged two were not
    repaired = writes_since(app, before)
    assert sorted(repaired) == sorted([*deleted, *edited, "person.24@example.com"])
    assert set(repaired.values()) == {1}
    assert live_contacts(app) == expected_contacts(settings)
    planned: list[int] = []
    read: list[int] = []  # what the CLI's progress bar is drawn from
    final = reconcile(
        settings, paths, "crm", dry_run=True, on_plan=planned.append, on_progress=read.append
    )
    assert final.in_sync == 1960 and planned == [1960] and sum(read) == 1960
    assert run(settings, paths, "crm").plan.to_send == 0


def test_salesforce_reconcile_reads_by_soql_with_pagination(
    tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in more.ENV.items():
        monkeypatch.setenv(name, value)
    with start_emulator("salesforce", token=more.SALESFORCE_TOKEN) as sf:
        sf.app.query_page_size = 70  # every query of 200 keys takes three pages
        paths = sync_paths(
            tmp_path, [more.salesforce_destination(sf.base_url)], [more.salesforce_sync()]
        )
        run(settings, paths, "sf")
        records = sf.app.records[more.SF_OBJECT]
        with sf.app.lock:
            gone = records.pop("p0000101")
            sf.app.ids.pop(gone["Id"])
            records["p0000102"]["LastName"] = "Edited"
        before = Counter(sf.app.received)
        report = reconcile(settings, paths, "sf")
        assert (report.missing, report.changed, report.acknowledged) == (1, 1, 0)
        assert sorted(writes_since(sf.app, before)) == ["p0000101", "p0000102"]
        assert more.salesforce_actual(sf.app) == more.salesforce_expected(settings)
        queries = [r for r in sf.app.requests if "/query" in r.path]
        assert any("/query/" in r.path for r in queries)  # nextRecordsUrl was followed


def test_braze_reconcile_reads_users_export(
    tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in more.ENV.items():
        monkeypatch.setenv(name, value)
    with start_emulator("braze", token=more.BRAZE_KEY) as braze:
        paths = sync_paths(
            tmp_path, [more.braze_destination(braze.base_url)], [more.braze_sync(mode="upsert")]
        )
        run(settings, paths, "braze")
        with braze.app.lock:
            braze.app.users[("external_id", "p0000201")]["first_name"] = "Edited in Braze"
            del braze.app.users[("external_id", "p0000202")]
        before = Counter(braze.app.received)
        report = reconcile(settings, paths, "braze")
        assert (report.missing, report.changed) == (1, 1)
        assert sorted(writes_since(braze.app, before)) == [
            "external_id:p0000201",
            "external_id:p0000202",
        ]
        assert more.braze_actual(braze.app) == more.braze_expected(settings)


def test_audiences_cannot_be_read_back_and_reconcile_says_so(
    tmp_path: Path, settings: Settings, meta: EmulatorHandle
) -> None:
    paths = sync_paths(tmp_path, [meta_destination(meta.base_url)], [meta_sync()])
    run(settings, paths, "ads")
    requests = len(meta.app.requests)
    report = reconcile(settings, paths, "ads")
    assert not report.readable and "approximate" in (report.reason or "")
    assert report.repair is None and len(meta.app.requests) == requests


def test_hubspot_emulator_lists_contacts_page_by_page(
    tmp_path: Path, settings: Settings, hubspot: EmulatorHandle
) -> None:
    paths = sync_paths(tmp_path, [hubspot_destination(hubspot.base_url)], [hubspot_sync()])
    run(settings, paths, "crm")
    seen: list[str] = []
    after = ""
    while True:
        url = f"{hubspot.base_url}/crm/v3/objects/contacts?limit=100&properties=email,firstname"
        request = urllib.request.Request(
            url + (f"&after={after}" if after else ""),
            headers={"Authorization": f"Bearer {HUBSPOT_TOKEN}"},
        )
        with urllib.request.urlopen(request) as response:
            page = json.loads(response.read())
        assert len(page["results"]) <= 100
        seen += [c["properties"]["email"] for c in page["results"]]
        assert set(page["results"][0]["properties"]) == {"email", "firstname", "hs_object_id"}
        after = (page.get("paging") or {}).get("next", {}).get("after", "")
        if not after:
            break
    assert sorted(seen) == sorted(expected_contacts(settings))
    assert len(query(settings, "select * from tessera_sync.state_crm")) == len(seen)


def test_salesforce_emulator_reads_one_record_by_external_id_and_refuses_other_soql(
    tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in more.ENV.items():
        monkeypatch.setenv(name, value)
    with start_emulator("salesforce", token=more.SALESFORCE_TOKEN) as sf:
        paths = sync_paths(
            tmp_path, [more.salesforce_destination(sf.base_url)], [more.salesforce_sync()]
        )
        run(settings, paths, "sf")
        headers = {"Authorization": f"Bearer {more.SALESFORCE_TOKEN}"}
        api = f"{sf.base_url}/services/data/v61.0"

        def get(path: str) -> tuple[int, Any]:
            request = urllib.request.Request(api + path, headers=headers)
            try:
                with urllib.request.urlopen(request) as response:
                    return response.status, json.loads(response.read())
            except urllib.error.HTTPError as exc:
                return exc.code, json.loads(exc.read())

        status, record = get(f"/sobjects/{more.SF_OBJECT}/{more.SF_EXTERNAL_ID}/p0000007")
        assert status == 200 and record[more.SF_EXTERNAL_ID] == "p0000007"
        assert record["attributes"]["type"] == more.SF_OBJECT
        assert record["attributes"]["url"].endswith(record["Id"])
        status, error = get(f"/sobjects/{more.SF_OBJECT}/{more.SF_EXTERNAL_ID}/nobody")
        assert status == 404 and error[0]["errorCode"] == "NOT_FOUND"
        status, error = get("/query?q=" + urllib.parse.quote("DELETE FROM Contact"))
        assert status == 400 and error[0]["errorCode"] == "MALFORMED_QUERY"
