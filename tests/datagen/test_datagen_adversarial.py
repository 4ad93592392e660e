"""The adversarial generator mode: determinism, the catalogue at its rates, honest truth,
later loads with late rows, and `tessera identity evaluate` on it."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from tessera.datagen.adversarial import AdversarialConfig, append, generate
from tessera.datagen.adversarial.catalogue import AD_MACROS, OS_PLACEHOLDERS, USER_ID_PLACEHOLDERS
from tessera.datagen.adversarial.world import DOMAIN_TYPOS
from tessera.datagen.normalise import normalise_email, normalise_phone
from tessera.datagen.schema import RAW_TABLES
from tessera.dbt import dbt_command
from tessera.settings import Settings
from tessera.warehouse import Warehouse

PERSONS = 4000
SEED = 5
END = date(2026, 6, 30)
CHUNK = 1500  # several chunks: households, gifts and truth must hold across them


def _warehouse(path: Path) -> Warehouse:
    return Warehouse(dataclasses.replace(Settings.from_env({}), warehouse_path=path.resolve()))


@pytest.fixture(scope="module")
def warehouse_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("adversarial") / "wh.duckdb"
    generate(
        _warehouse(path),
        persons=PERSONS,
        seed=SEED,
        end_date=END,
        chunk_persons=CHUNK,
        progress=False,
    )
    return path


@pytest.fixture(scope="module")
def db(warehouse_file: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    conn = duckdb.connect(str(warehouse_file), read_only=True)
    yield conn
    conn.close()


def rows(db: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    return db.execute(sql).fetchall()


def scalar(db: duckdb.DuckDBPyConnection, sql: str, params: list | None = None):
    return db.execute(sql, params).fetchone()[0]


def test_same_seed_same_world_and_raw_tables_keep_the_contract(
    tmp_path: Path, db: duckdb.DuckDBPyConnection
) -> None:
    small = dict(persons=600, seed=SEED, end_date=END, chunk_persons=250, progress=False)
    a, b = tmp_path / "a.duckdb", tmp_path / "b.duckdb"
    generate(_warehouse(a), **small)
    generate(_warehouse(b), **small)
    c = duckdb.connect(str(a), read_only=True)
    try:
        c.execute(f"attach '{b}' as other (read_only)")
        for table in [f"raw.{t.name}" for t in RAW_TABLES] + [
            "truth.identifier_person",
            "truth.identifier_evidence",
            "truth.identifier_classes",
            "truth.persons",
        ]:
            schema, name = table.split(".")
            diff = c.execute(
                f"select count(*) from ((select * from {table} except all "
                f"select * from other.{schema}.{name}) union all (select * from "
                f"other.{schema}.{name} except all select * from {table}))"
            ).fetchone()[0]
            assert diff == 0, table
            assert c.execute(f"select count(*) from {table}").fetchone()[0] > 0, table
    finally:
        c.close()
    for table in RAW_TABLES:
        columns = [r[0] for r in rows(db, f"describe raw.{table.name}")]
        assert columns == table.column_names, table.name


def test_raw_tables_are_stored_in_load_order_with_late_rows(db) -> None:
    # events are stored by load time (received_at plus the warehouse sync), not event time
    late_events = scalar(
        db, "select count(*) from raw.events where received_at > timestamp + interval 1 day"
    )
    assert late_events > 100
    # POS rows carry only their purchase time; stored in load order, a store's late upload
    # sits after rows purchased days later
    disorder = scalar(
        db,
        "select count(*) from (select purchased_at, lag(purchased_at) over () as before "
        "from raw.pos_purchases) where purchased_at < before - interval 1 day",
    )
    assert disorder > 0


def test_every_catalogue_class_is_present(db) -> None:
    classes = dict(rows(db, "select class, count(*) from truth.identifier_classes group by 1"))
    for name in (
        "household",
        "junk",
        "placeholder",
        "public_device",
        "store_phone",
        "house_card",
        "bot",
    ):
        assert classes.get(name, 0) > 0, name
    devices = {r[0] for r in rows(db, "select distinct device_id from raw.ad_clicks")}
    macros = devices & set(AD_MACROS)
    assert len(macros) >= 3  # several broken campaigns, several macro spellings
    user_ids = {r[0] for r in rows(db, "select distinct user_id from raw.events")}
    assert len(user_ids & set(USER_ID_PLACEHOLDERS)) >= 5  # junk user ids of logged-out visits
    event_devices = {r[0] for r in rows(db, "select distinct device_id from raw.events")}
    assert len(event_devices & set(OS_PLACEHOLDERS)) >= 3
    # a placeholder device sits next to real cookies on ad clicks (the device<->cookie hub)
    assert (
        scalar(
            db,
            "select max(n) from (select device_id, count(distinct anonymous_id) as n "
            "from raw.ad_clicks group by 1)",
        )
        > 20
    )
    # a bot cookie with thousands of events and many form emails
    bot = rows(
        db,
        "select anonymous_id, count(*), count(distinct lower(traits_email)) from raw.events "
        "group by 1 order by 2 desc limit 1",
    )[0]
    assert bot[1] >= 1000 and bot[2] >= 10
    phones = [
        r[0]
        for r in rows(db, "select customer_phone from raw.orders where customer_phone is not null")
    ]
    phones += [r[0] for r in rows(db, "select phone from raw.crm_contacts where phone is not null")]
    assert any(re.search(r"(x|ext\.?|extension|#|;ext=)\s*\d+$", p, re.I) for p in phones)
    national = rows(
        db,
        "select shipping_country, customer_phone from raw.orders "
        "where customer_phone like '0%' and shipping_country in ('GB', 'IN', 'DE', 'FR', 'AU')",
    )
    assert {r[0] for r in national} >= {"GB", "IN", "DE"}
    emails = [r[0] for r in rows(db, "select customer_email from raw.orders")] + [
        r[0] for r in rows(db, "select email from raw.pos_purchases")
    ]
    emails = [e for e in emails if e]
    assert any("+" in e.split("@")[0] for e in emails)
    assert any(e.lower().strip().endswith("@googlemail.com") for e in emails)
    assert any(e != e.strip() for e in emails) and any(e != e.lower() for e in emails)


def test_records_that_carry_two_persons_and_other_person_level_mess(db) -> None:
    single = (
        "(select id_type, id_value, min(person_key) as person_key from truth.identifier_person "
        "group by 1, 2 having count(distinct person_key) = 1)"
    )
    # a partner's card (or a same-name customer's email) on one POS record
    two_on_pos = scalar(
        db,
        f"select count(*) from raw.pos_purchases p "
        f"join {single} l on l.id_type = 'loyalty_id' and l.id_value = trim(p.loyalty_id) "
        f"join {single} e on e.id_type = 'email' "
        f"and e.id_value = lower(trim(p.email, ' ' || chr(9) || chr(160))) "
        f"where l.person_key <> e.person_key",
    )
    assert two_on_pos > 0
    # an e-gift card: the buyer's account, the recipient's email
    gifts = scalar(
        db,
        f"select count(*) from raw.orders o "
        f"join {single} u on u.id_type = 'user_id' and u.id_value = o.user_id "
        f"join {single} e on e.id_type = 'email' "
        f"and e.id_value = lower(trim(o.customer_email, ' ' || chr(9) || chr(160))) "
        f"where u.person_key <> e.person_key",
    )
    assert gifts > 0
    # typos of provider domains, and persons with a work and a personal address
    typo_domains = [d for typos in DOMAIN_TYPOS.values() for d in typos]
    assert (
        scalar(
            db,
            "select count(*) from truth.identifier_person where id_type = 'email' "
            "and split_part(id_value, '@', 2) in (select unnest(?))",
            [typo_domains],
        )
        > 0
    )
    assert (
        scalar(
            db,
            "select count(*) from (select person_key from truth.identifier_person "
            "where id_type = 'email' group by 1 "
            "having count(distinct split_part(id_value, '@', 2)) >= 2)",
        )
        > PERSONS * 0.05
    )


def test_truth_is_honest_about_shared_identifiers(db) -> None:
    # household items are listed once per member (a typo of one for nobody), so
    # evaluation never scores them as one person's
    assert (
        scalar(
            db,
            "select count(*) from truth.identifier_classes c where class = 'household' "
            "and persons = 1",
        )
        == 0
    )
    # values that belong to nobody are never a person's identifier
    assert (
        scalar(
            db,
            "select count(*) from truth.identifier_person p join truth.identifier_classes c "
            "using (id_type, id_value) where c.class in ('placeholder', 'junk', 'store_phone', "
            "'house_card', 'bot', 'public_device')",
        )
        == 0
    )
    # recycled numbers: one phone, two persons, at different times
    assert (
        scalar(
            db,
            "select count(*) from truth.identifier_classes where class = 'multiple_persons' "
            "and id_type = 'phone'",
        )
        > 0
    )
    # evidence never links two persons and only names identifiers of exactly one person
    assert (
        scalar(
            db,
            "select count(*) from truth.identifier_evidence e join truth.identifier_person p "
            "on p.id_type = e.linked_id_type and p.id_value = e.linked_id_value "
            "where p.person_key <> e.person_key",
        )
        == 0
    )


def test_every_raw_identifier_has_a_truth_row_or_a_class(db) -> None:
    known = {
        (t, v)
        for t, v in rows(db, "select id_type, id_value from truth.identifier_person")
        + rows(db, "select id_type, id_value from truth.identifier_classes")
    }
    checks = (
        ("events", "anonymous_id", "anonymous_id"),
        ("events", "device_id", "device_id"),
        ("events", "user_id", "user_id"),
        ("events", "traits_email", "email"),
        ("orders", "customer_email", "email"),
        ("orders", "user_id", "user_id"),
        ("orders", "anonymous_id", "anonymous_id"),
        ("crm_contacts", "contact_id", "crm_id"),
        ("crm_contacts", "email", "email"),
        ("email_events", "email", "email"),
        ("ad_clicks", "anonymous_id", "anonymous_id"),
        ("ad_clicks", "device_id", "device_id"),
        ("support_tickets", "requester_email", "email"),
        ("pos_purchases", "loyalty_id", "loyalty_id"),
        ("pos_purchases", "email", "email"),
    )
    for table, column, id_type in checks:
        values = {r[0] for r in rows(db, f"select distinct {column} from raw.{table}")} - {None}
        normalised = {normalise_email(v) if id_type == "email" else v.strip() for v in values}
        missing = {v for v in normalised if (id_type, v) not in known}
        assert not missing, (table, column, sorted(missing)[:5])
    # phones written in an international form (extension aside) read back to truth values
    phones = set()
    for table, column in (
        ("events", "traits_phone"),
        ("orders", "customer_phone"),
        ("crm_contacts", "phone"),
        ("support_tickets", "requester_phone"),
        ("pos_purchases", "phone"),
    ):
        phones |= {r[0] for r in rows(db, f"select distinct {column} from raw.{table}")} - {None}
    extension = re.compile(r"\s*(x|ext\.?|extension|#|;ext=)\s*\d+$", re.IGNORECASE)
    international = {extension.sub("", p.strip()) for p in phones}
    international = {p for p in international if p.startswith(("+", "00")) and "(0)" not in p}
    assert len(international) > 500
    readable = {normalise_phone(p) for p in international} - {None}  # '000' is no number
    missing = {p for p in readable if ("phone", p) not in known}
    assert not missing, sorted(missing)[:5]


def test_append_delivers_late_rows_of_every_source(tmp_path: Path) -> None:
    path = tmp_path / "wh.duckdb"
    wh = _warehouse(path)
    # a higher late share than the default, so a small world has late rows in every source
    config = AdversarialConfig(late_share=0.5, max_late_days=20)
    generate(
        wh, persons=3000, seed=9, end_date=END, chunk_persons=1200, config=config, progress=False
    )
    con = duckdb.connect(str(path), read_only=True)
    before = {
        t.name: con.execute(f"select count(*) from raw.{t.name}").fetchone()[0] for t in RAW_TABLES
    }
    happened = {
        "events": "timestamp",
        "orders": "ordered_at",
        "crm_contacts": "created_at",
        "email_events": "occurred_at",
        "ad_clicks": "clicked_at",
        "support_tickets": "created_at",
        "pos_purchases": "purchased_at",
        "consents": "recorded_at",
    }
    latest = {
        name: con.execute(f"select max({column}) from raw.{name}").fetchone()[0]
        for name, column in happened.items()
    }
    loaded = {t.name: t.loaded_at_field for t in RAW_TABLES}
    watermark = {
        name: con.execute(f"select max({loaded[name]}) from raw.{name}").fetchone()[0]
        for name in happened
    }
    truth_before = con.execute("select count(*) from truth.identifier_person").fetchone()[0]
    con.close()
    cutoff = datetime(END.year, END.month, END.day, tzinfo=UTC) + timedelta(days=1)
    append(wh, until=cutoff + timedelta(days=35))
    con = duckdb.connect(str(path), read_only=True)
    try:
        for t in RAW_TABLES:
            after = con.execute(f"select count(*) from raw.{t.name}").fetchone()[0]
            assert after > before[t.name], t.name
            if t.name != "order_items":  # no row of the first load is delivered again
                key = t.column_names[0]
                distinct = con.execute(f"select count(distinct {key}) from raw.{t.name}")
                assert distinct.fetchone()[0] == after, t.name
        for name, column in happened.items():
            second_load = f"(select * from raw.{name} offset {before[name]})"
            # every source: rows of the second load that happened before the first load's
            # latest row (late-arriving)
            late = con.execute(
                f"select count(*) from {second_load} where {column} < ?", [latest[name]]
            ).fetchone()[0]
            assert late > 0, name
            # the watermark trap: stamped, in the column an incremental model compares,
            # before the first load's largest value (busy sources; orders are few here)
            if name in ("events", "email_events", "ad_clicks", "pos_purchases", "consents"):
                trapped = con.execute(
                    f"select count(*) from {second_load} where {loaded[name]} < ?",
                    [watermark[name]],
                ).fetchone()[0]
                assert trapped > 0, name
        assert (
            con.execute("select count(*) from truth.identifier_person").fetchone()[0] > truth_before
        )
        loads = con.execute("select load_number from truth.adversarial_loads order by 1").fetchall()
        assert loads == [(1,), (2,)]
    finally:
        con.close()
    with pytest.raises(ValueError, match="after the last load"):
        append(wh, until=cutoff)


def test_identity_evaluate_runs_on_the_adversarial_world(
    warehouse_file: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    # a copy: the module's read-only connection holds the original
    copy = tmp_path / "copy.duckdb"
    shutil.copyfile(warehouse_file, copy)
    settings = dataclasses.replace(Settings.from_env({}), warehouse_path=copy.resolve())
    target = tmp_path / "target"
    cmd = dbt_command(
        settings,
        [
            "run",
            "--select",
            "staging identity",
            "--target-path",
            str(target),
            "--log-path",
            str(target / "logs"),
        ],
        None,
    )
    proc = subprocess.run(
        cmd,
        cwd=settings.dbt_project_dir,
        env=settings.dbt_env(),
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    from tessera.cli import main

    monkeypatch.setenv("TESSERA_WAREHOUSE", str(copy.resolve()))
    assert main(["identity", "evaluate", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["identifiers_scored"] > PERSONS
    assert result["identifiers_shared_in_truth"] > 0  # households, recycled numbers
    assert result["linkable_pairs"] > 0
    # Floors under what today's rules score on this world (0.9876 / 0.9692, 103 of 3,724
    # persons wrongly joined, at most 2 in a cluster), so a rule change that lets strangers
    # merge fails here; issue 15's targets (0.999 / 0.98) are not met yet (BENCHMARKS.md).
    assert result["precision"] >= 0.985
    assert result["recall_of_linkable"] >= 0.965
    assert result["true_persons_wrongly_joined"] <= 0.03 * result["true_persons"]
    assert result["most_true_persons_in_a_cluster"] <= 3


def test_catalogue_classes_come_at_their_configured_rates(tmp_path: Path) -> None:
    path = tmp_path / "rates.duckdb"
    config = AdversarialConfig(junk_email_share=0.3, lat_device_share=0.5, late_share=0.2)
    generate(_warehouse(path), persons=2000, seed=11, end_date=END, config=config, progress=False)
    con = duckdb.connect(str(path), read_only=True)
    try:
        junk = con.execute(
            "select avg(case when c.class = 'junk' then 1.0 else 0 end) from raw.pos_purchases p "
            "left join truth.identifier_classes c on c.id_type = 'email' "
            "and c.id_value = lower(trim(p.email, ' ' || chr(9) || chr(160))) "
            "where p.email is not null"
        ).fetchone()[0]
        placeholders = list(OS_PLACEHOLDERS) + list(AD_MACROS)
        withheld = con.execute(
            "select avg(case when device_id in (select unnest(?)) then 1.0 else 0 end) "
            "from (select distinct user_id, device_id from raw.events "
            "where context_channel in ('ios', 'android') and user_id is not null)",
            [placeholders],
        ).fetchone()[0]
        late = con.execute(
            "select avg(case when received_at > timestamp + interval 1 day then 1.0 else 0 end) "
            "from raw.events where context_channel = 'android'"
        ).fetchone()[0]
    finally:
        con.close()
    # of the filled fields; persons without an address contribute junk only, hence above 0.3
    assert 0.27 < junk < 0.4
    # per device (placeholders and macros), logged-in pairs; household tablets never withhold
    assert 0.4 < withheld < 0.6
    assert 0.17 < late < 0.26


def test_rates_are_configurable(tmp_path: Path) -> None:
    path = tmp_path / "clean.duckdb"
    quiet = AdversarialConfig(
        ad_macro_campaign_share=0.0,
        lat_device_share=0.0,
        sdk_macro_device_share=0.0,
        bots_per_10k_persons=0.0,
        junk_email_share=0.0,
        user_id_junk_share=0.0,
    )
    generate(_warehouse(path), persons=800, seed=SEED, end_date=END, config=quiet, progress=False)
    con = duckdb.connect(str(path), read_only=True)
    try:
        classes = dict(
            con.execute(
                "select class, count(*) from truth.identifier_classes group by 1"
            ).fetchall()
        )
    finally:
        con.close()
    assert "placeholder" not in classes and "bot" not in classes
    assert not any(
        c == "junk" and t == "email"
        for c, t in duckdb.connect(str(path), read_only=True)
        .execute("select class, id_type from truth.identifier_classes")
        .fetchall()
    )
    with pytest.raises(ValueError, match="gift_order_share"):
        AdversarialConfig(gift_order_share=1.5)
