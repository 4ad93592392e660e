"""`tessera build` on a fresh warehouse that holds only `raw.orders`: one command builds
everything, trains and scores on the way, and the dbt flags given reach every dbt run."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from tests.fresh_project import copy_project, run_tessera


@pytest.mark.slow
def test_a_warehouse_of_orders_only_builds_in_one_command(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "tessera")
    generated = run_tessera(project, "datagen", "--persons", "1500")
    assert generated.returncode == 0, generated.stdout + generated.stderr
    warehouse = project / "warehouse" / "tessera.duckdb"
    # What a company loads by hand: its orders and nothing else (no other source, no truth).
    with duckdb.connect(str(warehouse)) as conn:
        tables = conn.execute(
            "select table_schema, table_name from information_schema.tables"
        ).fetchall()
        for schema, table in tables:
            if (schema, table) != ("raw", "orders"):
                conn.execute(f"drop table {schema}.{table}")
        assert conn.execute("select count(*) from information_schema.tables").fetchone() == (1,)
        last_order = conn.execute("select max(ordered_at)::date from raw.orders").fetchone()[0]
    as_of = last_order.isoformat()

    built = run_tessera(
        project,
        "build",
        "--exclude",
        "email_engaged_non_buyers",
        "--vars",
        f"{{as_of: '{as_of}'}}",
    )
    output = built.stdout + built.stderr
    assert built.returncode == 0, output[-5000:]
    assert "No ml.person_scores yet" in output
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        segments = {
            name
            for (name,) in conn.execute(
                "select table_name from information_schema.tables where table_schema = 'segments'"
            ).fetchall()
        }
        scored = conn.execute("select distinct model from ml.person_scores order by 1").fetchall()
        profiles_as_of = conn.execute(
            "select distinct as_of::date from profiles.customer_profiles"
        ).fetchall()
        buyers = conn.execute(
            "select count(*) from profiles.customer_profiles where orders_count > 0"
        ).fetchone()[0]
    assert scored == [("churn_90d",), ("purchase_30d",)]
    # the score readers were built after scoring; the excluded segment was not built
    assert {"likely_buyers_30d", "high_value_churn_risk", "lapsed_vips"} <= segments
    assert "email_engaged_non_buyers" not in segments
    # --vars reached dbt
    assert [d.isoformat() for (d,) in profiles_as_of] == [as_of]
    assert buyers > 0

    # with scores in place, the next build is one dbt build
    again = run_tessera(project, "build", "--select", "path:models/segments")
    assert again.returncode == 0, (again.stdout + again.stderr)[-5000:]
    assert "No ml.person_scores yet" not in again.stdout
