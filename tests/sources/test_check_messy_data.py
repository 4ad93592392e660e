"""`tessera sources check` on the tables a company loads by hand: columns of other types than the
contract's, text timestamps, broken views. The check must say what `tessera build` will fail
on, naming the column, and never stop on a traceback."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from byod import dbt, rows, settings_for, tessera

from tessera.settings import Settings
from tessera.sources.check import run_check
from tessera.sources.column_types import text_as_utc_timestamp
from tessera.sources.identifiers import IdentifierRules
from tessera.sources.table_checks import TIMESTAMP_FORMATS
from tessera.warehouse import Warehouse


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> IdentifierRules:
    warehouse = tmp_path_factory.mktemp("rules") / "wh.duckdb"
    duckdb.connect(str(warehouse)).close()
    return IdentifierRules.compile(Settings.from_env({"TESSERA_WAREHOUSE": str(warehouse)}))


# an identifier on every order, so that a check about timestamps or types is not also the
# check's error that no row carries an identifier
BUYER = "alter table raw.orders add column user_id varchar default 'u1'"


def _warehouse(path: Path, *statements: str) -> Path:
    with duckdb.connect(str(path)) as con:
        con.execute("create schema raw")
        for statement in statements:
            con.execute(statement)
    return path


def _check(warehouse: Path, rules: IdentifierRules):
    settings = settings_for(warehouse)
    with Warehouse(settings).session(read_only=True, create=False) as session:
        return run_check(session, rules, raw_vars={})


def test_text_timestamps_are_judged_as_the_build_parses_them(
    tmp_path: Path, rules: IdentifierRules, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Text timestamps as hand loads hold them, read the same by the check and the build on a
    machine whose time zone is not UTC: an offset after a space is an offset (it was null),
    a date alone is midnight (its day '-03' was read as an offset, and the date moved by the
    machine's zone), and what does not parse is the one error the check reports."""
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    warehouse = _warehouse(
        tmp_path / "wh.duckdb",
        "create table raw.orders (order_id varchar, ordered_at varchar, updated_at varchar)",
        "insert into raw.orders values "
        "('o1', '2024-03-01 10:00:00+02', '2024-03-01 10:00:00+02'), "
        "('o2', '2024-03-01 10:00:00 +0200', '2024-03-01 10:00:00 +0200'), "
        "('o3', '2024-03-03T10:00:00Z', '2024-03-03T10:00:00Z'), "
        "('o4', '2024-03-02', '2024-03-02'), "
        "('o5', '2024-03-02T10:00:00.250 -05:00', '2024-03-02T10:00:00.250 -05:00'), "
        "('o6', '03/02/2024 10:00', '03/02/2024 10:00')",
        BUYER,
    )
    report = _check(warehouse, rules)
    errors = [f.message for f in report.errors]
    assert errors == [
        "1 values of ordered_at (VARCHAR) do not parse as timestamp, e.g. '03/02/2024 10:00': "
        "read as null. " + TIMESTAMP_FORMATS + ", in wh.raw.orders or a view over it that "
        "tessera_sources.shop.tables.orders names"
    ]
    # the newest load, as the build reads it: 2024-03-03 10:00 UTC
    shop = next(s for s in report.sources if s.resolution.source == "shop")
    assert str(shop.tables[0].newest) == "2024-03-03 10:00:00"

    # and the build agrees, value by value
    dbt(settings_for(warehouse), ["run", "--select", "base_shop__orders"])
    assert dict(
        rows(warehouse, "select order_id, ordered_at::varchar from staging.base_shop__orders")
    ) == {
        "o1": "2024-03-01 08:00:00",
        "o2": "2024-03-01 08:00:00",
        "o3": "2024-03-03 10:00:00",
        "o4": "2024-03-02 00:00:00",
        "o5": "2024-03-02 15:00:00.25",
        "o6": None,
    }


ZONE_NAMED = {
    # a zone name after the time of day: the instant in that zone, summer time included
    "o1": ("2024-01-15 10:00 America/Chicago", "2024-01-15 16:00:00"),
    "o2": ("2024-07-15T10:00:00 America/Chicago", "2024-07-15 15:00:00"),
    "o3": ("2024-07-15 10:00:00.5 Europe/London", "2024-07-15 09:00:00.5"),
    "o4": ("2024-03-02 10:00:00 UTC", "2024-03-02 10:00:00"),
    "o5": ("2024-03-02 10:00 Etc/GMT+5", "2024-03-02 15:00:00"),
    # no such zone; an abbreviation (India, Ireland or Israel): unreadable, not UTC
    "o6": ("2024-03-02 10:00 Foo/Bar", None),
    "o7": ("2024-03-02 10:00 IST", None),
}


@pytest.fixture(scope="module")
def zone_named_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Order timestamps as text with zone names, built once (on a machine in Asia/Kolkata)."""
    warehouse = _warehouse(
        tmp_path_factory.mktemp("zone-named") / "wh.duckdb",
        "create table raw.orders (order_id varchar, ordered_at varchar, updated_at varchar)",
        *(
            f"insert into raw.orders values ('{key}', '{text}', '{text}')"
            for key, (text, _) in ZONE_NAMED.items()
        ),
        BUYER,
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TZ", "Asia/Kolkata")
        dbt(settings_for(warehouse), ["run", "--select", "base_shop__orders"])
    return warehouse


def test_zone_names_after_the_time_are_honoured_by_the_build(zone_named_warehouse: Path) -> None:
    """'10:00 America/Chicago' was read as 10:00 UTC (DuckDB's timestamp cast drops a zone
    name), six hours wrong; an unknown zone name was read as UTC the same way."""
    built = dict(
        rows(
            zone_named_warehouse,
            "select order_id, ordered_at::varchar from staging.base_shop__orders",
        )
    )
    assert built == {key: utc for key, (_, utc) in ZONE_NAMED.items()}


def test_unreadable_zone_names_are_the_checks_error(
    zone_named_warehouse: Path, rules: IdentifierRules
) -> None:
    """The check reads the values as the build does: the two it leaves null are the one error,
    with an example and what to write instead."""
    report = _check(zone_named_warehouse, rules)
    assert [(f.table, f.message) for f in report.errors] == [
        (
            "orders",
            "2 values of ordered_at (VARCHAR) do not parse as timestamp, e.g. "
            "'2024-03-02 10:00 Foo/Bar': read as null. " + TIMESTAMP_FORMATS + ", in "
            "wh.raw.orders or a view over it that tessera_sources.shop.tables.orders names",
        )
    ]
    shop = next(s for s in report.sources if s.resolution.source == "shop")
    assert str(shop.tables[0].newest) == "2024-07-15 15:00:00"
    # the check's SQL, value by value, is the build's
    expression = text_as_utc_timestamp("duckdb", "ordered_at")
    checked = rows(
        zone_named_warehouse, f"select order_id, ({expression})::varchar from raw.orders"
    )
    assert dict(checked) == {key: utc for key, (_, utc) in ZONE_NAMED.items()}


def test_columns_the_build_cannot_cast_are_errors_naming_them(tmp_path: Path) -> None:
    """A BIGINT epoch or a TIME as a timestamp, a STRUCT as a double: every query on the
    table fails in the build (or, for the STRUCT, an unrelated model fails with DuckDB's
    internal error). The check noted 'read as timestamp' and passed."""
    warehouse = _warehouse(
        tmp_path / "wh.duckdb",
        "create table raw.orders (order_id bigint, ordered_at bigint, "
        "total struct(amount double, currency varchar), shipping decimal(10, 2), "
        "item_count bigint, discount bigint)",
        "insert into raw.orders values "
        "(1, 1709287200, {'amount': 1.5, 'currency': 'EUR'}, 2.5, 9999999999, 3)",
        BUYER,
    )
    result = tessera(warehouse, "sources", "check")
    out = " ".join(result.stdout.split())
    assert result.returncode == 1, out + result.stderr
    assert "Traceback" not in result.stderr
    assert "column ordered_at is BIGINT, which the build cannot read as timestamp" in out
    assert "which the build cannot read as double" in out and "column total is STRUCT" in out
    # a value that does not fit the contract's INTEGER fails the build's cast at run time
    assert "column item_count is BIGINT, which the build cannot read as integer" in out
    # castable types are not errors
    assert "column shipping is DECIMAL(10,2), which" not in out
    assert "column discount is BIGINT, which" not in out
    assert "3 problem(s) would fail `tessera build`" in out


def test_a_broken_view_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    """A view over a table dropped since: the check stopped on DuckDB's CatalogException."""
    warehouse = _warehouse(
        tmp_path / "wh.duckdb",
        "create table raw.web_orders (order_id varchar, ordered_at timestamp)",
        "create view raw.orders as select * from raw.web_orders",
        "drop table raw.web_orders",
    )
    result = tessera(warehouse, "sources", "check")
    out = " ".join(result.stdout.split())
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 1, out
    assert "cannot read" in out and "raw.orders" in out and "web_orders" in out


def test_settings_the_build_ignores_are_warned_about(tmp_path: Path) -> None:
    """A misspelt source, setting or table in tessera_sources was silently ignored: `shopp`,
    `shema: sales` or `tables: {ordres: web_orders}` left shop unread, and check and build
    both passed with no word about it."""
    warehouse = _warehouse(
        tmp_path / "wh.duckdb",
        "create schema sales",
        "create table sales.web_orders (order_id varchar, ordered_at timestamp)",
        "insert into sales.web_orders values ('o1', now())",
    )
    settings = (
        "{tessera_sources: {shopp: {enabled: true}, shop: {shema: sales, "
        "tables: {ordres: web_orders}}, crm: {user_id_property: uid}}}"
    )
    result = tessera(warehouse, "sources", "check", "--vars", settings)
    out = " ".join(result.stdout.split())
    assert "Traceback" not in result.stderr, result.stderr
    # warnings: the build does not fail on them (it fails here for having no data at all)
    assert "warning tessera_sources: var tessera_sources.shopp is not a source" in out
    assert "var tessera_sources.shopp is not a source" in out
    assert "var tessera_sources.shop.shema is not a setting" in out
    assert "var tessera_sources.shop.tables.ordres is not a table of shop" in out
    assert "user_id_property" not in out  # the hubspot adapter's own option

    # spelt right, the same table is read
    settings = "{tessera_sources: {shop: {schema: sales, tables: {orders: web_orders}}}}"
    out = " ".join(tessera(warehouse, "sources", "check", "--vars", settings).stdout.split())
    assert "contract tables in wh.sales" in out and "orders (1)" in out
    assert "ignores it" not in out


def test_an_empty_table_name_is_the_tables_own_as_in_the_build(tmp_path: Path) -> None:
    """`tables: {orders: }` (a name left blank) is the table's own name in the build; the
    check looked for a table named 'None' and called the source absent."""
    warehouse = _warehouse(
        tmp_path / "wh.duckdb",
        "create table raw.orders (order_id varchar, ordered_at timestamp)",
        "insert into raw.orders values ('o1', now())",
    )
    result = tessera(
        warehouse, "sources", "check", "--vars", "{tessera_sources: {shop: {tables: {orders: }}}}"
    )
    out = " ".join(result.stdout.split())
    assert "contract tables in wh.raw" in out and "orders (1)" in out, out + result.stderr


def test_a_malformed_setting_is_named_before_dbt_runs(tmp_path: Path) -> None:
    """`schema: [sales]` made dbt's compile of identity's rules fail first, printing the whole
    contract as JSON-schema noise instead of naming the setting."""
    warehouse = _warehouse(tmp_path / "wh.duckdb")
    result = tessera(
        warehouse, "sources", "check", "--vars", "{tessera_sources: {shop: {schema: [sales]}}}"
    )
    out = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0
    assert "tessera_sources.shop.schema must be a name, got ['sales']" in out
    assert "dbt compile" not in out and "Traceback" not in out
    assert len(out) < 400, out

    # a colon without a space: PyYAML's pure loader reads `schema:nope` as a key, libyaml
    # (dbt's loader) refuses it; the check said nothing of it and dbt's compile then failed
    # with the rules' whole inline SQL
    result = tessera(warehouse, "sources", "check", "--vars", "{tessera_sources:{shop:{a:b}}}")
    out = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0
    assert result.returncode == 2, out
    assert "tessera sources check: error: argument --vars: not valid YAML" in out, out
    assert "dbt compile" not in out and "Traceback" not in out


def test_a_float_identifier_is_warned_about(tmp_path: Path, rules: IdentifierRules) -> None:
    """A customer id exported as DOUBLE is read as '1001.0', which joins no other source's
    '1001': identity silently keeps them apart. The check only noted the type."""
    warehouse = _warehouse(
        tmp_path / "wh.duckdb",
        "create table raw.orders (order_id bigint, ordered_at timestamp, user_id double, "
        "anonymous_id bigint)",
        "insert into raw.orders values (1, now(), 1001, 7)",
    )
    report = _check(warehouse, rules)
    warnings = [f.message for f in report.findings if f.level == "warning"]
    assert any(m.startswith("identifier user_id is DOUBLE: read as text with") for m in warnings)
    assert not any("order_id" in m or "anonymous_id" in m for m in warnings), warnings
    assert not report.errors


def test_fractional_counts_the_build_rounds_are_warned_about(
    tmp_path: Path, rules: IdentifierRules
) -> None:
    """item_count exported as DOUBLE with 2.7 is cast to the integer 3 by the build: the
    check only noted the type. Whole numbers stored as DOUBLE are not warned about."""
    warehouse = _warehouse(
        tmp_path / "wh.duckdb",
        "create table raw.orders (order_id bigint, ordered_at timestamp, user_id bigint, "
        "item_count double, total double)",
        "insert into raw.orders values (1, now(), 7, 2.7, 9.5), (2, now(), 8, 3, 10), "
        "(3, now(), 9, null, 1.25)",
    )
    report = _check(warehouse, rules)
    warnings = [f.message for f in report.findings if f.level == "warning"]
    rounded = [m for m in warnings if "not whole numbers" in m]
    assert len(rounded) == 1, warnings
    assert rounded[0].startswith("1 values of item_count (DOUBLE) are not whole numbers, e.g. 2.7")
    assert "total" not in rounded[0]  # a double in the contract: its decimals are kept
    assert not report.errors

    whole = _warehouse(
        tmp_path / "whole.duckdb",
        "create table raw.orders (order_id bigint, ordered_at timestamp, user_id bigint, "
        "item_count double)",
        "insert into raw.orders values (1, now(), 7, 2), (2, now(), 8, 3)",
    )
    assert not [f for f in _check(whole, rules).findings if "whole numbers" in f.message]


def test_no_activity_row_anywhere_is_an_error(tmp_path: Path, rules: IdentifierRules) -> None:
    """An orders table with no rows yet (the loader created it, the first sync has not run):
    `tessera build` fails on profile_as_of's not-null test ('Got 2 results'), while the check
    warned 'has no rows' and said nothing would fail."""
    warehouse = _warehouse(
        tmp_path / "wh.duckdb",
        "create table raw.orders (order_id varchar, ordered_at timestamp)",
        "create table raw.crm_contacts (contact_id varchar, email varchar)",
        "insert into raw.crm_contacts values ('k1', 'ann@example.com')",
    )
    report = _check(warehouse, rules)
    assert [f.message.split(":")[0] for f in report.errors] == [
        "no table read holds an activity row (segment.events, shop.orders, pos.pos_purchases, "
        "esp.email_events, helpdesk.support_tickets, ads.ad_clicks)"
    ]
    with duckdb.connect(str(warehouse)) as con:
        con.execute("insert into raw.orders values ('o1', now())")
    assert not _check(warehouse, rules).errors


def test_no_identifier_anywhere_is_an_error(tmp_path: Path, rules: IdentifierRules) -> None:
    """Orders whose identifier columns are all null: the check warned per column and said
    nothing would fail, then `tessera build` found no person and failed at training."""
    warehouse = _warehouse(
        tmp_path / "wh.duckdb",
        "create table raw.orders (order_id varchar, customer_email varchar, user_id varchar, "
        "ordered_at timestamp)",
        "insert into raw.orders values ('o1', null, null, now()), ('o2', null, null, now())",
    )
    report = _check(warehouse, rules)
    assert [f.message.split(":")[0] for f in report.errors] == [
        "no row of any table read carries an identifier (every identifier column is absent "
        "or always null)"
    ]
    with duckdb.connect(str(warehouse)) as con:
        con.execute("insert into raw.orders values ('o3', null, 'u1', now())")
    assert not _check(warehouse, rules).errors


def test_consent_values_in_any_case_are_read_as_their_value(
    tmp_path: Path, rules: IdentifierRules
) -> None:
    """A CMP export writes `Email`, ` Granted`, `REVOKED`: the staging test failed the build on
    each. Case and spaces are now dropped in staging and in the check alike; a value that
    means something else (`opted-in`) is still the error that stops the build, since a
    consent not understood must not be read as granted."""
    warehouse = _warehouse(
        tmp_path / "wh.duckdb",
        "create table raw.orders (order_id varchar, customer_email varchar, ordered_at timestamp)",
        "insert into raw.orders values ('o1', 'a@example.com', '2024-03-01 10:00')",
        "create table raw.consents (consent_id varchar, subject_type varchar, "
        "subject_id varchar, purpose varchar, status varchar, source varchar, "
        "recorded_at timestamp)",
        "insert into raw.consents values "
        "('c1', 'Email', 'A@example.com', 'Email', ' Granted ', 'banner', '2024-03-01'), "
        "('c2', 'EMAIL', 'b@example.com', 'SMS', 'REVOKED', 'banner', '2024-03-01'), "
        "('c3', 'email', 'c@example.com', 'ads', 'opted-in', 'banner', '2024-03-01')",
    )
    errors = [f.message for f in _check(warehouse, rules).errors]
    assert len(errors) == 1 and "status" in errors[0] and "1 " in errors[0], errors

    with duckdb.connect(str(warehouse)) as con:
        con.execute("delete from raw.consents where consent_id = 'c3'")
    assert _check(warehouse, rules).errors == []
    results = dbt(settings_for(warehouse), ["build", "--select", "+stg_cmp__consents"])
    assert all(r["status"] in ("success", "pass") for r in results), results
    assert sorted(
        rows(
            warehouse,
            "select consent_id, subject_type, subject_id, purpose, status "
            "from staging.stg_cmp__consents",
        )
    ) == [
        ("c1", "email", "a@example.com", "email", "granted"),
        ("c2", "email", "b@example.com", "sms", "revoked"),
    ]
