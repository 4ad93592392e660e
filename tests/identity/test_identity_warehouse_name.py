"""A warehouse file of any name works: DuckDB renames the catalog of a file called main, temp or
system (main.duckdb is catalog main_db), which once broke every staging model; spaces, umlauts
and punctuation dbt-duckdb can quote build too (names it cannot are refused by the settings,
tests/test_core.py)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from identity_dbt import run_identity, settings_for
from identity_raw import create_raw_tables, event, insert, order

from tessera.warehouse import Warehouse


@pytest.mark.parametrize(
    "name", ["main.duckdb", "Temp.warehouse.duckdb", "acme prod ä $(1),x.duckdb"]
)
def test_a_warehouse_named_like_a_reserved_catalog_builds(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    settings = settings_for(path)
    with Warehouse(settings).session() as session:
        create_raw_tables(session)
        insert(session, "events", [event("m1", 1, anonymous_id="a_m", user_id="u_m")])
        insert(session, "orders", [order("o1", 2, customer_email="m@mail.com", user_id="u_m")])
    result = run_identity(settings, tmp_path / "target", check=False)
    assert result.returncode == 0, result.output[-3000:]
    with duckdb.connect(str(path), read_only=True) as conn:
        persons = conn.execute(
            "select count(distinct person_id), count(*) from identity.identity_graph"
        ).fetchone()
    assert persons == (1, 3)
