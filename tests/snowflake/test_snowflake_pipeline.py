"""The whole pipeline on Snowflake SQL against a local fakesnow server, next to the same
pipeline on DuckDB over the same generated data.

Snowflake: generate raw data -> `dbt build` (unit tests excluded: fakesnow cannot run them)
-> train and score both models -> build the segments -> reverse-ETL sync to an emulator.
DuckDB: the same data and builds, scored by the very model files trained on Snowflake, so
identity partitions and segment memberships must match exactly.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fakesnow_env import FakesnowServer, duckdb_settings, snowflake_settings
from sf_pipeline import (
    MODELS,
    PERSONS,
    PipelineRun,
    append_on_duckdb_and_copy,
    build_segments,
    build_until_segments,
    generate_raw,
    identity_partition,
    score,
    segment_members,
    train,
)

from reverse_etl.demo import demo_destinations
from reverse_etl.runner import RunResult, SyncPaths, plan_sync, run_sync
from tessera.identity.evaluate import evaluate
from tessera.segments.catalog import load_catalog, segments_dir
from tessera.segments.membership import refresh_membership
from tessera.warehouse import Warehouse

pytestmark = pytest.mark.snowflake


@pytest.fixture(scope="module")
def sf_run(
    fakesnow_server: FakesnowServer, tmp_path_factory: pytest.TempPathFactory
) -> PipelineRun:
    directory = tmp_path_factory.mktemp("sf_pipeline")
    run = PipelineRun(snowflake_settings(fakesnow_server, directory))
    run.generated = generate_raw(run.settings)
    build_until_segments(run, directory / "target")
    train(run)
    score(run)
    build_segments(run, directory / "target")
    return run


@pytest.fixture(scope="module")
def duck_run(sf_run: PipelineRun, tmp_path_factory: pytest.TempPathFactory) -> PipelineRun:
    directory = tmp_path_factory.mktemp("duck_pipeline")
    run = PipelineRun(duckdb_settings(directory))
    run.generated = generate_raw(run.settings)
    build_until_segments(run, directory / "target")
    score(run, registry_settings=sf_run.settings)
    build_segments(run, directory / "target")
    return run


def _failed(results: list[dict]) -> list[str]:
    return [
        f"{r['unique_id']}: {r.get('message')}"
        for r in results
        if r["status"] not in ("success", "pass")
    ]


def test_generator_loads_raw_and_truth_tables_on_snowflake(sf_run: PipelineRun) -> None:
    assert sf_run.generated is not None
    with Warehouse(sf_run.settings).session(read_only=True) as session:
        for qualified, written in sf_run.generated.rows_per_table.items():
            assert session.scalar(f"select count(*) from {qualified}") == written, qualified
        assert session.scalar("select count(*) from truth.persons") == PERSONS
        # Arrow types arrive as Snowflake types, not as text.
        kinds = dict(session.columns("raw", "orders"))
    assert kinds["ordered_at"].upper().startswith("TIMESTAMP")
    assert kinds["total"].upper() in ("FLOAT", "DOUBLE", "REAL")


def test_full_dbt_build_passes_on_snowflake(sf_run: PipelineRun) -> None:
    results = sf_run.builds["core"] + sf_run.builds["segments"]
    assert _failed(results) == []
    kinds = {r["unique_id"].split(".")[0] for r in results}
    assert kinds == {"model", "test"}
    models = {r["unique_id"].split(".")[-1] for r in results if r["unique_id"].startswith("model")}
    assert {
        "stg_segment__events",
        "identity_graph",
        "persons",
        "customer_profiles",
        "ml_features",
        "ml_labels",
        "lapsed_vips",
        "likely_buyers_30d",
    } <= models


def test_raw_data_and_generation_match_duckdb(sf_run: PipelineRun, duck_run: PipelineRun) -> None:
    assert sf_run.generated is not None and duck_run.generated is not None
    assert sf_run.generated.rows_per_table == duck_run.generated.rows_per_table


def test_identity_evaluation_matches_duckdb(sf_run: PipelineRun, duck_run: PipelineRun) -> None:
    on_snowflake = evaluate(Warehouse(sf_run.settings))
    on_duckdb = evaluate(Warehouse(duck_run.settings))
    assert on_snowflake.identifiers_scored > 1000
    assert on_snowflake.as_dict() == on_duckdb.as_dict()
    assert on_snowflake.precision > 0.99


def test_scores_written_to_snowflake(sf_run: PipelineRun) -> None:
    with Warehouse(sf_run.settings).session(read_only=True) as session:
        scores = session.df(
            "select model, count(*) as n, count(distinct person_id) as persons, "
            "min(decile) as lo, max(decile) as hi, min(score) as smin, max(score) as smax, "
            "count(reason_1) as with_reason from ml.person_scores group by model"
        )
    by_model = scores.set_index("model")
    assert set(by_model.index) == set(MODELS)
    for model in MODELS:
        row = by_model.loc[model]
        assert row.n == row.persons == sf_run.scored[model].rows > 0
        assert (row.lo, row.hi) == (1, 10)
        assert 0.0 <= row.smin <= row.smax <= 1.0
        assert row.with_reason > 0


def test_duckdb_and_snowflake_give_same_identity_partition_and_segment_membership(
    sf_run: PipelineRun, duck_run: PipelineRun
) -> None:
    partition = identity_partition(sf_run.settings)
    assert len(partition) > PERSONS // 2
    assert partition == identity_partition(duck_run.settings)
    names = load_catalog(segments_dir(sf_run.settings)).names()
    non_empty = 0
    for name in names:
        on_snowflake = segment_members(sf_run.settings, name)
        assert on_snowflake == segment_members(duck_run.settings, name), name
        non_empty += bool(on_snowflake)
    assert non_empty >= len(names) - 1  # at most one starter segment is empty at this size


def test_person_ids_are_the_same_on_both_targets(
    sf_run: PipelineRun, duck_run: PipelineRun
) -> None:
    """Person ids are md5 of each component's oldest node, so moving from DuckDB to
    Snowflake keeps them: destinations do not see everyone as new."""
    sql = "select id_type, id_value, person_id from identity.identity_graph"
    graphs = []
    for run in (sf_run, duck_run):
        with Warehouse(run.settings).session(read_only=True) as session:
            graphs.append(set(session.df(sql).itertuples(index=False, name=None)))
    assert graphs[0] == graphs[1]


def test_incremental_build_on_snowflake_matches_duckdb(
    sf_run: PipelineRun, duck_run: PipelineRun, tmp_path: Path
) -> None:
    """New activity, then incremental builds (delete+insert models) on both targets: the
    identity partitions and segment memberships still match, and Snowflake's persons
    table grew with the new persons."""
    with Warehouse(sf_run.settings).session(read_only=True) as session:
        persons_before = session.scalar("select count(*) from identity.persons")
    append_on_duckdb_and_copy(duck_run.settings, sf_run.settings)
    for run in (sf_run, duck_run):
        build_until_segments(run, tmp_path / run.settings.target, step="incremental")
        build_segments(run, tmp_path / run.settings.target, step="incremental_segments")
        assert _failed(run.builds["incremental"] + run.builds["incremental_segments"]) == []
    with Warehouse(sf_run.settings).session(read_only=True) as session:
        assert session.scalar("select count(*) from identity.persons") > persons_before
    assert identity_partition(sf_run.settings) == identity_partition(duck_run.settings)
    for name in load_catalog(segments_dir(sf_run.settings)).names():
        assert segment_members(sf_run.settings, name) == segment_members(duck_run.settings, name), (
            name
        )


def test_segment_membership_history_on_snowflake(sf_run: PipelineRun) -> None:
    names = load_catalog(segments_dir(sf_run.settings)).names()
    with Warehouse(sf_run.settings).session() as session:
        changes = {c.segment: c for c in refresh_membership(session, names)}
        sizes = {n: session.scalar(f"select count(*) from segments.{n}") for n in names}
        current = session.scalar(
            "select count(*) from segments.segment_membership where exited_at is null"
        )
    assert {n: c.size for n, c in changes.items()} == sizes
    assert all(c.entered == c.size and c.exited == 0 for c in changes.values())
    assert current == sum(sizes.values())


def test_reverse_etl_plan_diffs_in_snowflake(sf_run: PipelineRun) -> None:
    """The planner's diff (segment vs state, consent, row hashes) runs as Snowflake SQL."""
    catalog = SyncPaths.default(sf_run.settings).catalog()
    for name in ("hubspot_lapsed_vips", "meta_suppress_recent_buyers"):
        segment = catalog.sync(name).segment
        plan, sample = plan_sync(sf_run.settings, catalog, name)
        with Warehouse(sf_run.settings).session(read_only=True) as session:
            members = session.scalar(f"select count(*) from {segment}")
        assert 0 < plan.counts["added"] <= members, name
        assert plan.counts["changed"] == plan.counts["removed"] == 0, name
        assert sample.num_rows == min(5, plan.counts["added"]), name


def test_reverse_etl_sync_from_snowflake_sends_only_changes(sf_run: PipelineRun) -> None:
    """Runs last: it edits a segment row to prove the re-sync sends only that row."""
    settings = sf_run.settings
    paths = SyncPaths.default(settings)
    catalog = paths.catalog()
    name = "hubspot_lapsed_vips"
    segment = catalog.sync(name).segment
    with demo_destinations() as destinations:

        def sync() -> RunResult:
            return run_sync(settings, catalog, name, lock_dir=paths.lock_dir, env=destinations.env)

        first = sync()
        assert first.stats.sent_ok > 0
        assert len(destinations.hubspot.app.contacts) == first.stats.sent_ok
        assert sync().stats.sent_ok == 0
        with Warehouse(settings).session() as session:
            person = session.scalar(  # a person the sync sends (issue 18: not a holdout)
                f"select min(person_id) from {segment} where email is not null and person_id "
                "not in (select person_id from experiments.sync_holdouts where sync_name = %s)",
                [name],
            )
            session.execute(
                f"update {segment} set first_name = 'Renamed' where person_id = %s", [person]
            )
        changed = sync()
        assert (changed.plan.counts["changed"], changed.stats.sent_ok) == (1, 1)
        first_names = {
            c["properties"].get("firstname") for c in destinations.hubspot.app.contacts.values()
        }
        assert "Renamed" in first_names
    with Warehouse(settings).session(read_only=True) as session:
        # this sync's runs: the server is shared with the other Snowflake tests' syncs
        runs = "select count(*) from tessera_sync.runs where sync_name = %s"
        assert session.scalar(runs, [name]) == 3
