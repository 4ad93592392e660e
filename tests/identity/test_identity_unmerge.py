"""Unmerges and reprocessing on incremental runs: late rows of a source without a load clock,
a rule change, a deletion upstream; person_merges records splits as well as merges; the
persons check fails the build when a person breaks the limits."""

from __future__ import annotations

from pathlib import Path

from identity_dbt import (
    dbt,
    frame,
    full_rebuild_partition,
    graph,
    partition,
    run_identity,
    settings_for,
)
from identity_raw import at, create_raw_tables, crm, days, insert, order, pos

from tessera.warehouse import Warehouse


def new_warehouse(tmp: Path) -> Path:
    path = tmp / "wh.duckdb"
    with Warehouse(settings_for(path)).session() as session:
        create_raw_tables(session)
    return path


def add(path: Path, table: str, rows: list[dict]) -> None:
    with Warehouse(settings_for(path)).session() as session:
        insert(session, table, rows)


def test_a_late_pos_row_older_than_the_watermark_is_folded_in_once(tmp_path: Path) -> None:
    path = new_warehouse(tmp_path)
    settings, target = settings_for(path), tmp_path / "target"
    add(path, "crm_contacts", [crm("c1", days(1), email="late@mail.com", phone="+1 206 555 3001")])
    add(path, "pos_purchases", [pos(f"p{i}", days(10 + i), loyalty_id="L_late") for i in range(3)])
    run_identity(settings, target)
    assert graph(path)["loyalty_id:L_late"] != graph(path)["email:late@mail.com"]

    # A store uploads an offline day: purchases from day 5, before the POS watermark (day 12);
    # POS has no load clock of its own, only the purchase time.
    add(path, "pos_purchases", [pos("p_late", days(5), loyalty_id="L_late", phone="206.555.3001")])
    run_identity(settings, target)
    after = graph(path)
    assert after["loyalty_id:L_late"] == after["email:late@mail.com"] == after["phone:+12065553001"]

    # Run again, nothing new: nothing is counted twice.
    run_identity(settings, target)
    counted = frame(
        path, "select sum(record_count) as n from identity.identity_records where source = 'pos'"
    ).n[0]
    assert counted == 4
    assert partition(path) == full_rebuild_partition(path, target)


def three_customers_on_one_phone(path: Path) -> None:
    """A phone two customers' orders and a third's loyalty card share, twice each."""
    add(
        path,
        "orders",
        [
            order(f"a{i}", days(i), customer_email="ann@mail.com", customer_phone="+1 617 555 4001")
            for i in range(2)
        ]
        + [
            order(f"c{i}", days(2 + i), customer_email="cy@mail.com", customer_phone="617-555-4001")
            for i in range(2)
        ],
    )
    add(
        path,
        "pos_purchases",
        [pos(f"b{i}", days(4 + i), loyalty_id="L_bo", phone="(617) 555-4001") for i in range(2)],
    )


def test_a_stricter_hub_rule_splits_persons_on_the_next_incremental_run(tmp_path: Path) -> None:
    path = new_warehouse(tmp_path)
    settings, target = settings_for(path), tmp_path / "target"
    three_customers_on_one_phone(path)
    run_identity(settings, target)
    before = graph(path)
    keys = ("email:ann@mail.com", "email:cy@mail.com", "loyalty_id:L_bo")
    assert len({before[k] for k in keys}) == 1

    # The company decides a phone seen with two addresses is a shared line: a rule change,
    # no new data. The incremental run resolves the components whose edges changed.
    stricter = {"identity_hub_max_links": {"default": {}, "phone": {"email": 1}}}
    run_identity(settings, target, vars=stricter)
    after = graph(path)
    assert len({after[k] for k in keys}) == 3
    assert "phone:+16175554001" not in after
    changes = frame(
        path, "select old_person_id, person_id, change_type from identity.person_merges"
    )
    assert set(changes.change_type) == {"split"}
    assert set(changes.old_person_id) == {before["email:ann@mail.com"]}
    assert len(changes) == 2
    assert partition(path) == full_rebuild_partition(path, target, vars=stricter)


def test_a_stricter_person_limit_splits_persons_on_the_next_incremental_run(
    tmp_path: Path,
) -> None:
    path = new_warehouse(tmp_path)
    settings, target = settings_for(path), tmp_path / "target"
    three_customers_on_one_phone(path)
    run_identity(settings, target)
    assert len(set(graph(path).values())) == 1

    one_email = {
        "identity_person_limits": {
            "user_id": 1,
            "crm_id": 2,
            "email": 1,
            "phone": 2,
            "loyalty_id": 2,
            "device_id": 10,
            "anonymous_id": None,
        }
    }
    run_identity(settings, target, vars=one_email)
    after = graph(path)
    assert after["email:ann@mail.com"] != after["email:cy@mail.com"]
    runs = frame(
        path,
        "select mode from identity.identity_cc_runs where mode <> 'strong' order by run_started_at",
    )
    assert list(runs["mode"].drop_duplicates()) == ["full"]  # rules changed: all again
    assert "split" in set(frame(path, "select change_type from identity.person_merges").change_type)
    assert partition(path) == full_rebuild_partition(path, target, vars=one_email)


def test_records_deleted_upstream_unmerge_after_identity_records_is_rebuilt(
    tmp_path: Path,
) -> None:
    path = new_warehouse(tmp_path)
    settings, target = settings_for(path), tmp_path / "target"
    add(
        path,
        "orders",
        [order(f"o{i}", days(i), customer_email="dee@mail.com", user_id="u_dee") for i in range(2)]
        + [order("wrong", days(3), customer_email="eve@mail.com", user_id="u_dee")],
    )
    # eve gets the newsletter: her address lives on without the order
    add(
        path,
        "email_events",
        [{"event_id": "n1", "email": "eve@mail.com", "occurred_at": at(days(2))}],
    )
    run_identity(settings, target)
    before = graph(path)
    assert before["email:eve@mail.com"] == before["user_id:u_dee"]

    # The shop deletes the mistyped order. identity_records is rebuilt from what the sources
    # hold now; the graph runs incrementally, so the person that lost the edge splits.
    with Warehouse(settings).session() as session:
        session.execute("delete from raw.orders where order_id = 'wrong'")
    dbt(settings, target, "run", "--select", "identity_records", "--full-refresh")
    dbt(settings, target, "run", "--select", "identity", "--exclude", "identity_records")
    after = graph(path)
    assert after["email:eve@mail.com"] != after["user_id:u_dee"]
    assert after["user_id:u_dee"] == before["user_id:u_dee"]  # the person keeps its id
    changes = frame(
        path, "select old_person_id, person_id, change_type from identity.person_merges"
    )
    assert list(changes.itertuples(index=False, name=None)) == [
        (before["user_id:u_dee"], after["email:eve@mail.com"], "split")
    ]


def test_the_persons_check_fails_the_build_when_a_person_breaks_a_limit(tmp_path: Path) -> None:
    path = new_warehouse(tmp_path)
    settings, target = settings_for(path), tmp_path / "target"
    three_customers_on_one_phone(path)
    run_identity(settings, target)
    check = ("test", "--select", "persons", "--indirect-selection", "cautious")
    passing = dbt(settings, target, *check, check=False)
    assert passing.returncode == 0, passing.output[-2000:]

    # Someone tightens the limits without rebuilding: the graph on disk now holds a person
    # over them, and the check says so by failing, not by warning.
    one_email = {
        "identity_person_limits": {
            "user_id": 1,
            "crm_id": 2,
            "email": 1,
            "phone": 2,
            "loyalty_id": 2,
            "device_id": 10,
            "anonymous_id": None,
        }
    }
    failing = dbt(settings, target, *check, vars=one_email, check=False)
    assert failing.returncode != 0
    assert "identity_person_limits_persons_" in " ".join(failing.failed_nodes())
