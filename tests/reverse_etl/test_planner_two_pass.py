"""The planner's two passes (narrow diff, then mapped values for the diff's keys only) give
every kind its right values, on DuckDB and as Snowflake SQL (through fakesnow)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from retl_helpers import (
    hubspot_destination,
    hubspot_sync,
    meta_destination,
    meta_sync,
    sync_paths,
)

from reverse_etl.config import SyncConfig
from reverse_etl.hashing import hash_value
from reverse_etl.planner import KINDS, build_plan, drop_plan, field_column
from reverse_etl.state import ensure_tables
from tessera.settings import Settings
from tessera.warehouse import Session, Warehouse

PEOPLE = [  # person_id, email, phone, consent_ads
    ("p1", "Ann@Example.com ", "+1 (415) 555-0101", True),
    ("p2", "bob@example.com", None, True),
    ("p3", "cy@example.com", "+44 20 7946 0958", True),
    ("p4", "dee@example.com", "+1 415 555 0104", False),  # never consented: never planned
    ("p5", "eve@example.com", "+1 415 555 0105", True),
]


def literal(value: object) -> str:
    if value is None:
        return "null"
    return repr(value) if isinstance(value, str) else str(value).lower()


def load(session: Session, people: list[tuple]) -> None:
    names = ("person_id", "email", "phone", "consent_ads")
    rows = " union all ".join(
        "select " + ", ".join(f"{literal(v)} as {n}" for v, n in zip(p, names, strict=True))
        for p in people
    )
    for schema in ("segments", "profiles"):
        session.execute(f"create schema if not exists {schema}")
    session.execute(
        "create or replace table segments.test_audience as "
        f"select person_id, email, phone from ({rows}) as t"
    )
    session.execute(
        "create or replace table profiles.customer_profiles as "
        f"select person_id, consent_ads from ({rows}) as t"
    )


def plan_rows(session: Session, sync: SyncConfig) -> dict[str, tuple]:
    plan = build_plan(session, sync)
    try:
        columns = ", ".join(field_column(i) for i in range(len(plan.fields)))
        table = session.arrow(f"select _key, _kind, {columns} from {plan.table}")
    finally:
        drop_plan(session, plan)
    rows = table.to_pylist()
    assert len(rows) == len({r["_key"] for r in rows})  # one row per key
    return {
        r["_key"]: (r["_kind"], *(r[field_column(i)] for i in range(len(plan.fields))))
        for r in rows
    }


def expected(person: tuple) -> tuple:
    return (hash_value("email", person[1]), hash_value("phone", person[2]))


def check_two_runs(session: Session, sync: SyncConfig) -> None:
    load(session, PEOPLE)
    first = plan_rows(session, sync)
    assert first == {p[0]: ("added", *expected(p)) for p in PEOPLE if p[3]}
    # acknowledge everything, then change one row, drop one, and fail one
    plan = build_plan(session, sync)
    session.execute(
        f"insert into tessera_sync.state_{sync.name} (key, row_hash, dest_id, status, attempts) "
        f"select _key, _row_hash, 'd-' || _key, case when _key = 'p5' then 'failed' "
        f"else 'synced' end, 0 from {plan.table}"
    )
    drop_plan(session, plan)
    changed = [
        ("p1", "ann.new@example.com", PEOPLE[0][2], True),
        *[p for p in PEOPLE[1:] if p[0] != "p3"],
    ]
    load(session, changed)
    second = plan_rows(session, sync)
    assert second == {
        "p1": ("changed", *expected(changed[0])),
        "p3": ("removed", None, None),  # nothing of a removed row leaves the warehouse
        "p5": ("retry", *expected(PEOPLE[4])),
    }


def test_two_pass_plan_on_duckdb(tmp_path: Path, settings: Settings) -> None:
    paths = sync_paths(tmp_path, [meta_destination("http://127.0.0.1:9")], [meta_sync()])
    sync = paths.catalog().sync("ads")
    with Warehouse(settings).session() as session:
        check_two_runs(session, sync)


def check_narrowed_removals(session: Session, sync: SyncConfig) -> None:
    """An audience removal names only the identifiers no other staying member holds
    (audience.py): neither one a row added this run carries nor one a member left in place
    holds; so does the old tuple of a member whose phone changed."""
    e1, p1 = expected(PEOPLE[0])
    e2, _ = expected(PEOPLE[1])
    e3, _ = expected(PEOPLE[2])
    e5, p5 = expected(PEOPLE[4])
    p9_new = ("p9", "eve@example.com", "+1 415 555 0109", True)  # p5's email
    p10_new = ("p10", "fay@example.com", "+1 415 555 0110", True)
    e10, _ = expected(p10_new)
    old_phone, old_phone_10 = (hash_value("phone", f"+1 415 555 01{n}") for n in (98, 99))
    ensure_tables(session, sync.name)
    session.execute(f"delete from tessera_sync.state_{sync.name}")  # fakesnow's is shared
    held = {  # what the audience holds: p3 shares p5's phone, p7 is p2's email again
        "p1": f"{e1}|{p1}",
        "p2": f"{e2}|",
        "p3": f"{e3}|{p5}",
        "p5": f"{e5}|{p5}",
        "p7": f"{e2}|",
        "p9": f"{e5}|{old_phone}",
        "p10": f"{e10}|{old_phone_10}",
    }
    values = ", ".join(f"('{key}', 'h', '{dest}', 'synced', 0)" for key, dest in held.items())
    session.execute(
        f"insert into tessera_sync.state_{sync.name} (key, row_hash, dest_id, status, attempts) "
        f"values {values}"
    )
    # p1, p3 and p7 leave; p6 arrives with p1's email; p9 and p10 have new phones
    load(session, [PEOPLE[1], PEOPLE[4], ("p6", PEOPLE[0][1], None, True), p9_new, p10_new])
    plan = build_plan(session, sync, removes_by_identifier=True)
    try:
        rows = session.arrow(
            f"select _key, _kind, _previous_dest_id from {plan.table} "
            "where _kind in ('removed', 'changed')"
        ).to_pylist()
        narrowed = plan.counts["narrowed"]
    finally:
        drop_plan(session, plan)
    assert {r["_key"]: (r["_kind"], r["_previous_dest_id"]) for r in rows} == {
        "p1": ("removed", f"|{p1}"),
        "p3": ("removed", f"{e3}|"),
        "p7": ("removed", None),  # nothing of its own: no removal is sent
        "p9": ("changed", f"|{old_phone}"),  # p5 keeps the email
        "p10": ("changed", f"{e10}|{old_phone_10}"),  # its own email: the whole old tuple
        "p2": ("changed", f"{e2}|"),  # the state's fake row hash; identifiers unchanged
        "p5": ("changed", f"{e5}|{p5}"),
    }
    assert narrowed == 4


def test_audience_removals_keep_shared_identifiers_on_duckdb(
    tmp_path: Path, settings: Settings
) -> None:
    paths = sync_paths(tmp_path, [meta_destination("http://127.0.0.1:9")], [meta_sync()])
    with Warehouse(settings).session() as session:
        check_narrowed_removals(session, paths.catalog().sync("ads"))


@pytest.fixture(scope="module")
def fakesnow_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A `fakesnow -s` server, as the Snowflake suite runs it (its helper module is reused)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "snowflake"))
    from fakesnow_env import running_fakesnow, snowflake_settings

    root = tmp_path_factory.mktemp("fakesnow")
    with running_fakesnow(root) as server:
        yield snowflake_settings(server, root)


def test_two_pass_plan_as_snowflake_sql(tmp_path: Path, fakesnow_settings: Settings) -> None:
    paths = sync_paths(tmp_path, [meta_destination("http://127.0.0.1:9")], [meta_sync()])
    sync = paths.catalog().sync("ads")
    with Warehouse(fakesnow_settings).session() as session:
        check_two_runs(session, sync)


def test_audience_removals_keep_shared_identifiers_as_snowflake_sql(
    tmp_path: Path, fakesnow_settings: Settings
) -> None:
    paths = sync_paths(tmp_path, [meta_destination("http://127.0.0.1:9")], [meta_sync()])
    with Warehouse(fakesnow_settings).session() as session:
        check_narrowed_removals(session, paths.catalog().sync("ads"))


def check_held_back(session: Session, sync: SyncConfig) -> None:
    """Rows sharing a HubSpot match value (the email, whatever its case) after the first by
    key, and rows taking an email a synced row holds, are held back naming the row sent."""
    from reverse_etl.destinations.hubspot import HubSpotContacts
    from reverse_etl.match import CONFLICT_COLUMN
    from reverse_etl.privacy import request_deletion

    match = HubSpotContacts.match_field(sync)

    def held_back() -> dict[str, str]:
        plan = build_plan(session, sync, match=match)
        try:
            rows = session.arrow(
                f"select _key, {CONFLICT_COLUMN} as instead from {plan.table} "
                f"where {CONFLICT_COLUMN} is not null"
            ).to_pylist()
            assert plan.counts["held_back"] == len(rows)
            planned = session.scalar(f"select count(*) from {plan.table}")
            assert sum(plan.counts[kind] for kind in KINDS) == planned - len(rows)
        finally:
            drop_plan(session, plan)
        return {r["_key"]: r["instead"] for r in rows}

    twins = [
        *PEOPLE,
        ("p6", " ann@EXAMPLE.com", None, False),
        ("p7", "ann@example.com", None, True),
    ]
    load(session, twins)
    assert held_back() == {"p6": "p1", "p7": "p1"}
    # p7 alone is synced now; p1 (new) takes its email: the contact HubSpot holds wins
    session.execute(
        f"insert into tessera_sync.state_{sync.name} (key, row_hash, dest_id, status, attempts) "
        "values ('p7', 'h', '101', 'synced', 0)"
    )
    load(session, [*PEOPLE, ("p7", "ann@example.com", None, True)])
    assert held_back() == {"p1": "p7"}
    # p1 was held back (failed, no id of ours) and asks to be erased: the erasure must not
    # find p7's contact by the shared email; p2, whose email is its own, keeps it
    session.execute(
        f"insert into tessera_sync.state_{sync.name} (key, status, attempts) "
        "values ('p1', 'failed', 1), ('p2', 'failed', 1)"
    )
    request_deletion(session, "p1")
    request_deletion(session, "p2")
    plan = build_plan(session, sync, match=match)
    try:
        erased = session.arrow(
            f"select _key, {field_column(0)} as email from {plan.table} where _kind = 'erased'"
        ).to_pylist()
    finally:
        drop_plan(session, plan)
    assert sorted((r["_key"], r["email"]) for r in erased) == [
        ("p1", None),
        ("p2", "bob@example.com"),
    ]


def test_held_back_plan_on_duckdb(tmp_path: Path, settings: Settings) -> None:
    sync = hubspot_plan_sync(tmp_path)
    with Warehouse(settings).session() as session:
        check_held_back(session, sync)


def test_held_back_plan_as_snowflake_sql(tmp_path: Path, fakesnow_settings: Settings) -> None:
    sync = hubspot_plan_sync(tmp_path)
    with Warehouse(fakesnow_settings).session() as session:
        check_held_back(session, sync)


def hubspot_plan_sync(tmp_path: Path) -> SyncConfig:
    mapping = {"email": "email", "phone": "phone"}
    sync = hubspot_sync(consent=None, mapping=mapping, segment="segments.test_audience")
    paths = sync_paths(tmp_path, [hubspot_destination("http://127.0.0.1:9")], [sync])
    return paths.catalog().sync("crm")


def test_braze_external_ids_differing_in_case_are_two_users(
    tmp_path: Path, settings: Settings
) -> None:
    """Braze external ids are case-sensitive, so only the same id (spaces aside) is held back."""
    from more_destination_cases import braze_destination, braze_sync

    from reverse_etl.destinations.braze import BrazeUsers
    from reverse_etl.match import CONFLICT_COLUMN

    sync_dict = braze_sync(consent=None, mapping={"external_id": "email", "phone": "phone"})
    paths = sync_paths(tmp_path, [braze_destination("http://127.0.0.1:9")], [sync_dict])
    sync = paths.catalog().sync("braze")
    twins = [*PEOPLE, ("p6", "ann@example.com", None, True), ("p7", "Ann@Example.com", None, True)]
    with Warehouse(settings).session() as session:
        load(session, twins)
        plan = build_plan(session, sync, match=BrazeUsers.match_field(sync))
        held = session.arrow(
            f"select _key, {CONFLICT_COLUMN} as instead from {plan.table} "
            f"where {CONFLICT_COLUMN} is not null"
        ).to_pylist()
        drop_plan(session, plan)
    assert held == [{"_key": "p7", "instead": "p1"}]
