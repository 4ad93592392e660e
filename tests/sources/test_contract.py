"""The source contract and its one settings block, on the real dbt: what dbt parses is what
Python reads; a source is relocated, switched off or made mandatory by settings alone; a table
that breaks the contract fails the build naming the table and the column."""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path

import duckdb
import pytest
import yaml
from byod import dbt, rows, scalar, settings_for

from tessera.dbt import DbtError
from tessera.settings import DBT_PROJECT_DIR
from tessera.sources.adapters import ADAPTERS
from tessera.sources.config import (
    SourceConfigError,
    read_source_vars,
    source_settings,
    write_block,
)
from tessera.sources.contract import load_contract


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> dict:
    warehouse = tmp_path_factory.mktemp("parse") / "wh.duckdb"
    dbt(settings_for(warehouse), ["parse"])
    return json.loads((warehouse.parent / "target" / "manifest.json").read_text())


def test_python_reads_the_contract_dbt_parses(manifest: dict) -> None:
    contract = load_contract()
    parsed = {
        (n["source_name"], n["name"]): n
        for n in manifest["sources"].values()
        if (n["config"].get("meta") or {}).get("tessera_contract")
    }
    assert set(parsed) == {(t.source, t.name) for t in contract.tables}
    for table in contract.tables:
        node = parsed[(table.source, table.name)]
        assert list(node["columns"]) == table.column_names
        assert [c["data_type"] for c in node["columns"].values()] == [
            c.data_type for c in table.columns
        ]
        assert node["loaded_at_field"] == table.loaded_at_field
        assert node["schema"] == "raw" and node["identifier"] == table.name
        for column in table.columns:
            meta = node["columns"][column.name]["config"]["meta"]
            assert meta.get("required") == column.required
            assert meta.get("id_type") == column.id_type
    identifiers = {(c.id_type) for t in contract.tables for c in t.columns if c.id_type}
    assert {
        "email",
        "phone",
        "user_id",
        "anonymous_id",
        "device_id",
        "crm_id",
        "loyalty_id",
    } <= identifiers


def test_every_adapter_provides_a_model_per_contract_table_it_names(manifest: dict) -> None:
    models = {n["name"]: n for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    for adapter in ADAPTERS:
        for table in adapter.provides:
            node = models[adapter.model(table)]
            assert node["config"]["materialized"] == "ephemeral"
            base = models[f"base_{adapter.source}__{table}"]
            assert node["unique_id"] in base["depends_on"]["nodes"]


def test_settings_are_checked_and_name_the_setting() -> None:
    assert source_settings("shop", {}).enabled == "auto"
    assert source_settings("shop", {"shop": {"enabled": False}}).enabled == "off"
    assert (
        source_settings("segment", {"segment": {"adapter": "rudderstack"}}, ["segment"]).adapter
        == "segment"
    )
    with pytest.raises(SourceConfigError, match=r"tessera_sources\.shop\.enabled"):
        source_settings("shop", {"shop": {"enabled": "sometimes"}})
    with pytest.raises(SourceConfigError, match=r"tessera_sources\.crm\.adapter"):
        source_settings("crm", {"crm": {"adapter": "salesforce"}}, ["hubspot"])


def test_init_rewrites_only_its_block(tmp_path: Path) -> None:
    project = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    before = (project / "dbt_project.yml").read_text()
    entries = {
        "segment": {"enabled": True, "adapter": "segment", "schema": "website"},
        "shop": {"enabled": False},
    }
    write_block(entries, project)
    after = (project / "dbt_project.yml").read_text()
    assert read_source_vars(project) == entries
    untouched = [
        line
        for line in before.splitlines()
        if "tessera_sources" not in line and not line.startswith("    ")
    ]
    assert all(line in after for line in untouched)
    assert yaml.safe_load(after)["vars"]["identity_max_iterations"] == 30


# --- settings on the real build ------------------------------------------------------------


@pytest.fixture(scope="module")
def relocated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Orders in schema `sales` as `web_orders`, with integer customer ids, text timestamps
    and no optional columns; Segment events in raw; nothing else."""
    warehouse = tmp_path_factory.mktemp("relocated") / "wh.duckdb"
    contract = load_contract()
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema sales")
        con.execute(
            "create table sales.web_orders (order_id bigint, user_id bigint, "
            "ordered_at varchar, total decimal(10, 2))"
        )
        con.execute(
            "insert into sales.web_orders values (1, 501, '2026-02-01 09:00:00', 20.5),"
            " (2, 502, '2026-02-02T09:00:00Z', 11.0), (3, 501, '2026-02-03', 7.25)"
        )
        con.execute("create schema raw")
        con.execute(contract.table("segment", "events").ddl("raw"))
        con.execute(
            "insert into raw.events (message_id, type, user_id, timestamp, received_at) "
            "values ('m1', 'identify', '501', '2026-02-01', '2026-02-01')"
        )
    return warehouse


RELOCATE = {"tessera_sources": {"shop": {"schema": "sales", "tables": {"orders": "web_orders"}}}}


def test_a_source_is_read_where_the_settings_put_it(relocated: Path) -> None:
    dbt(settings_for(relocated), ["build", "--select", "staging"], vars=RELOCATE)
    got = rows(
        relocated,
        "select order_id, user_id, ordered_at, total, status, currency "
        "from staging.stg_shop__orders order by order_id",
    )
    assert got == [
        ("1", "501", datetime(2026, 2, 1, 9), 20.5, "completed", None),
        ("2", "502", datetime(2026, 2, 2, 9), 11.0, "completed", None),
        ("3", "501", datetime(2026, 2, 3), 7.25, "completed", None),
    ]
    assert scalar(relocated, "select count(*) from staging.stg_segment__events") == 1
    # absent sources build empty, with the contract's columns
    assert scalar(relocated, "select count(*) from staging.stg_crm__contacts") == 0


def test_a_source_switched_off_is_never_read(relocated: Path) -> None:
    off = {"tessera_sources": {**RELOCATE["tessera_sources"], "segment": {"enabled": False}}}
    dbt(settings_for(relocated), ["run", "--select", "+stg_segment__events"], vars=off)
    assert scalar(relocated, "select count(*) from staging.stg_segment__events") == 0
    compiled = (
        relocated.parent
        / "target"
        / "compiled"
        / "tessera"
        / "models"
        / "staging"
        / "segment"
        / "base"
        / "base_segment__events.sql"
    ).read_text()
    assert '"raw"."events"' not in compiled and "where 1 = 0" in compiled


def test_a_mandatory_source_without_tables_fails_naming_what_to_do(relocated: Path) -> None:
    on = {"tessera_sources": {"crm": {"enabled": True}}}
    with pytest.raises(DbtError) as failure:
        dbt(settings_for(relocated), ["run", "--select", "base_crm__crm_contacts"], vars=on)
    message = str(failure.value)
    assert "crm_contacts" in message and "enabled: false" in message


def test_a_table_without_a_required_column_fails_naming_it(relocated: Path) -> None:
    broken = {"tessera_sources": {"shop": {"schema": "sales", "tables": {"orders": "no_dates"}}}}
    with duckdb.connect(str(relocated)) as con:
        con.execute(
            "create or replace table sales.no_dates as select order_id, user_id "
            "from sales.web_orders"
        )
    with pytest.raises(DbtError) as failure:
        dbt(settings_for(relocated), ["run", "--select", "base_shop__orders"], vars=broken)
    assert "ordered_at" in str(failure.value) and "no_dates" in str(failure.value)


def test_readme_shows_the_contract_as_declared() -> None:
    from tessera.settings import PROJECT_ROOT
    from tessera.sources.docs import contract_table

    assert contract_table() in (PROJECT_ROOT / "README.md").read_text()
