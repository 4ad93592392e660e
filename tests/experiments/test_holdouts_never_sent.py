"""Holdouts are never sent, in every sync mode, through the real path end to end.

The experiments models (real dbt) write experiments.sync_holdouts; the real sync runner plans
in the warehouse and sends over HTTP to the local destination emulators (a signed webhook per
mode, and the Meta custom-audience emulator with hashed PII). Three moments:

1. Before the experiment starts: no one is held out, everyone is sent.
2. Once it has started: holdout members get no write in any mode; modes that remove
   (mirror, add_remove) take them out of the destination, the others leave them alone.
3. A person who joins the segment before any membership refresh recorded them: held out
   from the first send if their hash falls in the holdout.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from experiments_env import build_experiments, expected_bucket, query

from reverse_etl.hashing import hash_value
from reverse_etl.runner import SyncPaths, run_sync
from reverse_etl.testing import EmulatorHandle, start_emulator
from tessera.settings import Settings
from tessera.warehouse import Warehouse

WEBHOOK_MODES = ("upsert", "update", "insert", "mirror", "add_remove")
SECRET, META_TOKEN = "whsec-experiments-test", "EAAB-experiments-test"
AUDIENCE_ID = "555000111"


@pytest.fixture(scope="module")
def emulators() -> Iterator[dict[str, EmulatorHandle]]:
    handles = {mode: start_emulator("webhook", token=SECRET) for mode in WEBHOOK_MODES}
    handles["meta"] = start_emulator("meta_audience", token=META_TOKEN)
    try:
        yield handles
    finally:
        for handle in handles.values():
            handle.stop()


@pytest.fixture(scope="module")
def paths(
    built: Settings, emulators: dict[str, EmulatorHandle], tmp_path_factory: pytest.TempPathFactory
) -> SyncPaths:
    syncs_dir: Path = tmp_path_factory.mktemp("syncs")
    destinations: list[dict[str, Any]] = [
        {
            "name": f"hook_{mode}",
            "type": "webhook",
            "base_url": emulators[mode].base_url,
            "credentials": {"signing_secret": "EXP_TEST_WEBHOOK_SECRET"},
        }
        for mode in WEBHOOK_MODES
    ]
    destinations.append(
        {
            "name": "meta",
            "type": "meta_audience",
            "base_url": emulators["meta"].base_url,
            "credentials": {"access_token": "EXP_TEST_META_TOKEN"},
        }
    )
    syncs: list[dict[str, Any]] = [
        {
            "name": f"exp_{mode}",
            "segment": "segments.exp_audience",
            "primary_key": "person_id",
            "destination": f"hook_{mode}",
            "object": "people",
            "mode": mode,
            "mapping": {"email": "email", "first_name": "first_name"},
        }
        for mode in WEBHOOK_MODES
    ]
    syncs.append(
        {
            "name": "exp_meta",
            "segment": "segments.exp_audience",
            "primary_key": "person_id",
            "destination": "meta",
            "object": AUDIENCE_ID,
            "mode": "add_remove",
            "mapping": {"EMAIL_SHA256": "email"},
            "hashing": {"EMAIL_SHA256": "email"},
        }
    )
    (syncs_dir / "destinations.yml").write_text(yaml.safe_dump({"destinations": destinations}))
    (syncs_dir / "experiment_syncs.yml").write_text(yaml.safe_dump({"syncs": syncs}))
    return SyncPaths(syncs_dir, None, syncs_dir / "locks")


@pytest.fixture(autouse=True)
def secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXP_TEST_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("EXP_TEST_META_TOKEN", META_TOKEN)


def sync_all(settings: Settings, paths: SyncPaths) -> dict[str, Any]:
    catalog = paths.catalog()
    names = [f"exp_{mode}" for mode in WEBHOOK_MODES] + ["exp_meta"]
    return {n: run_sync(settings, catalog, n, lock_dir=paths.lock_dir) for n in names}


def meta_member(email: str) -> str:
    return hash_value("email", email) or ""


def members(settings: Settings) -> dict[str, str]:
    frame = query(settings, "select person_id, email from segments.exp_audience")
    return dict(zip(frame.person_id, frame.email, strict=True))


def arms(settings: Settings) -> dict[str, str]:
    frame = query(
        settings,
        "select person_id, arm from experiments.assignments where experiment = 'exp_split'",
    )
    return dict(zip(frame.person_id, frame.arm, strict=True))


def meta_members(emulators: dict[str, EmulatorHandle]) -> set[Any]:
    app = emulators["meta"].app
    with app.lock:
        return {m[0] if isinstance(m, tuple) else m for m in app.members.get(AUDIENCE_ID, set())}


def test_holdouts_are_never_sent_and_leave_where_the_mode_removes(
    built: Settings, paths: SyncPaths, emulators: dict[str, EmulatorHandle]
) -> None:
    # 1. measured before the start: nobody is held out, so everybody is sent
    build_experiments(built, as_of="2019-06-01")
    assert query(built, "select * from experiments.sync_holdouts where sync_name like 'exp%'").empty
    first = sync_all(built, paths)
    people = members(built)
    for mode in WEBHOOK_MODES:
        assert set(emulators[mode].app.records) == set(people), mode
        assert first[f"exp_{mode}"].plan.counts["added"] == len(people)
    assert {meta_member(e) for e in people.values()} <= meta_members(emulators)

    # 2. the experiment has started: its holdout is kept out
    build_experiments(built)
    split = arms(built)
    held = {p for p, arm in split.items() if arm == "holdout"}
    treated = {p for p, arm in split.items() if arm == "treatment"}
    assert len(held) > 20 and len(treated) > 20
    writes = {mode: Counter(emulators[mode].app.received) for mode in WEBHOOK_MODES}
    with Warehouse(built).session() as session:  # everyone changes: only treatment is sent
        session.execute("update segments.exp_audience set first_name = 'Changed'")
    second = sync_all(built, paths)
    for mode in WEBHOOK_MODES:
        app = emulators[mode].app
        assert all(app.received[p] == writes[mode][p] for p in held), mode  # no write at all
        removes = mode in ("mirror", "add_remove")
        assert second[f"exp_{mode}"].plan.counts["removed"] == (len(held) if removes else 0)
        if removes:
            assert not held & set(app.records), mode
            assert all(app.removals_received[p] == 1 for p in held), mode
        else:
            assert held <= set(app.records), mode
            assert all(app.records[p].get("first_name") != "Changed" for p in held), mode
        if mode != "insert":
            assert all(app.records[p].get("first_name") == "Changed" for p in treated), mode
    audience = meta_members(emulators)
    assert not {meta_member(people[p]) for p in held} & audience
    assert {meta_member(people[p]) for p in treated} <= audience
    # the plans are settled: a third run sends nothing
    assert all(r.plan.to_send == 0 for r in sync_all(built, paths).values())

    # 3. newcomers before any membership refresh: the hash alone decides who is held out
    known = set(people)
    candidates = query(
        built,
        "select person_id from identity.persons order by person_id",
    ).person_id
    newcomers: dict[str, str] = {}
    for person in candidates:
        if person in known:
            continue
        arm = "treatment" if expected_bucket("exp_split", person) < 6000 else "holdout"
        newcomers.setdefault(arm, person)
        if len(newcomers) == 2:
            break
    with Warehouse(built).session() as session:
        for arm, person in newcomers.items():
            session.execute(
                "insert into segments.exp_audience (person_id, email, first_name) "
                f"values ('{person}', '{arm}.{person}@example.com', 'New')"
            )
    sync_all(built, paths)
    for mode in WEBHOOK_MODES:
        records = emulators[mode].app.records
        assert newcomers["holdout"] not in records, mode
        assert emulators[mode].app.received[newcomers["holdout"]] == 0, mode
        assert newcomers["treatment"] in records, mode
    audience = meta_members(emulators)
    holdout_email = f"holdout.{newcomers['holdout']}@example.com"
    assert meta_member(holdout_email) not in audience
    assert meta_member(f"treatment.{newcomers['treatment']}@example.com") in audience
