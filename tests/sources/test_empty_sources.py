"""Tests of staging that no source feeds: `tessera build` leaves them out while the source is
absent, and tests a source's staging on the first build after it appears, also when it appears
while the build runs (orchestration/empty_sources.py). Real dbt on a fresh clone's copy."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import duckdb
import pytest
from rich.console import Console

from bench.bench_first_run import orders_frame
from orchestration import build, empty_sources
from tessera.dbt import run_dbt
from tessera.settings import Settings
from tests.fresh_project import copy_project, run_tessera

ADS_TESTS = "stg_ads__ad_clicks_source_record_id"  # in the names of its unique and not_null


def _ok(result) -> str:
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    return output


def _tests_run(project: Path, label: str) -> set[str]:
    """Names of the tests a `tessera build` phase passed, from its dbt log."""
    log = (project / "artifacts" / "logs" / f"dbt_{label}.log").read_text()
    return set(re.findall(r" PASS (\S+)", log))


def _add_ad_click(warehouse: Path) -> None:
    with duckdb.connect(str(warehouse)) as con:
        con.execute(
            "create table raw.ad_clicks as select 'c1' as click_id, 'google' as platform, "
            "'a1' as anonymous_id, timestamp '2024-03-01 10:00:00' as clicked_at, "
            "1.5 as cost"
        )


@pytest.fixture()
def orders_only(tmp_path: Path) -> tuple[Path, Path]:
    project = copy_project(tmp_path / "tessera")
    warehouse = project / "warehouse" / "tessera.duckdb"
    warehouse.parent.mkdir()
    log = orders_frame(300)[["order_id", "user_id", "ordered_at", "total", "item_count"]]
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema raw")
        con.register("log", log)
        con.execute("create table raw.orders as select * from log")
    return project, warehouse


def test_absent_sources_tests_are_left_out_and_run_once_the_source_appears(
    orders_only: tuple[Path, Path],
) -> None:
    project, warehouse = orders_only
    first = _ok(run_tessera(project, "build", "--select", "staging"))
    assert "Leaving out" in first and "ads" in first
    ran = _tests_run(project, "build_before_scores")
    assert not any(ADS_TESTS in name for name in ran)
    assert any("stg_shop__orders" in name for name in ran), "tests of data still run"

    _add_ad_click(warehouse)
    second = _ok(run_tessera(project, "build", "--select", "staging"))
    ran = _tests_run(project, "build_before_scores")
    assert sum(ADS_TESTS in name for name in ran) == 2, second[-3000:]
    assert "no data for ads" not in second


def test_a_source_that_appears_during_the_build_is_tested_after_it(
    orders_only: tuple[Path, Path],
) -> None:
    project, warehouse = orders_only
    _ok(run_tessera(project, "build", "--select", "staging"))  # the manifest, fresh
    settings = dataclasses.replace(
        Settings.from_env({}),
        warehouse_path=warehouse,
        dbt_project_dir=project / "dbt_project",
        dbt_profiles_dir=project / "dbt_project",
        artifacts_dir=project / "artifacts",
    )
    skipped = empty_sources.tests_to_skip(settings, None)
    assert any(ADS_TESTS in name for name in skipped.names)
    # the table lands after the build decided what to leave out, before staging reads it
    _add_ad_click(warehouse)
    run_dbt(settings, ["run", "--select", "base_ads__ad_clicks", "stg_ads__ad_clicks"])
    build.run_left_out_tests_with_rows(
        settings, build.BuildRequest(), skipped, Console(file=None, quiet=True)
    )
    results = json.loads((project / "dbt_project/target/run_results.json").read_text())
    ran = {r["unique_id"].split(".")[2] for r in results["results"]}
    assert sum(ADS_TESTS in name for name in ran) == 2
    assert all("stg_ads__ad_clicks" in name for name in ran), "only the ads tests ran again"


def test_only_tests_whose_every_model_descends_from_empty_sources_are_left_out() -> None:
    def model(name: str, *parents: str) -> dict:
        return {
            "resource_type": "model",
            "name": name,
            "schema": "s",
            "depends_on": {"nodes": list(parents)},
        }

    def test(name: str, *parents: str) -> dict:
        return {"resource_type": "test", "name": name, "depends_on": {"nodes": list(parents)}}

    nodes = {
        "model.p.base_ads": model("base_ads", "source.p.ads.clicks"),
        "model.p.stg_ads": model("stg_ads", "model.p.base_ads"),
        "model.p.orders": model("orders", "source.p.shop.orders"),
        "model.p.mart": model("mart", "model.p.stg_ads", "model.p.orders"),
        "model.p.constant": model("constant"),  # no parents: may well have rows
        "test.p.t1": test("t1", "model.p.stg_ads"),
        "test.p.t2": test("t2", "model.p.mart"),
        "test.p.t3": test("t3", "model.p.stg_ads", "model.p.orders"),
        "test.p.t4": test("t4", "model.p.constant"),
        "test.p.t5": test("t5", "model.p.base_ads", "model.p.stg_ads"),
    }
    skipped = empty_sources.tests_on_empty_models({"nodes": nodes}, {"source.p.ads.clicks"})
    assert sorted(skipped) == ["t1", "t5"]
    assert skipped["t1"] == [("s", "stg_ads")]
