"""Bring your own data, end to end, as a newcomer on a fresh clone with nothing set: their
tables in the default warehouse file, then the commands of README "Use your own data".

1. A warehouse holding only a Segment schema and Fivetran's Shopify tables: `tessera sources
   check`, `tessera build`, `tessera ml train`, `tessera ml score` and the starter segments,
   with no settings edited; identity links the web visitors to the buyers.
2. A warehouse of orders only (a purchase log: customer id, date, amount): one
   `tessera build` builds everything, scores included.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from shapes import ShopWorld

from bench.bench_first_run import orders_frame
from tests.fresh_project import copy_project, run_tessera


def _ok(result) -> str:
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert "Traceback" not in output
    return output


def _query(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


@pytest.fixture(scope="module")
def segment_and_shopify(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ShopWorld]:
    project = copy_project(tmp_path_factory.mktemp("byod") / "tessera")
    world = ShopWorld(customers=1200, anonymous_visitors=300, seed=21).build()
    warehouse = project / "warehouse" / "tessera.duckdb"
    warehouse.parent.mkdir()
    with duckdb.connect(str(warehouse)) as con:
        world.write_segment(con, "website")
        world.write_shopify(con, "shopify")
    return project, world


def test_segment_and_shopify_go_through_check_build_train_score_and_segments(
    segment_and_shopify: tuple[Path, ShopWorld],
) -> None:
    project, world = segment_and_shopify
    warehouse = project / "warehouse" / "tessera.duckdb"
    settings_before = (project / "dbt_project" / "dbt_project.yml").read_text()

    check = _ok(run_tessera(project, "sources", "check"))
    assert "Nothing here would fail `tessera build`" in check
    report = json.loads(_ok(run_tessera(project, "sources", "check", "--json")))
    adapters = {s["source"]: s["adapter"] for s in report["sources"]}
    assert adapters["segment"] == "segment" and adapters["shop"] == "shopify_fivetran"
    # a selection on the fresh warehouse: tests reaching unbuilt models (customer_profiles'
    # relationship to persons) wait for them instead of failing on a missing table
    _ok(run_tessera(project, "build", "--select", "staging", "identity"))
    assert _query(warehouse, "select count(*) from identity.persons")[0][0] > 0
    assert not _query(
        warehouse, "select 1 from information_schema.schemata where schema_name = 'profiles'"
    )
    _ok(run_tessera(project, "build"))
    _ok(run_tessera(project, "ml", "train"))
    _ok(run_tessera(project, "ml", "score"))
    _ok(run_tessera(project, "build", "--select", "path:models/segments"))
    assert (project / "dbt_project" / "dbt_project.yml").read_text() == settings_before

    # identity: every identified web visitor is the Shopify customer's person
    graph = pd.DataFrame(
        _query(warehouse, "select id_type, id_value, person_id from identity.identity_graph"),
        columns=["id_type", "id_value", "person_id"],
    )
    person_of = {(t, v): p for t, v, p in graph.itertuples(index=False)}
    identified = [a for a, c in world.web_identity.items() if c in world.identified]
    assert len(identified) > 300
    assert all(
        person_of[("anonymous_id", a)] == person_of[("user_id", world.web_identity[a])]
        for a in identified
    )
    # profiles carry both sides: web behaviour and orders on one person
    both = _query(
        warehouse,
        "select count(*) from profiles.customer_profiles "
        "where online_orders_count > 0 and page_views_count > 0",
    )[0][0]
    assert both >= len(identified) * 0.9
    # scores and the starter segments
    scored = dict(_query(warehouse, "select model, count(*) from ml.person_scores group by 1"))
    assert scored.get("purchase_30d", 0) > 0
    segments = {
        name
        for (name,) in _query(
            warehouse,
            "select table_name from information_schema.tables where table_schema = 'segments'",
        )
    }
    assert {"likely_buyers_30d", "recent_buyers_suppression", "new_customers_onboarding"} <= (
        segments
    )
    members = _query(warehouse, "select count(*) from segments.recent_buyers_suppression")[0][0]
    assert members > 0


def test_orders_only_builds_in_one_command(tmp_path: Path) -> None:
    """A purchase log with nothing but a customer id, a date and an amount: `tessera build`
    alone builds identity, profiles, features, trains and scores on the way, and the
    segments; dbt's selection and --vars reach every dbt run without `--`."""
    project = copy_project(tmp_path / "tessera")
    warehouse = project / "warehouse" / "tessera.duckdb"
    warehouse.parent.mkdir()
    log = orders_frame(2500)[["order_id", "user_id", "ordered_at", "total", "item_count"]]
    log["user_id"] = log.user_id.astype(int)  # integer customer ids, as exported
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema raw")
        con.register("log", log)
        con.execute("create table raw.orders as select * from log")
    as_of = pd.Timestamp(log.ordered_at.max()).date().isoformat()

    # a model selected without what it reads, on the fresh warehouse: dbt's error, and the way out
    alone = run_tessera(project, "build", "--select", "customer_profiles")
    said = " ".join((alone.stdout + alone.stderr).split())
    assert alone.returncode == 1 and "Traceback" not in said
    assert "does not exist" in said and "--select +MODEL" in said

    output = _ok(
        run_tessera(
            project,
            "build",
            "--exclude",
            "email_engaged_non_buyers",
            "--vars",
            f"{{as_of: '{as_of}'}}",
        )
    )
    assert "No ml.person_scores yet" in output
    persons = _query(warehouse, "select count(*) from profiles.customer_profiles")[0][0]
    assert persons == log.user_id.nunique()
    scored = _query(warehouse, "select distinct model from ml.person_scores order by 1")
    assert scored == [("churn_90d",), ("purchase_30d",)]
    assert _query(warehouse, "select count(*) from segments.recent_buyers_suppression")[0][0] > 0
    segments = {
        name
        for (name,) in _query(
            warehouse,
            "select table_name from information_schema.tables where table_schema = 'segments'",
        )
    }
    # the score readers were built after scoring; the excluded segment was not built
    assert {"likely_buyers_30d", "high_value_churn_risk", "lapsed_vips"} <= segments
    assert "email_engaged_non_buyers" not in segments
    as_of_built = _query(warehouse, "select distinct as_of::date from profiles.customer_profiles")
    assert [d.isoformat() for (d,) in as_of_built] == [as_of]  # --vars reached dbt

    # with scores in place, the next build is one dbt build
    again = _ok(run_tessera(project, "build", "--select", "path:models/segments"))
    assert "No ml.person_scores yet" not in again
