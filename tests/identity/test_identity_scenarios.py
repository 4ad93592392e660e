"""Identity resolution on hand-written records: shared devices, placeholders, chains and
normalisation, built by the real dbt CLI on a private DuckDB file."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from identity_dbt import frame, person, run_identity, settings_for
from identity_raw import create_raw_tables, crm, event, insert, order, pos

from tessera.warehouse import Warehouse

ZERO_UUID = "00000000-0000-0000-0000-000000000000"


def scenario_records(session) -> None:
    insert(
        session,
        "events",
        [
            # a household tablet: two people log in with their own accounts
            event("sd1", 1, anonymous_id="a_sd1", user_id="u_sd1", device_id="D_SHARED"),
            event("sd2", 2, anonymous_id="a_sd2", user_id="u_sd2", device_id="D_SHARED"),
            # placeholders from broken SDKs
            event("ph1", 3, anonymous_id="unknown", user_id="u_ph1"),
            event("ph2", 4, anonymous_id="unknown", user_id="u_ph2"),
            event("ph3", 5, anonymous_id=ZERO_UUID, user_id="u_ph3"),
            event("ph4", 6, anonymous_id=ZERO_UUID, user_id="u_ph4"),
            event("ph5", 7, anonymous_id="a_ph5", user_id="undefined"),
            event("ph6", 8, anonymous_id="a_ph6", user_id="undefined"),
            event("ph7", 9, anonymous_id="a_ph7", user_id="u_ph7", device_id=ZERO_UUID),
            event("ph8", 10, anonymous_id="a_ph8", user_id="u_ph8", device_id=ZERO_UUID),
            # normalisation: padded, mixed-case email and an NBSP-padded user id
            event(
                "n1",
                11,
                anonymous_id="a_carol",
                user_id="u_carol\u00a0",
                traits_email=" Carol@Example.COM ",
            ),
            event("n2", 12, anonymous_id="a_carol2", user_id=" u_carol", traits_email="carol@"),
            # an anonymous visitor on an app: known to nobody
            event("v1", 13, anonymous_id="a_visitor", device_id="D_visitor"),
        ],
    )
    insert(
        session,
        "orders",
        [
            order("o_ph1", 20, customer_email="test@test.com", user_id="u_ph9"),
            order("o_ph2", 21, customer_email="Test@Test.com ", user_id="u_ph10"),
            order("o_ph3", 22, customer_email="x1@shop.org", customer_phone="000-000-0000"),
            order("o_ph4", 23, customer_email="x2@shop.org", customer_phone="0000000000"),
            # a test account used with many customers' emails: over the user_id -> email cap
            *[
                order(f"o_many{i}", 24 + i, customer_email=f"m{i}@shop.org", user_id="u_many")
                for i in range(5)
            ],
            # chain A-B-C-D: user A and email B on an order ...
            order("o_chain", 30, customer_email="b.chain@mail.com", user_id="A_chain"),
        ],
    )
    # ... email B and phone C on a support ticket ...
    insert(
        session,
        "support_tickets",
        [
            {
                "ticket_id": "t_chain",
                "requester_email": "B.Chain@Mail.com",
                "requester_phone": "+1 (212) 634-0199",
                "created_at": pd.Timestamp("2026-01-02"),
                "updated_at": pd.Timestamp("2026-01-02"),
            }
        ],
    )
    # ... phone C and loyalty card D at the till; the same phone written another way.
    insert(
        session,
        "pos_purchases",
        [
            pos("pos_chain", 40, loyalty_id="D_chain", phone="212.634.0199"),
            pos("pos_carol", 41, loyalty_id="L_carol", phone="(415) 634-0134"),
        ],
    )
    insert(
        session,
        "crm_contacts",
        [crm("c_carol", 42, email="carol@example.com", phone="+1 415 634 0134")],
    )
    insert(
        session,
        "email_events",
        [
            {
                "event_id": "esp1",
                "email": "CAROL@example.com",
                "occurred_at": pd.Timestamp("2026-01-03"),
            }
        ],
    )


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("identity_scenarios")
    path = tmp / "wh.duckdb"
    settings = settings_for(path)
    with Warehouse(settings).session() as session:
        create_raw_tables(session)
        scenario_records(session)
    run_identity(settings, tmp / "target")
    return path


def test_shared_device_does_not_merge_two_people(warehouse: Path) -> None:
    first, second = person(warehouse, "user_id:u_sd1"), person(warehouse, "user_id:u_sd2")
    assert first and second and first != second
    assert person(warehouse, "anonymous_id:a_sd1") == first
    assert person(warehouse, "anonymous_id:a_sd2") == second
    # the tablet attaches to the first who used it and joins no one: its link to the second
    # account is cut, with the reason
    assert person(warehouse, "device_id:D_SHARED") == first
    audit = frame(
        warehouse,
        "select audit_kind, reason, detail, id_value, linked_id_value "
        "from identity.identity_audit "
        "where 'D_SHARED' in (id_value, linked_id_value) and audit_kind = 'edge'",
    )
    assert len(audit) == 1
    assert {audit.id_value[0], audit.linked_id_value[0]} == {"D_SHARED", "u_sd2"}
    assert audit.reason[0] in ("weak_join", "person_limit")


def test_placeholder_ids_merge_no_one(warehouse: Path) -> None:
    users = [f"user_id:u_ph{i}" for i in (1, 2, 3, 4, 7, 8, 9, 10)]
    persons = [person(warehouse, u) for u in users]
    assert all(persons) and len(set(persons)) == len(users)
    assert person(warehouse, "anonymous_id:a_ph5") != person(warehouse, "anonymous_id:a_ph6")
    assert person(warehouse, "email:x1@shop.org") != person(warehouse, "email:x2@shop.org")
    dropped = frame(
        warehouse,
        "select id_type, id_value, reason from identity.identity_audit "
        "where audit_kind = 'identifier'",
    )
    placeholders = set(zip(dropped.id_type, dropped.id_value, strict=True))
    assert {
        ("anonymous_id", "unknown"),
        ("anonymous_id", ZERO_UUID),
        ("user_id", "undefined"),
        ("device_id", ZERO_UUID),
        ("email", "test@test.com"),
    } <= placeholders
    graph = frame(warehouse, "select id_value from identity.identity_graph")
    assert not {"unknown", "undefined", ZERO_UUID, "test@test.com"} & set(graph.id_value)


def test_user_id_over_its_email_cap_is_shared_not_merged(warehouse: Path) -> None:
    persons = {person(warehouse, f"email:m{i}@shop.org") for i in range(5)}
    assert None not in persons and len(persons) == 5
    assert person(warehouse, "user_id:u_many") is None
    audit = frame(
        warehouse,
        "select reason, detail from identity.identity_audit "
        "where audit_kind = 'identifier' and id_value = 'u_many'",
    )
    assert list(audit.reason) == ["shared_identifier"]
    assert "5 distinct email values (a person has at most 4)" in audit.detail[0]


def test_chain_a_b_c_d_is_stitched_into_one_person(warehouse: Path) -> None:
    chain = [
        "user_id:A_chain",
        "email:b.chain@mail.com",
        "phone:+12126340199",
        "loyalty_id:D_chain",
    ]
    persons = {person(warehouse, key) for key in chain}
    assert len(persons) == 1 and None not in persons
    person_id = persons.pop()
    row = frame(warehouse, f"select * from identity.persons where person_id = '{person_id}'")
    assert row.identifier_count[0] == 4
    assert bool(row.is_known[0])


def test_normalised_variants_are_one_node_and_one_person(warehouse: Path) -> None:
    carol = frame(
        warehouse,
        "select node_key, person_id, sources from identity.identity_graph "
        "where node_key in ('email:carol@example.com', 'user_id:u_carol', "
        "'phone:+14156340134', 'loyalty_id:L_carol', 'crm_id:c_carol', "
        "'anonymous_id:a_carol', 'anonymous_id:a_carol2')",
    )
    assert len(carol) == 7
    assert carol.person_id.nunique() == 1
    email_sources = carol[carol.node_key == "email:carol@example.com"].sources.iloc[0]
    assert set(email_sources.split(",")) == {"crm", "esp", "segment"}
    # 'carol@' is no email: staging nulls it, so it never becomes a node
    nodes = set(frame(warehouse, "select node_key from identity.identity_nodes").node_key)
    assert {n for n in nodes if n.startswith("email:carol")} == {"email:carol@example.com"}
    assert {n for n in nodes if n.startswith("user_id:u_carol")} == {"user_id:u_carol"}


def test_anonymous_visitor_is_an_unknown_person(warehouse: Path) -> None:
    visitor = person(warehouse, "anonymous_id:a_visitor")
    assert visitor == person(warehouse, "device_id:D_visitor")
    row = frame(warehouse, f"select is_known from identity.persons where person_id = '{visitor}'")
    assert not bool(row.is_known[0])


def test_stats_report_iterations_and_clusters(warehouse: Path) -> None:
    stats = frame(warehouse, "select metric, dimension, value from identity.identity_stats")
    by_metric = stats.groupby("metric").value.max()
    assert by_metric["cc_iterations"] >= 1
    assert by_metric["largest_cluster_identifiers"] == 7  # carol
    assert stats[stats.metric == "cc_iterations"].dimension.iloc[0] == "full"
    persons = frame(warehouse, "select count(*) as n from identity.persons").n[0]
    buckets = stats[stats.metric == "cluster_size_persons"].value.sum()
    assert buckets == persons
