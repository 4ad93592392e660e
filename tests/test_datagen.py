"""The demo data generator: contract, determinism, promised mess, ground truth, behaviour."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tessera.datagen import append_activity, generate
from tessera.datagen.context import TruthCollector
from tessera.datagen.mess import PLACEHOLDER_VALUES
from tessera.datagen.normalise import normalise_email, normalise_phone
from tessera.datagen.schema import (
    RAW_TABLES,
    TRUTH_IDENTIFIER_EVIDENCE,
    TRUTH_IDENTIFIER_PERSON,
    TRUTH_PERSONS,
)
from tessera.settings import Settings
from tessera.warehouse import Warehouse

PERSONS = 2000
SEED = 7
END = date(2026, 10, 31)
CHUNK = 700  # several chunks, so chunking is exercised

# (table, column, id_type, how the column is normalised)
IDENTIFIER_COLUMNS = (
    ("events", "anonymous_id", "anonymous_id", "trim"),
    ("events", "user_id", "user_id", "trim"),
    ("events", "device_id", "device_id", "trim"),
    ("events", "traits_email", "email", "email"),
    ("events", "traits_phone", "phone", "phone"),
    ("orders", "customer_email", "email", "email"),
    ("orders", "customer_phone", "phone", "phone"),
    ("orders", "user_id", "user_id", "trim"),
    ("orders", "anonymous_id", "anonymous_id", "trim"),
    ("crm_contacts", "contact_id", "crm_id", "trim"),
    ("crm_contacts", "email", "email", "email"),
    ("crm_contacts", "phone", "phone", "phone"),
    ("crm_contacts", "external_user_id", "user_id", "trim"),
    ("email_events", "email", "email", "email"),
    ("ad_clicks", "anonymous_id", "anonymous_id", "trim"),
    ("ad_clicks", "device_id", "device_id", "trim"),
    ("support_tickets", "requester_email", "email", "email"),
    ("support_tickets", "requester_phone", "phone", "phone"),
    ("pos_purchases", "loyalty_id", "loyalty_id", "trim"),
    ("pos_purchases", "phone", "phone", "phone"),
    ("pos_purchases", "email", "email", "email"),
)


def _warehouse(path: Path) -> Warehouse:
    return Warehouse(dataclasses.replace(Settings.from_env({}), warehouse_path=path))


def _generate(path: Path, **overrides) -> None:
    args = dict(persons=PERSONS, seed=SEED, end_date=END, chunk_persons=CHUNK, progress=False)
    args.update(overrides)
    generate(_warehouse(path), **args)


@pytest.fixture(scope="module")
def warehouse_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("datagen") / "wh.duckdb"
    _generate(path)
    return path


@pytest.fixture(scope="module")
def db(warehouse_file: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    conn = duckdb.connect(str(warehouse_file), read_only=True)
    yield conn
    conn.close()


def _df(conn: duckdb.DuckDBPyConnection, sql: str) -> pd.DataFrame:
    return conn.execute(sql).df()


def _scalar(conn: duckdb.DuckDBPyConnection, sql: str):
    return conn.execute(sql).fetchone()[0]


def _table_digest(conn: duckdb.DuckDBPyConnection, qualified: str) -> tuple[int, int]:
    """Row count and an order-independent hash of every row's full content."""
    return conn.execute(
        f"select count(*), coalesce(bit_xor(hash(t)), 0) from {qualified} t"
    ).fetchone()


def _all_tables() -> list[str]:
    return [f"raw.{t.name}" for t in RAW_TABLES] + [
        f"truth.{TRUTH_IDENTIFIER_PERSON.name}",
        f"truth.{TRUTH_PERSONS.name}",
        f"truth.{TRUTH_IDENTIFIER_EVIDENCE.name}",
    ]


def _normalise(value: str | None, how: str, country: str | None = None) -> str | None:
    if value is None:
        return None
    if how == "email":
        return normalise_email(value)
    if how == "phone":
        return normalise_phone(value, "1", country)
    return value.strip() or None


def _raw_identifiers(conn: duckdb.DuckDBPyConnection) -> set[tuple[str, str]]:
    """Every (id_type, normalised value) in the raw tables, placeholders left out."""
    found: set[tuple[str, str]] = set()
    for table, column, id_type, how in IDENTIFIER_COLUMNS:
        country = "shipping_country" if table == "orders" else "null"
        rows = conn.execute(
            f"select distinct {column}, {country} from raw.{table} where {column} is not null"
        ).fetchall()
        for value, hint in rows:
            normalised = _normalise(value, how, hint)
            if normalised and normalised.lower() not in PLACEHOLDER_VALUES:
                found.add((id_type, normalised))
    consents = conn.execute("select distinct subject_type, subject_id from raw.consents").fetchall()
    for subject_type, subject_id in consents:
        how = {"email": "email", "phone": "phone"}.get(subject_type, "trim")
        normalised = _normalise(subject_id, how)
        if normalised and normalised.lower() not in PLACEHOLDER_VALUES:
            found.add((subject_type, normalised))
    return found


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict = {}

    def find(self, x):
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a, b) -> None:
        self.parent[self.find(a)] = self.find(b)

    def groups(self) -> set[frozenset]:
        members: dict = {}
        for x in self.parent:
            members.setdefault(self.find(x), set()).add(x)
        return {frozenset(m) for m in members.values() if len(m) > 1}


def _raw_evidence_groups(conn: duckdb.DuckDBPyConnection) -> set[frozenset]:
    """Evidence groups recomputed from the raw rows alone: identifiers of one person (in
    truth) that some raw row carries together, chained across rows."""
    owner = dict(
        ((t, v), p)
        for t, v, p in conn.execute(
            "select id_type, id_value, min(person_key) from truth.identifier_person "
            "group by all having count(distinct person_key) = 1"
        ).fetchall()
    )
    by_table: dict[str, list[tuple[str, str, str]]] = {}
    for table, column, id_type, how in IDENTIFIER_COLUMNS:
        by_table.setdefault(table, []).append((column, id_type, how))
    groups = _UnionFind()
    for table, columns in by_table.items():
        country = "shipping_country" if table == "orders" else "null"
        select = ", ".join(c for c, _, _ in columns)
        for row in conn.execute(f"select {select}, {country} from raw.{table}").fetchall():
            found = []
            for value, (_, id_type, how) in zip(row[:-1], columns, strict=True):
                normalised = _normalise(value, how, row[-1])
                if normalised and (id_type, normalised) in owner:
                    found.append((id_type, normalised))
            assert len({owner[i] for i in found}) <= 1, (table, found)  # one person per row
            for other in found[1:]:
                groups.union(found[0], other)
    return groups.groups()


def _evidence_groups(conn: duckdb.DuckDBPyConnection) -> set[frozenset]:
    groups = _UnionFind()
    for id_type, id_value, linked_type, linked_value in conn.execute(
        "select id_type, id_value, linked_id_type, linked_id_value from truth.identifier_evidence"
    ).fetchall():
        groups.union((id_type, id_value), (linked_type, linked_value))
    return groups.groups()


def test_every_table_has_the_schema_columns_and_plausible_counts(db) -> None:
    for table in (*RAW_TABLES, TRUTH_IDENTIFIER_PERSON, TRUTH_PERSONS, TRUTH_IDENTIFIER_EVIDENCE):
        schema = "raw" if table in RAW_TABLES else "truth"
        columns = _df(
            db,
            "select column_name, data_type from information_schema.columns "
            f"where table_schema = '{schema}' and table_name = '{table.name}' "
            "order by ordinal_position",
        )
        assert list(columns.column_name) == table.column_names, table.name
        assert list(columns.data_type) == [c[1] for c in table.columns], table.name

    per_person = {
        t.name: _scalar(db, f"select count(*) from raw.{t.name}") / PERSONS for t in RAW_TABLES
    }
    assert 8 <= per_person["events"] <= 30
    assert 0.1 <= per_person["orders"] <= 1.5
    assert per_person["order_items"] >= per_person["orders"]
    assert 0 < per_person["returns"] < per_person["orders"]
    for name in (
        "crm_contacts",
        "email_events",
        "ad_clicks",
        "support_tickets",
        "pos_purchases",
        "consents",
    ):
        assert per_person[name] > 0.02, name
    assert 15 <= sum(per_person.values()) <= 40
    assert _scalar(db, "select count(*) from truth.persons") == PERSONS
    assert _scalar(db, "select count(distinct person_key) from truth.persons") == PERSONS


def test_raw_tables_are_stored_in_load_order(db) -> None:
    # chunks are simulated person by person; stored that way, every block of a table would
    # span the whole period and incremental models' filters on recent loads could skip none
    for table in RAW_TABLES:
        out_of_order = _scalar(
            db,
            f"""
            select count(*) from (
                select {table.loaded_at_field} as loaded,
                    lag({table.loaded_at_field}) over (order by rowid) as loaded_before
                from raw.{table.name}
            ) where loaded < loaded_before
            """,
        )
        assert out_of_order == 0, f"raw.{table.name} is not ordered by {table.loaded_at_field}"


def test_record_ids_are_unique(db) -> None:
    for table, key in (
        ("events", "message_id"),
        ("orders", "order_id"),
        ("returns", "return_id"),
        ("crm_contacts", "contact_id"),
        ("email_events", "event_id"),
        ("ad_clicks", "click_id"),
        ("support_tickets", "ticket_id"),
        ("pos_purchases", "transaction_id"),
        ("consents", "consent_id"),
    ):
        total, distinct = db.execute(
            f"select count(*), count(distinct {key}) from raw.{table}"
        ).fetchone()
        assert total == distinct, f"{table}.{key} has duplicates"
    assert (
        _scalar(
            db,
            "select count(*) from raw.order_items i anti join raw.orders o using (order_id)",
        )
        == 0
    )


def test_same_inputs_give_identical_tables(warehouse_file: Path, tmp_path: Path, db) -> None:
    again = tmp_path / "again.duckdb"
    _generate(again)
    other_seed = tmp_path / "other.duckdb"
    _generate(other_seed, seed=SEED + 1)
    with (
        duckdb.connect(str(again), read_only=True) as a,
        duckdb.connect(str(other_seed), read_only=True) as b,
    ):
        for qualified in _all_tables():
            assert _table_digest(a, qualified) == _table_digest(db, qualified), qualified
        assert _table_digest(b, "raw.events") != _table_digest(db, "raw.events")


def test_identity_shares_are_roughly_as_promised(db) -> None:
    shares = db.execute(
        """
        with ids as (
            select person_key,
                   bool_or(id_type = 'user_id') as registered,
                   bool_or(id_type = 'crm_id') as crm,
                   bool_or(id_type = 'loyalty_id') as loyalty,
                   bool_or(id_type in ('email', 'phone', 'user_id', 'crm_id', 'loyalty_id'))
                       as identified
            from truth.identifier_person group by person_key
        )
        select avg(p.is_registered::int), avg(coalesce(crm, false)::int),
               avg(coalesce(loyalty, false)::int), avg(1 - coalesce(identified, false)::int)
        from truth.persons p left join ids using (person_key)
        """
    ).fetchone()
    registered, crm, loyalty, anonymous_only = shares
    assert 0.5 <= registered <= 0.7
    assert 0.28 <= crm <= 0.42
    assert 0.15 <= loyalty <= 0.32
    assert 0.22 <= anonymous_only <= 0.40
    several_devices = _scalar(
        db,
        "select avg((n > 1)::int) from (select person_key, count(*) as n "
        "from truth.identifier_person where id_type = 'anonymous_id' group by 1)",
    )
    assert several_devices > 0.2
    several_emails = _scalar(
        db,
        "select count(*) from (select person_key from truth.identifier_person "
        "where id_type = 'email' group by 1 having count(*) > 1)",
    )
    assert several_emails > 50


def test_the_promised_mess_is_present(db) -> None:
    emails = [
        r[0]
        for r in db.execute(
            "select customer_email from raw.orders union all select email from raw.crm_contacts "
            "union all select traits_email from raw.events where traits_email is not null"
        ).fetchall()
        if r[0]
    ]
    assert any(e != e.strip() for e in emails), "no padded emails"
    assert any(e.strip() != e.strip().lower() for e in emails), "no mixed-case emails"

    phones = [
        r[0]
        for r in db.execute(
            "select customer_phone from raw.orders union all select phone from raw.crm_contacts "
            "union all select phone from raw.pos_purchases union all "
            "select traits_phone from raw.events"
        ).fetchall()
        if r[0]
    ]
    shapes = {
        "paren_us": any(p.startswith("+1 (") for p in phones),
        "dotted": any(p.count(".") == 2 for p in phones),
        "double_zero": any(p.startswith("00") for p in phones),
        "plus_compact": any(p.startswith("+") and " " not in p and "-" not in p for p in phones),
        "trunk_zero_national": any(
            p.startswith("0") and not p.startswith("00") and set(p) != {"0"} for p in phones
        ),
        "digits_only": any(p.isdigit() and len(p) == 10 and set(p) != {"0"} for p in phones),
    }
    assert all(shapes.values()), shapes

    placeholders = {
        "anonymous_id": _scalar(
            db,
            "select count(distinct anonymous_id) from raw.events where anonymous_id in "
            "('unknown', 'null', 'undefined', '0', '00000000-0000-0000-0000-000000000000')",
        ),
        "user_id": _scalar(
            db, "select count(*) from raw.events where user_id in ('0', 'null', 'undefined')"
        ),
        "email": _scalar(
            db,
            "select count(*) from (select customer_email as e from raw.orders union all "
            "select email from raw.crm_contacts union all select traits_email from raw.events) "
            "where lower(trim(e)) = 'test@test.com'",
        ),
        "phone": _scalar(db, "select count(*) from raw.pos_purchases where phone = '0000000000'"),
    }
    assert placeholders["anonymous_id"] >= 3, placeholders
    assert all(v > 0 for v in placeholders.values()), placeholders

    shared_devices = _scalar(
        db,
        "select count(*) from (select device_id from raw.events where user_id is not null "
        "and device_id not in ('unknown', '00000000-0000-0000-0000-000000000000') "
        "and user_id not in ('0', 'null', 'undefined', 'unknown', '-1') "
        "group by device_id having count(distinct user_id) > 1)",
    )
    assert shared_devices >= 5
    shared_in_truth = _scalar(
        db,
        "select count(*) from (select id_value from truth.identifier_person "
        "where id_type = 'device_id' group by 1 having count(distinct person_key) > 1)",
    )
    # A member may use the tablet without ever logging in on it: truth lists them anyway.
    assert shared_devices <= shared_in_truth

    late_share = _scalar(
        db, "select avg((received_at > timestamp + interval 1 day)::int) from raw.events"
    )
    assert 0.01 <= late_share <= 0.04


def test_ground_truth_matches_the_raw_tables(db) -> None:
    truth = {
        (t, v)
        for t, v in db.execute("select id_type, id_value from truth.identifier_person").fetchall()
    }
    raw = _raw_identifiers(db)
    missing_from_truth = raw - truth
    never_in_raw = truth - raw
    assert not missing_from_truth, sorted(missing_from_truth)[:10]
    assert not never_in_raw, sorted(never_in_raw)[:10]
    assert not any(v.lower() in PLACEHOLDER_VALUES for _, v in truth)
    # Personal identifiers belong to exactly one person; only devices are ever shared.
    multi = db.execute(
        "select id_type, count(*) from (select id_type, id_value from truth.identifier_person "
        "group by 1, 2 having count(distinct person_key) > 1) group by 1"
    ).fetchall()
    assert {t for t, _ in multi} <= {"device_id", "anonymous_id"}
    phones = [v for (t, v) in truth if t == "phone"]
    assert all(p.startswith("+") and p[1:].isdigit() for p in phones)
    assert {p[:3] for p in phones} >= {"+1" + p[2] for p in phones if p.startswith("+1")}
    assert any(p.startswith("+44") for p in phones) and any(p.startswith("+49") for p in phones)


def _person_by_anonymous_id(db) -> str:
    return (
        "select id_value as anonymous_id, any_value(person_key) as person_key "
        "from truth.identifier_person where id_type = 'anonymous_id' "
        "group by 1 having count(*) = 1"
    )


def test_evidence_lists_what_raw_records_carry_together(db) -> None:
    groups = _evidence_groups(db)
    assert groups == _raw_evidence_groups(db)
    # every listed identifier belongs to exactly one person, the one its row names
    assert (
        _scalar(
            db,
            """
            select count(*) from truth.identifier_evidence e
            left join (
                select id_type, id_value, min(person_key) as person_key
                from truth.identifier_person group by all
                having count(distinct person_key) = 1
            ) t using (id_type, id_value, person_key)
            where t.person_key is null
            """,
        )
        == 0
    )
    assert _scalar(db, "select count(distinct person_key) from truth.identifier_evidence") > (
        PERSONS * 0.5
    )
    # some identifiers carry no evidence at all: cookies that never log in, ESP-only emails
    listed = {i for g in groups for i in g}
    truth = set(db.execute("select id_type, id_value from truth.identifier_person").fetchall())
    unlinked = truth - listed
    assert {"anonymous_id", "email", "loyalty_id"} <= {t for t, _ in unlinked}


def test_truth_collector_links_identifiers_per_record() -> None:
    truth = TruthCollector()
    strings = pa.array
    with pytest.raises(RuntimeError, match="records"):
        truth.add("email", strings(["a@x.com"]), np.array([1]), np.array([True]))
    truth.records(3)  # an orders-like table: user_id + email on rows 0..2
    truth.add("user_id", strings(["u1", "u2", "u3"]), np.array([1, 2, 3]), np.ones(3, bool))
    truth.add(
        "email",
        strings(["a@x.com", "b@x.com"]),
        np.array([1, 3]),
        np.array([True, False]),  # row 2's email was replaced by a placeholder
        rows=np.array([0, 2]),
    )
    with pytest.raises(ValueError, match="record block has 3 rows"):
        truth.add("phone", strings(["+1"]), np.array([1]), np.array([True]), rows=np.array([3]))
    truth.records(2)  # events: the shared tablet t1 links nobody; c1 chains to u1 via u1
    truth.add("device_id", strings(["t1", "t1"]), np.array([1, 2]), np.ones(2, bool))
    truth.add("anonymous_id", strings(["c1", "c2"]), np.array([1, 2]), np.ones(2, bool))
    truth.records(1)
    truth.add("anonymous_id", strings(["c1"]), np.array([1]), np.ones(1, bool))
    truth.add("user_id", strings(["u1"]), np.array([1]), np.ones(1, bool))

    evidence = truth.evidence().to_pylist()
    linked = {
        (r["id_type"], r["id_value"]): (r["linked_id_type"], r["linked_id_value"]) for r in evidence
    }
    assert set(linked) == {("user_id", "u1"), ("email", "a@x.com"), ("anonymous_id", "c1")}
    assert len(set(linked.values())) == 1  # one evidence group, named by one member
    assert {r["person_key"] for r in evidence} == {1}
    assert truth.table().num_rows == 8  # identifier_person is unchanged by record tracking


def test_purchasers_view_more_products_and_recent_activity_predicts_purchase(db) -> None:
    by_person = _df(
        db,
        f"""
        with owner as ({_person_by_anonymous_id(db)}),
        ev as (select o.person_key, e.* from raw.events e join owner o using (anonymous_id))
        select p.person_key,
               count(*) filter (where ev.event = 'Product Viewed') as views,
               count(*) filter (where ev.event = 'Order Completed') as orders
        from truth.persons p left join ev using (person_key)
        group by 1
        """,
    )
    buyers = by_person[by_person.orders > 0]
    others = by_person[by_person.orders == 0]
    assert len(buyers) > 50
    assert buyers.views.mean() > 2 * others.views.mean()

    # Of persons seen before, those active in the 60 days before a cutoff buy more in the
    # 30 days after it than those who went quiet (or churned).
    cutoff = datetime(END.year, END.month, END.day) - timedelta(days=30)
    recency = _df(
        db,
        f"""
        with owner as ({_person_by_anonymous_id(db)}),
        ev as (select o.person_key, e.* from raw.events e join owner o using (anonymous_id))
        select person_key,
               bool_or(timestamp between '{cutoff}'::timestamp - interval 60 day
                       and '{cutoff}'::timestamp) as recent,
               bool_or(event = 'Order Completed' and timestamp > '{cutoff}'::timestamp) as bought
        from ev group by 1
        having bool_or(timestamp < '{cutoff}'::timestamp - interval 60 day)
        """,
    )
    recent_rate = recency[recency.recent].bought.mean()
    dormant_rate = recency[~recency.recent].bought.mean()
    assert recent_rate > 2 * dormant_rate


def test_seasonality_and_churn(db) -> None:
    daily = (
        _df(
            db,
            "select month(timestamp) as m, count(*) / count(distinct timestamp::date) as per_day "
            "from raw.events where timestamp >= '2025-09-01' and timestamp < '2026-01-01' "
            "group by 1",
        )
        .set_index("m")
        .per_day
    )
    assert daily[12] > 1.15 * daily[9]
    assert daily[11] > 1.1 * daily[9]

    after_churn = _scalar(
        db,
        f"""
        with owner as ({_person_by_anonymous_id(db)})
        select count(*) from raw.events e join owner o using (anonymous_id)
        join truth.persons p using (person_key)
        where p.churned_at is not null and e.timestamp > p.churned_at + interval 2 hour
        """,
    )
    assert after_churn == 0  # a visit that started just before churning may run on briefly
    churned = _scalar(db, "select avg((churned_at is not null)::int) from truth.persons")
    assert 0.1 < churned < 0.35


def test_parquet_output_has_one_file_per_table_per_chunk(tmp_path: Path) -> None:
    parquet_dir = tmp_path / "parquet"
    _generate(tmp_path / "p.duckdb", persons=300, chunk_persons=150, parquet_dir=parquet_dir)
    with duckdb.connect(str(tmp_path / "p.duckdb"), read_only=True) as conn:
        for qualified in _all_tables():
            name = qualified.split(".")[1]
            files = sorted((parquet_dir / name).glob("part-*.parquet"))
            assert [f.name for f in files] == ["part-00000.parquet", "part-00001.parquet"], name
            rows = sum(pq.read_metadata(f).num_rows for f in files)
            assert rows == _scalar(conn, f"select count(*) from {qualified}"), name


def test_bad_arguments_are_rejected_with_the_reason(tmp_path: Path) -> None:
    wh = _warehouse(tmp_path / "bad.duckdb")
    with pytest.raises(ValueError, match="persons"):
        generate(wh, persons=0, seed=1, progress=False)
    with pytest.raises(ValueError, match="days"):
        generate(wh, persons=10, seed=1, days=0, progress=False)
    with pytest.raises(RuntimeError, match="tessera datagen"):
        append_activity(
            wh, seed=1, start=datetime(2026, 1, 1), end=datetime(2026, 1, 2), persons_fraction=0.5
        )


def test_tiny_populations_and_windows_work(tmp_path: Path) -> None:
    wh = _warehouse(tmp_path / "tiny.duckdb")
    summary = generate(wh, persons=1, seed=3, end_date=END, days=1, progress=False)
    assert summary.rows_per_table["truth.persons"] == 1
    start = datetime(END.year, END.month, END.day) + timedelta(days=1)
    none_chosen = append_activity(
        wh, seed=3, start=start, end=start + timedelta(hours=1), persons_fraction=1e-9
    )
    assert sum(none_chosen.rows_per_table.values()) == 0


def test_append_works_on_a_warehouse_generated_before_the_evidence_table(tmp_path: Path) -> None:
    path = tmp_path / "older.duckdb"
    _generate(path, persons=300, chunk_persons=300)
    with duckdb.connect(str(path)) as conn:
        conn.execute("drop table truth.identifier_evidence")
    start = datetime(END.year, END.month, END.day) + timedelta(days=1)
    summary = append_activity(
        _warehouse(path),
        seed=SEED,
        start=start,
        end=start + timedelta(days=14),
        persons_fraction=0.5,
        new_persons=5,
    )
    assert summary.rows_per_table["raw.events"] > 0
    assert summary.rows_per_table["truth.identifier_evidence"] == 0
    with duckdb.connect(str(path), read_only=True) as conn:
        # partial evidence (appended records only) would mislead: the table stays absent
        assert not _scalar(
            conn,
            "select count(*) from information_schema.tables "
            "where table_schema = 'truth' and table_name = 'identifier_evidence'",
        )


def test_append_activity_adds_rows_for_existing_persons_without_collisions(tmp_path: Path) -> None:
    path = tmp_path / "append.duckdb"
    _generate(path, persons=1500, chunk_persons=500)
    wh = _warehouse(path)
    with duckdb.connect(str(path), read_only=True) as conn:
        before = {q: _scalar(conn, f"select count(*) from {q}") for q in _all_tables()}
    start = datetime(END.year, END.month, END.day) + timedelta(days=1)
    end = start + timedelta(days=14)
    summary = append_activity(
        wh, seed=SEED, start=start, end=end, persons_fraction=0.5, new_persons=40
    )
    assert summary.rows_per_table["raw.events"] > 200
    assert summary.rows_per_table["truth.persons"] == 40

    with duckdb.connect(str(path), read_only=True) as conn:
        for qualified in _all_tables():
            after = _scalar(conn, f"select count(*) from {qualified}")
            assert after == before[qualified] + summary.rows_per_table[qualified], qualified
        test_record_ids_are_unique(conn)
        assert (
            _scalar(
                conn,
                "select count(*) from (select id_type, id_value, person_key "
                "from truth.identifier_person group by all having count(*) > 1)",
            )
            == 0
        )
        # The load holds what arrived in the window, including late events from before it.
        new_events = _df(conn, f"select * from raw.events where received_at >= '{start}'")
        assert len(new_events) == summary.rows_per_table["raw.events"]
        assert new_events.received_at.max() < pd.Timestamp(end)
        assert new_events.timestamp.min() >= pd.Timestamp(start - timedelta(days=7))
        assert (new_events.timestamp >= pd.Timestamp(start)).mean() > 0.9
        # Most appended events come from returning persons, on identifiers they had before.
        known_before = _scalar(
            conn,
            f"""
            select avg((p.person_key <= 1500)::int)
            from raw.events e join truth.identifier_person i
              on i.id_type = 'anonymous_id' and i.id_value = e.anonymous_id
            join truth.persons p using (person_key)
            where e.received_at >= '{start}'
            """,
        )
        assert known_before > 0.7
        new_keys = conn.execute(
            "select min(person_key), max(person_key) from truth.persons where person_key > 1500"
        ).fetchone()
        assert new_keys == (1501, 1540)
        # Ground truth and raw tables still agree after the append.
        truth = {
            (t, v)
            for t, v in conn.execute(
                "select id_type, id_value from truth.identifier_person"
            ).fetchall()
        }
        assert _raw_identifiers(conn) == truth
        # an append's evidence rows join those of the first run into the same groups
        assert _evidence_groups(conn) == _raw_evidence_groups(conn)
