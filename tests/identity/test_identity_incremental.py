"""Incremental identity runs: same partition as a full rebuild, stable ids, recorded merges."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from identity_dbt import (
    frame,
    full_rebuild_partition,
    graph,
    partition,
    run_identity,
    settings_for,
)
from identity_raw import at, create_raw_tables, days, event, insert, order

from tessera.warehouse import Warehouse

END = date(2026, 6, 30)


def merges(path: Path) -> set[tuple[str, str]]:
    df = frame(path, "select old_person_id, person_id from identity.person_merges")
    return set(zip(df.old_person_id, df.person_id, strict=True))


RECORD_COLUMNS = (
    "source, user_id, crm_id, email, phone, loyalty_id, device_id, anonymous_id, "
    "first_seen_at, last_seen_at, source_loaded_at, record_count"
)


def records(path: Path) -> set[tuple]:
    """identity_records without its run stamp: what a full build must reproduce."""
    df = frame(path, f"select {RECORD_COLUMNS} from identity.identity_records")
    return set(df.astype(object).where(df.notna(), None).itertuples(index=False, name=None))


def consent(consent_id: str, minute: int, subject_type: str, subject_id: str) -> dict:
    """A consent choice: the consent platform has no load time, recorded_at is its clock."""
    return {
        "consent_id": consent_id,
        "subject_type": subject_type,
        "subject_id": subject_id,
        "purpose": "email",
        "status": "granted",
        "recorded_at": at(minute),
        "source": "banner",
    }


def test_several_incremental_steps_equal_a_full_build(tmp_path: Path) -> None:
    from tessera.datagen import append_activity, generate

    path = tmp_path / "wh.duckdb"
    settings = settings_for(path)
    warehouse = Warehouse(settings)
    generate(warehouse, persons=1500, seed=11, end_date=END, days=365, progress=False)
    target = tmp_path / "target"
    run_identity(settings, target)
    start = datetime(END.year, END.month, END.day) + timedelta(days=1)
    for step in range(2):
        append_activity(
            warehouse,
            seed=11,
            start=start + timedelta(days=30 * step),
            end=start + timedelta(days=30 * (step + 1)),
            persons_fraction=0.3,
        )
        run_identity(settings, target)

    runs = frame(
        path,
        "select mode, max(region_nodes) as region, max(edge_nodes) as nodes "
        "from identity.identity_cc_runs group by invocation_id, mode",
    )
    assert list(runs["mode"]).count("incremental") == 2
    total = len(graph(path))
    incremental_regions = runs[runs["mode"] == "incremental"].region
    assert (incremental_regions < total).all()  # only touched persons were resolved
    assert partition(path) == full_rebuild_partition(path, target)


def test_merge_keeps_the_older_id_and_records_it(tmp_path: Path) -> None:
    path = tmp_path / "wh.duckdb"
    settings = settings_for(path)
    target = tmp_path / "target"
    with Warehouse(settings).session() as session:
        create_raw_tables(session)
        insert(
            session,
            "events",
            [
                event("x1", 1, anonymous_id="a_x", user_id="u_x"),  # older person
                # a newsletter sign-up: a cookie and an email, no account
                event("y1", 5, anonymous_id="a_y", traits_email="y@mail.com"),
                event("z1", 7, anonymous_id="a_z", user_id="u_z"),  # bystander
            ],
        )
    run_identity(settings, target)
    before = graph(path)
    older, younger = before["user_id:u_x"], before["email:y@mail.com"]
    assert older != younger

    # Later x checks out with that email while logged in: the two persons are one.
    with Warehouse(settings).session() as session:
        insert(session, "orders", [order("xy", 60, customer_email="y@mail.com", user_id="u_x")])
    run_identity(settings, target)
    after = graph(path)
    assert {after[k] for k in ("user_id:u_x", "email:y@mail.com", "anonymous_id:a_y")} == {older}
    assert after["user_id:u_z"] == before["user_id:u_z"]
    assert merges(path) == {(younger, older)}
    persons = set(frame(path, "select person_id from identity.persons").person_id)
    assert younger not in persons and older in persons

    # A run with nothing new changes nothing and records no new merge.
    run_identity(settings, target)
    assert graph(path) == after
    assert merges(path) == {(younger, older)}
    assert partition(path) == full_rebuild_partition(path, target)


def test_device_that_becomes_shared_joins_no_one_like_a_full_rebuild(tmp_path: Path) -> None:
    path = tmp_path / "wh.duckdb"
    settings = settings_for(path)
    target = tmp_path / "target"
    with Warehouse(settings).session() as session:
        create_raw_tables(session)
        insert(
            session,
            "events",
            [
                event("d1", 1, anonymous_id="a_1", user_id="u_1", device_id="D_tab"),
                event("d2", 2, anonymous_id="a_tab", device_id="D_tab"),
            ],
        )
        insert(session, "orders", [order("o1", 3, customer_email="one@mail.com", user_id="u_1")])
    run_identity(settings, target)
    before = graph(path)
    assert before["device_id:D_tab"] == before["user_id:u_1"] == before["anonymous_id:a_tab"]

    # A second account logs in on the tablet: the device is shared and must stop merging.
    with Warehouse(settings).session() as session:
        insert(
            session,
            "events",
            [event("d3", 90, anonymous_id="a_2", user_id="u_2", device_id="D_tab")],
        )
    run_identity(settings, target)
    after = graph(path)
    # the tablet stays with its first account and joins no one: the second account's link
    # to it is cut, and the second person never merges into the first
    assert after["device_id:D_tab"] == after["user_id:u_1"] == before["user_id:u_1"]
    assert after["anonymous_id:a_tab"] == after["user_id:u_1"]
    assert after["user_id:u_2"] != after["user_id:u_1"]
    assert after["anonymous_id:a_2"] == after["user_id:u_2"]
    assert merges(path) == set()
    cut = frame(
        path,
        "select src_key, dst_key, reason from identity.identity_limit_cuts",
    )
    assert {frozenset((r.src_key, r.dst_key)) for r in cut.itertuples()} == {
        frozenset(("device_id:D_tab", "user_id:u_2"))
    }
    assert partition(path) == full_rebuild_partition(path, target)


def test_late_consent_older_than_the_lookback_is_folded_in_like_a_full_build(
    tmp_path: Path,
) -> None:
    path = tmp_path / "wh.duckdb"
    settings = settings_for(path)
    target = tmp_path / "target"
    with Warehouse(settings).session() as session:
        create_raw_tables(session)
        insert(session, "events", [event("e1", 0, user_id="u_1", traits_email="one@mail.com")])
        # the consent platform's watermark is day 100
        insert(
            session,
            "consents",
            [
                consent("c1", days(5), "email", "one@mail.com"),
                consent("c2", days(100), "user_id", "u_1"),
            ],
        )
    run_identity(settings, target)
    assert "email:late@mail.com" not in graph(path)

    # A backfill of consents recorded long before the watermark (day 100 - 30 lookback days):
    # a subject nobody has seen yet, a second choice of a known one, one inside the lookback.
    with Warehouse(settings).session() as session:
        insert(
            session,
            "consents",
            [
                consent("c3", days(10), "email", "late@mail.com"),
                consent("c4", days(20), "email", "one@mail.com"),
                consent("c5", days(90), "user_id", "u_9"),
            ],
        )
    run_identity(settings, target)
    after = graph(path)
    assert {"email:late@mail.com", "user_id:u_9"} <= set(after)
    cmp_counts = frame(
        path,
        "select email, record_count from identity.identity_records "
        "where source = 'cmp' and email is not null",
    )
    assert dict(zip(cmp_counts.email, cmp_counts.record_count, strict=True)) == {
        "one@mail.com": 2,
        "late@mail.com": 1,
    }

    # A run with nothing new counts nothing twice, and all of it is what a full build makes.
    run_identity(settings, target)
    assert graph(path) == after
    incremental_records = records(path)
    assert partition(path) == full_rebuild_partition(path, target)
    assert incremental_records == records(path)


def test_keys_kept_by_an_older_run_only_for_the_window_count_nothing_twice(
    tmp_path: Path,
) -> None:
    path = tmp_path / "wh.duckdb"
    settings = settings_for(path)
    target = tmp_path / "target"
    with Warehouse(settings).session() as session:
        create_raw_tables(session)
        insert(
            session,
            "consents",
            [
                consent("c1", days(5), "email", "one@mail.com"),
                consent("c2", days(100), "user_id", "u_1"),
            ],
        )
    run_identity(settings, target)
    # identity_records_seen as a run before full re-reads wrote it: no kept column, and of
    # cmp only the keys inside the lookback window (day 100 - 30)
    with Warehouse(settings).session() as session:
        session.execute(
            "delete from identity.identity_records_seen where source = 'cmp' and loaded_at <= ?",
            [at(days(70))],
        )
        session.execute("alter table identity.identity_records_seen drop column kept")
        insert(session, "consents", [consent("c3", days(95), "email", "one@mail.com")])
    # the first run reads cmp from the lookback (c1 is not read again) and keeps all its keys
    run_identity(settings, target)
    with Warehouse(settings).session() as session:
        insert(session, "consents", [consent("c4", days(10), "email", "late@mail.com")])
    run_identity(settings, target)
    incremental_records = records(path)
    assert partition(path) == full_rebuild_partition(path, target)
    assert incremental_records == records(path)


@pytest.mark.parametrize("cap", [0])
def test_bad_iteration_cap_var_fails_with_its_name(tmp_path: Path, cap: object) -> None:
    path = tmp_path / "wh.duckdb"
    settings = settings_for(path)
    with Warehouse(settings).session() as session:
        create_raw_tables(session)
    result = run_identity(
        settings, tmp_path / "target", vars={"identity_max_iterations": cap}, check=False
    )
    assert result.returncode != 0
    assert "identity_max_iterations" in result.output
