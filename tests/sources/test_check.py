"""`tessera sources check` and `init` as a user runs them (the console script, nothing set in
the environment but the warehouse), on DuckDB and on Snowflake (fakesnow)."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from byod import tessera
from shapes import ShopWorld

from tessera.settings import Settings
from tessera.sources.check import run_check
from tessera.sources.contract import load_contract
from tessera.sources.identifiers import IdentifierRules
from tessera.warehouse import Warehouse


@pytest.fixture(scope="module")
def shop_world_warehouse(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ShopWorld]:
    world = ShopWorld(customers=150, anonymous_visitors=20, seed=3).build()
    warehouse = tmp_path_factory.mktemp("check-clean") / "wh.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        world.write_segment(con, "website")
        world.write_shopify(con, "shopify")
    return warehouse, world


@pytest.fixture(scope="module")
def broken_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Contract tables in raw with the mistakes a hand load makes."""
    warehouse = tmp_path_factory.mktemp("check-broken") / "wh.duckdb"
    contract = load_contract()
    now = datetime.now()
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema raw")
        for source, table in (("shop", "orders"), ("cmp", "consents"), ("crm", "crm_contacts")):
            con.execute(contract.table(source, table).ddl("raw"))
        con.execute(
            "insert into raw.orders (order_id, customer_email, ordered_at, updated_at) values "
            "(?, 'a@example.com', ?, ?), (?, 'b@example.com', ?, ?), (?, 'c@example.com', ?, ?), "
            "(null, 'd@example.com', ?, ?)",
            ["o1", now, now, "o1", now, now, "o2", now, now, now, now],
        )
        con.execute(
            "insert into raw.consents values ('c1', 'email', 'a@example.com', 'email', "
            "'opted_in', ?, 'banner'), ('c2', 'e-mail', 'b@example.com', 'email', 'granted', ?, "
            "'banner')",
            [now, now],
        )
        emails = ["unknown", "test@test.com", "n/a", "bob@example", "ann@example.com"]
        for i, email in enumerate(emails):
            con.execute(
                "insert into raw.crm_contacts (contact_id, email, updated_at) values (?, ?, ?)",
                [f"k{i}", email, now - timedelta(days=9)],
            )
        con.execute(
            "create table raw.events (message_id varchar, type varchar, received_at varchar)"
        )
        con.execute("insert into raw.events values ('m1', 'track', 'yesterday')")
    return warehouse


def test_check_recognises_loader_schemas_and_passes(shop_world_warehouse) -> None:
    warehouse, world = shop_world_warehouse
    result = tessera(warehouse, "sources", "check", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    by_source = {s["source"]: s for s in report["sources"]}
    assert by_source["segment"]["adapter"] == "segment"
    assert by_source["shop"]["adapter"] == "shopify_fivetran"
    assert by_source["crm"]["mode"] == "absent"
    rows = {t["table"]: t["rows"] for t in by_source["shop"]["tables"]}
    assert rows["order"] == len(world.frames["order"])
    assert rows["customer"] == len(world.frames["customer"])
    tracks = {t["table"]: t for t in by_source["segment"]["tables"]}["tracks"]
    assert tracks["identifiers"]["anonymous_id"]["null"] == 0.0
    assert 0.5 < tracks["identifiers"]["user_id"]["null"] < 1.0
    levels = {(f["source"], f["level"]) for f in report["findings"]}
    assert ("segment", "error") not in levels and ("shop", "error") not in levels
    # the fixture's data ends in 2026-07: stale, which warns but does not fail a build
    assert any("stale" in f["message"] for f in report["findings"] if f["source"] == "shop")


def test_check_names_every_problem_that_would_fail_the_build(broken_warehouse: Path) -> None:
    result = tessera(
        broken_warehouse, "sources", "check", "--vars", "{tessera_sources: {pos: {enabled: true}}}"
    )
    out = " ".join(result.stdout.split())
    assert result.returncode == 1, out
    for expected in (
        "1 duplicate values of the key (order_id)",
        "1 rows have no key (order_id)",
        "rows have a status other than 'granted', 'revoked'",
        "rows have a subject_type other than",
        "missing required column timestamp",
        "no table",  # pos is on but has no table
        "would fail `tessera build`",
    ):
        assert expected in out, expected
    assert "values of received_at (VARCHAR) do not parse as timestamp" in out
    # identifiers that identity would drop are counted, not errors
    assert "60% of email values are placeholders" in out
    assert "20% of email values are malformed" in out


def test_check_without_the_mandatory_source_still_fails_on_the_data(
    broken_warehouse: Path,
) -> None:
    result = tessera(broken_warehouse, "sources", "check", "--json")
    report = json.loads(result.stdout)
    assert result.returncode == 1
    assert {f["source"] for f in report["findings"] if f["level"] == "error"} == {
        "shop",
        "cmp",
        "segment",
    }


def test_init_dry_run_prints_the_block_for_the_warehouse(shop_world_warehouse) -> None:
    warehouse, _ = shop_world_warehouse
    result = tessera(warehouse, "sources", "init", "--dry-run")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "segment: {enabled: true, adapter: segment, schema: website}" in out
    assert "shop: {enabled: true, adapter: shopify_fivetran, schema: shopify}" in out
    assert "crm: {enabled: false}" in out


def test_a_bad_setting_is_an_error_naming_it(shop_world_warehouse) -> None:
    warehouse, _ = shop_world_warehouse
    result = tessera(
        warehouse, "sources", "check", "--vars", "{tessera_sources: {shop: {adapter: magento}}}"
    )
    assert result.returncode == 1
    assert "tessera_sources.shop.adapter" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.snowflake
def test_check_on_snowflake(
    fakesnow_snowflake, shop_world_warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same check, its SQL transpiled to Snowflake's dialect and identity's rules compiled
    by dbt for Snowflake, on a fakesnow account."""
    _, world = shop_world_warehouse
    sf_env = {
        "ACCOUNT": "fakesnow",
        "USER": fakesnow_snowflake.user,
        "PASSWORD": fakesnow_snowflake.password.get_secret_value(),
        "DATABASE": fakesnow_snowflake.database,
        "SCHEMA": fakesnow_snowflake.schema,
        "HOST": fakesnow_snowflake.host,
        "PORT": str(fakesnow_snowflake.port),
        "PROTOCOL": fakesnow_snowflake.protocol,
    }
    for name, value in sf_env.items():  # what a user exports; dbt's profile reads them
        monkeypatch.setenv(f"SNOWFLAKE_{name}", value)
    settings = dataclasses.replace(
        Settings.from_env({}), target="snowflake", snowflake=fakesnow_snowflake
    )
    contract = load_contract()
    rules = IdentifierRules.compile(settings)  # identity's rules, compiled by dbt
    with Warehouse(settings).session() as sf:
        sf.execute("create schema if not exists tessera.raw")
        ddl = contract.table("shop", "orders").ddl("tessera.raw")
        sf.execute(ddl.replace(" TIMESTAMP", " TIMESTAMP_NTZ").replace(" DOUBLE", " FLOAT"))
        sf.execute(
            "insert into tessera.raw.orders (order_id, customer_email, ordered_at, "
            "updated_at) values ('o1', 'unknown', '2026-01-01', '2026-01-01'), "
            "('o1', 'a@example.com', '2026-01-02', '2026-01-02')"
        )
        sf.execute("create schema if not exists tessera.website")
        tracks = world.frames["tracks"].head(25)[
            ["id", "anonymous_id", "user_id", "event", "event_text", "timestamp", "received_at"]
        ]
        sf.write_df(tracks, "website", "tracks", mode="replace")
        report = run_check(sf, rules)
    by_source = {s.resolution.source: s for s in report.sources}
    assert by_source["shop"].resolution.mode == "contract"
    assert by_source["segment"].resolution.adapter.name == "segment"
    assert {t.table.logical: t.rows for t in by_source["segment"].tables}["tracks"] == 25
    errors = [f.message for f in report.errors]
    assert any("duplicate values of the key (order_id)" in m for m in errors)
    # 'unknown' as the email of one of the two orders: identity's verdict, run on Snowflake
    assert any(
        "50% of customer_email values are placeholders" in f.message for f in report.findings
    )
    orders = by_source["shop"].tables[0]
    assert orders.identifier_stats["customer_email"]["placeholder"] == 0.5
