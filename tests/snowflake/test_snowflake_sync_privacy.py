"""Reverse ETL's SQL beyond the plain diff, on Snowflake (fakesnow): the suppression join
(deletion requests through merges, revoked consent, holdouts), the privacy audit's SHA-256,
journal marks in the commit transaction, journal replay and reconcile's state marks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import yaml
from fakesnow_env import FakesnowServer, snowflake_settings

from reverse_etl.journal import AckJournal
from reverse_etl.privacy import request_deletion
from reverse_etl.reconcile import reconcile_sync
from reverse_etl.runner import SyncPaths, run_sync
from reverse_etl.state import Outcomes
from reverse_etl.testing import EmulatorHandle, start_emulator
from tessera.settings import Settings
from tessera.warehouse import Warehouse

pytestmark = pytest.mark.snowflake
TOKEN = "sf-privacy-token"


@pytest.fixture(scope="module")
def settings(fakesnow_server: FakesnowServer, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = snowflake_settings(fakesnow_server, tmp_path_factory.mktemp("sf_privacy"))
    people = pd.DataFrame(
        {
            "person_id": [f"q{i:04d}" for i in range(300)],
            "email": [f"q{i}@example.com" for i in range(300)],
            "first_name": [f"F{i}" for i in range(300)],
        }
    )
    profiles = pd.DataFrame({"person_id": people.person_id, "consent_email": True})
    with Warehouse(settings).session() as s:
        s.write_df(people, "segments", "sf_people", mode="replace")
        # the server is shared: the pipeline test in this session may have built the view
        s.execute("create schema if not exists profiles")
        s.execute("drop view if exists profiles.customer_profiles")
        s.write_df(profiles, "profiles", "customer_profiles", mode="replace")
    return settings


@pytest.fixture
def hubspot(monkeypatch: pytest.MonkeyPatch) -> Iterator[EmulatorHandle]:
    monkeypatch.setenv("SF_TEST_HUBSPOT_TOKEN", TOKEN)
    with start_emulator("hubspot", token=TOKEN) as handle:
        yield handle


def sync_paths(tmp_path: Path, base_url: str) -> SyncPaths:
    syncs = tmp_path / "syncs"
    syncs.mkdir()
    destination = {
        "name": "hubspot",
        "type": "hubspot",
        "base_url": base_url,
        "credentials": {"token": "SF_TEST_HUBSPOT_TOKEN"},
        "batch_size": 50,
    }
    sync = {
        "name": "sf_crm",
        "segment": "segments.sf_people",
        "destination": "hubspot",
        "object": "contacts",
        "mapping": {"email": "email", "firstname": "first_name"},
        "consent": "email",
    }
    (syncs / "destinations.yml").write_text(yaml.safe_dump({"destinations": [destination]}))
    (syncs / "syncs.yml").write_text(yaml.safe_dump({"syncs": [sync]}))
    return SyncPaths(syncs, None, tmp_path / "locks")


def test_suppression_audit_journal_and_reconcile_run_on_snowflake(
    tmp_path: Path, settings: Settings, hubspot: EmulatorHandle
) -> None:
    paths = sync_paths(tmp_path, hubspot.base_url)

    def sync() -> object:
        return run_sync(settings, paths.catalog(), "sf_crm", lock_dir=paths.lock_dir)

    assert sync().stats.sent_ok == 300
    with Warehouse(settings).session() as s:
        request_deletion(s, "merged-away")
        s.write_df(
            pd.DataFrame({"old_person_id": ["merged-away"], "person_id": ["q0010"]}),
            "identity",
            "person_merges",
            mode="replace",
        )
        s.execute(
            "update profiles.customer_profiles set consent_email = false where person_id = 'q0011'"
        )
        s.write_df(
            pd.DataFrame(
                {
                    "sync_name": ["sf_crm"],
                    "person_id": ["q0012"],
                    "experiment": "e",
                    "arm": "holdout",
                }
            ),
            "experiments",
            "sync_holdouts",
            mode="replace",
        )
    second = sync()
    assert (second.plan.counts["erased"], second.plan.counts["suppressed"]) == (1, 1)
    assert "q10@example.com" in hubspot.app.gdpr_deleted
    assert "q11@example.com" in hubspot.app.archived
    assert "q12@example.com" in hubspot.app.contacts  # upsert: a holdout is left alone
    with Warehouse(settings).session(read_only=True) as s:
        audit = s.df("select kind, person_id, key_sha256 from tessera_sync.privacy_audit")
        state = s.scalar(
            "select count(*) from tessera_sync.state_sf_crm where key in ('q0010', 'q0011')"
        )
    assert sorted(audit.kind) == ["erased", "suppressed"] and state == 0
    assert all(len(h) == 64 for h in audit.key_sha256)

    # a killed run's journal is committed by the next run on Snowflake too
    # (the run is named, not max(run_id): the fakesnow server is shared with other syncs' tests)
    with Warehouse(settings).session() as s:
        s.execute("delete from tessera_sync.state_sf_crm where key = 'q0020'")
    journal = AckJournal(paths.journal_dir(settings), "sf_crm", second.run_id)
    recovered = Outcomes()
    recovered.add("q0020", "synced", "added", "stale-hash", "id-20", None, "q0020")
    journal.append(1, recovered)
    journal.close(delete=False)
    third = sync()
    assert third.recovered_rows == 1
    assert third.plan.counts["changed"] == 1  # the journaled hash was stale: sent again

    # reconcile: an edit out of band is read back and repaired
    with hubspot.app.lock:
        hubspot.app.contacts["q30@example.com"]["properties"]["firstname"] = "Edited"
    report = reconcile_sync(settings, paths.catalog(), "sf_crm", paths=paths)
    assert (report.changed, report.missing) == (1, 0)
    assert hubspot.app.contacts["q30@example.com"]["properties"]["firstname"] == "F30"
