"""The Dagster definitions load, validate, and run the full refresh in-process."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from dagster import (
    AssetCheckKey,
    AssetCheckSeverity,
    AssetKey,
    DagsterInstance,
    DefaultSensorStatus,
    build_sensor_context,
)
from rich.console import Console

from orchestration.builder import build_definitions
from orchestration.checks import IDENTITY_GRAPH
from orchestration.config import OrchestrationConfig
from orchestration.dbt_assets import TesseraDbtTranslator
from orchestration.dbt_project import manifest_is_stale, tessera_dbt_project
from orchestration.demo_runs import materialize_ml_assets
from orchestration.freshness import FRESHNESS_CHECK, freshness_sources, run_source_freshness
from orchestration.freshness_report import FRESHNESS_REPORT, report_check_name
from orchestration.jobs import FULL_REFRESH, INCREMENTAL_REFRESH, RETRAIN
from orchestration.resources import WarehouseResource, build_resources
from orchestration.sensors import NEW_RAW_DATA_SENSOR
from reverse_etl.hashing import hash_value
from tessera.settings import PROJECT_ROOT
from tessera.warehouse import Warehouse
from tests.orchestration.orchestration_env import OrchestrationEnv

LAYER_GROUPS = ("staging", "identity", "profiles", "features", "segments")


def _config(env: OrchestrationEnv) -> OrchestrationConfig:
    return OrchestrationConfig.from_env(env.env)


def _manifest_models(env: OrchestrationEnv) -> dict[AssetKey, dict]:
    manifest = json.loads((Path(env.env["TESSERA_DBT_TARGET_PATH"]) / "manifest.json").read_text())
    translator = TesseraDbtTranslator()
    return {
        translator.get_asset_key(node): node
        for node in manifest["nodes"].values()
        # ephemeral models (the source adapters) are inlined into others, not assets
        if node["resource_type"] == "model" and node["config"]["materialized"] != "ephemeral"
    }


def test_definitions_list_every_model_job_schedule_and_sensor(
    orchestration_env: OrchestrationEnv,
) -> None:
    defs = build_definitions(_config(orchestration_env))
    graph = defs.resolve_asset_graph()
    keys = graph.get_all_asset_keys()

    models = _manifest_models(orchestration_env)
    assert models, "the dbt manifest lists no models"
    assert set(models) <= keys
    for key, node in models.items():
        assert graph.get(key).group_name == node["fqn"][1]
    groups = {graph.get(key).group_name for key in keys}
    assert set(LAYER_GROUPS) <= groups

    scores = AssetKey(["ml", "person_scores"])
    assert scores in keys
    assert AssetKey(["features", "ml_features"]) in graph.get(scores).parent_keys

    jobs = {job.name for job in defs.resolve_all_job_defs()}
    assert {FULL_REFRESH, INCREMENTAL_REFRESH, RETRAIN} <= jobs
    schedules = {s.name: s for s in defs.schedules}
    assert {f"{job}_schedule" for job in jobs if not job.startswith("__")} == set(schedules)
    sensor = defs.resolve_sensor_def(NEW_RAW_DATA_SENSOR)
    assert sensor.default_status == DefaultSensorStatus.RUNNING
    assert sensor.job_name == INCREMENTAL_REFRESH
    assert sensor.minimum_interval_seconds == 5, "DuckDB default; Snowflake looks every 120 s"

    # dbt tests are asset checks, and so are our own.
    checks = {key.name for key in graph.asset_check_keys}
    assert any(name.startswith(("unique_", "not_null_")) for name in checks)
    assert {"largest_identity_cluster", "profile_quality"} <= checks


def test_dagster_definitions_validate(orchestration_env: OrchestrationEnv) -> None:
    dagster = Path(sys.executable).with_name("dagster")
    proc = subprocess.run(
        [str(dagster), "definitions", "validate", "-m", "orchestration.definitions"],
        cwd=PROJECT_ROOT,
        env=orchestration_env.env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Validation successful" in proc.stdout + proc.stderr


def test_new_raw_data_sensor_launches_incremental_refresh_on_new_events(
    orchestration_env: OrchestrationEnv,
) -> None:
    defs = build_definitions(_config(orchestration_env))
    sensor = defs.resolve_sensor_def(NEW_RAW_DATA_SENSOR)
    warehouse = WarehouseResource(target="duckdb", duckdb_path=str(orchestration_env.warehouse))
    instance = DagsterInstance.ephemeral()

    def tick(cursor: str | None):
        # entered, as Dagster's daemon does: the resource has a lifecycle (its writer lock)
        with build_sensor_context(
            instance=instance, cursor=cursor, resources={"warehouse": warehouse}
        ) as context:
            return sensor.evaluate_tick(context)

    first = tick(None)
    assert not first.run_requests and first.cursor, "first tick records a baseline only"
    second = tick(first.cursor)
    assert not second.run_requests, "nothing new, nothing launched"

    with Warehouse(_config(orchestration_env).settings).session() as session:
        session.execute(
            "insert into raw.events by name select * replace ("
            "message_id || '-again' as message_id, "
            "received_at + interval 1 minute as received_at"
            ") from raw.events order by received_at desc limit 1"
        )
    third = tick(first.cursor)
    assert len(third.run_requests) == 1
    assert third.run_requests[0].tags["tessera/changed"] == "segment.events"
    assert third.cursor != first.cursor


@pytest.mark.timeout(1800)
def test_full_refresh_job_runs_in_process(
    orchestration_env: OrchestrationEnv, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # dagster-dbt hands os.environ to dbt, whose profile reads TESSERA_WAREHOUSE from it.
    for name, value in orchestration_env.env.items():
        monkeypatch.setenv(name, value)
    config = _config(orchestration_env)
    defs = build_definitions(config)
    syncs = {
        key for key in defs.resolve_asset_graph().get_all_asset_keys() if key.path[0] == "sync"
    }
    assert len(syncs) == 4, "the project's four starter syncs are assets"
    assert {"hubspot", "meta"} <= set(orchestration_env.emulators), "both run against emulators"
    result = defs.resolve_job_def(FULL_REFRESH).execute_in_process(
        instance=DagsterInstance.ephemeral()
    )
    assert result.success

    materialized = {
        ev.asset_key: ev.materialization.metadata
        for ev in result.get_asset_materialization_events()
    }
    models = _manifest_models(orchestration_env)
    assert set(models) <= set(materialized)
    evaluations = {e.asset_check_key: e for e in result.get_asset_check_evaluations()}
    failed_checks = [
        key
        for key, e in evaluations.items()
        # WARN checks flag without failing: a model that does not beat its baseline (#17)
        if not e.passed
        and e.severity != AssetCheckSeverity.WARN
        and key.name != FRESHNESS_CHECK
        and key.asset_key != FRESHNESS_REPORT  # the fixture's data ends on END_DATE: stale
    ]
    assert not failed_checks
    assert any(key.name.startswith("accepted_values_") for key in evaluations), "every test"
    _assert_identity_accuracy(evaluations[AssetCheckKey(IDENTITY_GRAPH, "identity_accuracy")])
    _assert_source_freshness(config, evaluations)
    _assert_freshness_report_agrees(evaluations, materialized[FRESHNESS_REPORT])

    scores = AssetKey(["ml", "person_scores"])
    assert scores in materialized
    profiles = AssetKey(["profiles", "customer_profiles"])
    assert models[profiles]["config"]["materialized"] == "view"
    with Warehouse(config.settings).session(read_only=True) as session:
        for key, node in models.items():
            if node["config"]["materialized"] in ("table", "incremental") or key == profiles:
                rows = session.scalar(f"select count(*) from {node['relation_name']}")
                assert materialized[key]["dagster/row_count"].value == rows, key
        assert session.scalar(f"select count(*) from {models[profiles]['relation_name']}") > 0
        assert session.scalar("select count(*) from ml.person_scores") > 0
        assert materialized[scores]["dagster/row_count"].value > 0

    assert syncs <= set(materialized), "every sync ran"
    for key in syncs:
        assert materialized[key]["status"].value == "success", key
        assert materialized[key]["rejected"].value == 0, key
    contacts_before = _assert_destinations_hold_consented_members(
        config.settings, orchestration_env
    )

    # A new purchase: the incremental refresh (with the champion models) carries the buyer
    # into the recent-buyers segment and its ad-suppression audience.
    email = _append_purchase_for_lapsed_buyer(config.settings)
    incremental = defs.resolve_job_def(INCREMENTAL_REFRESH).execute_in_process(
        instance=DagsterInstance.ephemeral()
    )
    assert incremental.success
    refreshed = {ev.asset_key for ev in incremental.get_asset_materialization_events()}
    assert not any(key.path[-1].endswith("_model") for key in refreshed), "no retraining"
    assert AssetKey(["profiles", "profile_quality"]) not in refreshed, "tagged nightly"
    assert AssetKey(["profiles", "customer_profiles"]) in refreshed
    # only the tests tagged `critical` (keys of what leaves the warehouse) and our own checks
    checked = {e.asset_check_key.name for e in incremental.get_asset_check_evaluations()}
    assert {"unique_int_profile_facts_person_id", "largest_identity_cluster"} <= checked
    assert {"identity_accuracy", FRESHNESS_CHECK} <= checked
    assert FRESHNESS_REPORT in refreshed, "the UI's Materialize all runs it (freshness_report)"
    assert any(name.startswith("unique_recent_buyers_suppression") for name in checked)
    assert not any(name.startswith("accepted_values_") for name in checked)
    audience = orchestration_env.emulators["meta"].app.members[RECENT_BUYERS_AUDIENCE]
    assert any(hash_value("email", email) in row for row in audience)
    # the buyer left lapsed_vips: Meta audiences follow the segments, HubSpot keeps contacts
    _assert_destinations_hold_consented_members(config.settings, orchestration_env, contacts_before)

    # The demo's training, run through the same definitions, is recorded on the instance.
    home = tmp_path / "demo_dagster_home"
    assert materialize_ml_assets(config.settings, Console(file=io.StringIO()), home=home) == 0
    with DagsterInstance.from_config(str(home)) as instance:
        for model in ("churn_90d", "purchase_30d"):
            event = instance.get_latest_materialization_event(AssetKey(["ml", f"{model}_model"]))
            assert event is not None, model
            meta = event.asset_materialization.metadata
            assert 0.5 < meta["model_roc_auc"].value <= 1.0, model
        scored = instance.get_latest_materialization_event(scores)
        assert scored.asset_materialization.metadata["dagster/row_count"].value > 0


def _assert_identity_accuracy(evaluation) -> None:  # noqa: ANN001 - AssetCheckEvaluation
    meta = evaluation.metadata
    assert meta["ground_truth"].value is True, "the generated warehouse has ground truth"
    assert evaluation.passed
    assert meta["precision"].value >= 0.999
    assert meta["recall_of_linkable"].value >= 0.98
    assert meta["predicted_persons"].value > 0 and meta["true_persons"].value > 0


def _assert_freshness_report_agrees(evaluations: dict, report_metadata: dict) -> None:
    """The report asset judges each source as its check on the source does."""
    on_sources = {k.asset_key: e for k, e in evaluations.items() if k.name == FRESHNESS_CHECK}
    on_report = {k.name: e for k, e in evaluations.items() if k.asset_key == FRESHNESS_REPORT}
    assert len(on_report) == len(on_sources) == report_metadata["sources"].value
    for key, evaluation in on_sources.items():
        mirrored = on_report[report_check_name(key)]
        assert mirrored.passed == evaluation.passed, key
        assert mirrored.metadata["status"] == evaluation.metadata["status"], key
        assert f"| {'/'.join(key.path)} | {evaluation.metadata['status'].value} |" in (
            report_metadata["freshness"].value
        )


def _assert_source_freshness(config: OrchestrationConfig, evaluations: dict) -> None:
    """The verdict per source against the age of its newest row read here, and against what
    `dbt source freshness` itself says for every source."""
    freshness = {k.asset_key: e for k, e in evaluations.items() if k.name == FRESHNESS_CHECK}
    assert AssetKey(["raw", "events"]) in freshness
    assert len(freshness) >= 8, "every raw table with a freshness config"
    event = freshness[AssetKey(["raw", "events"])]
    with Warehouse(config.settings).session(read_only=True) as session:
        newest = session.scalar("select max(received_at) from raw.events")
    age_hours = (datetime.now(UTC).replace(tzinfo=None) - newest).total_seconds() / 3600
    assert abs(event.metadata["age_hours"].value - age_hours) < 0.5
    warn, error = (
        event.metadata["warn_after_hours"].value,
        event.metadata["error_after_hours"].value,
    )
    expected = "error" if age_hours > error else "warn" if age_hours > warn else "pass"
    assert event.metadata["status"].value == expected
    assert event.passed == (expected == "pass")
    severity = AssetCheckSeverity.WARN if expected == "warn" else AssetCheckSeverity.ERROR
    assert event.severity == severity

    project = tessera_dbt_project(config)
    manifest = json.loads(project.manifest_path.read_text())
    sources = freshness_sources(manifest)
    dbt_says = {
        result["unique_id"]: result
        for result in run_source_freshness(
            build_resources(config.settings, project)["dbt"], project
        )
    }
    judged = {key for key in sources if freshness[key].metadata["status"].value != "absent"}
    assert AssetKey(["raw", "events"]) in judged
    # dbt leaves a source whose table is missing out of sources.json (a runtime error)
    assert {sources[key]["unique_id"] for key in judged} == set(dbt_says)
    for key in judged:
        ours, theirs = freshness[key], dbt_says[sources[key]["unique_id"]]
        assert ours.metadata["status"].value == theirs["status"], key
        loaded = datetime.fromisoformat(theirs["max_loaded_at"])
        assert datetime.fromisoformat(ours.metadata["max_loaded_at"].value) == loaded, key
    for key in sources.keys() - judged:
        assert sources[key]["meta"]["required"] is False, f"{key}: only optional sources"
        assert freshness[key].passed


def _assert_destinations_hold_consented_members(
    settings,  # noqa: ANN001 - tessera Settings
    env: OrchestrationEnv,
    contacts_before: set[str] = frozenset(),
) -> set[str]:
    """Each Meta audience (add/remove) holds exactly the ad-consented members of its segment,
    hashed; HubSpot (upsert, which never deletes a CRM contact) exactly the email-consented
    members of both HubSpot syncs' segments plus the contacts it held before. Returns those."""
    with Warehouse(settings).session(read_only=True) as session:
        emails = {
            row["email"]
            for segment in ("lapsed_vips", "high_value_churn_risk")
            for row in _consented(session, segment, "email")
            if row["email"]
        }
        audiences = {
            audience: {
                pair
                for row in _consented(session, segment, "ads")
                if any(
                    pair := (hash_value("email", row["email"]), hash_value("phone", row["phone"]))
                )
            }
            for audience, segment in META_AUDIENCES.items()
        }
    assert emails, "the fixture has consented members to send"
    hubspot = env.emulators["hubspot"].app
    contacts = set(hubspot.contacts)
    assert contacts == {email.strip().lower() for email in emails} | contacts_before
    meta = env.emulators["meta"].app
    for audience, expected in audiences.items():
        held = {tuple(value or None for value in row) for row in meta.members.get(audience, set())}
        assert held == expected, audience
    return contacts


def _consented(session, segment: str, purpose: str) -> list[dict]:  # noqa: ANN001 - Session
    # issue 18: the starter experiments' holdouts are never sent by their segment's syncs
    held_out = (
        "and s.person_id not in (select h.person_id from experiments.sync_holdouts h "
        "join experiments.experiment_arms a on a.experiment = h.experiment "
        f"where a.segment = '{segment}')"
        if session.table_exists("experiments", "sync_holdouts")
        else ""
    )
    return session.arrow(
        f"select p.email, p.phone from segments.{segment} s "
        "join profiles.customer_profiles p on p.person_id = s.person_id "
        f"where p.consent_{purpose} {held_out}"
    ).to_pylist()


RECENT_BUYERS_AUDIENCE = "120210000000000002"  # meta_suppress_recent_buyers
META_AUDIENCES = {
    "120210000000000001": "high_value_churn_risk",  # meta_churn_risk
    RECENT_BUYERS_AUDIENCE: "recent_buyers_suppression",
}


def _append_purchase_for_lapsed_buyer(settings) -> str:  # noqa: ANN001 - tessera Settings
    """Copy a lapsed buyer's last completed order to just after the newest data; their email."""
    with Warehouse(settings).session() as session:
        row = session.arrow(
            """
            select p.email, o.order_id
            from profiles.customer_profiles p
            join raw.orders o on lower(trim(o.customer_email)) = p.email
            where p.consent_ads and lower(trim(o.status)) = 'completed'
              and p.person_id not in (select person_id from segments.recent_buyers_suppression)
            qualify row_number() over (partition by p.person_id order by o.ordered_at desc) = 1
            order by p.person_id
            limit 1
            """
        ).to_pylist()[0]
        session.execute(
            "insert into raw.orders by name select * replace ("
            "order_id || '-again' as order_id, "
            "(select max(updated_at) from raw.orders) + interval 1 minute as ordered_at, "
            "(select max(updated_at) from raw.orders) + interval 1 minute as updated_at"
            ") from raw.orders where order_id = ?",
            [row["order_id"]],
        )
    return row["email"]


def test_manifest_is_stale_when_a_parsed_file_changes_or_goes(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "models" / "staging").mkdir(parents=True)
    (project / "dbt_project.yml").write_text("name: x\n")
    model = project / "models" / "staging" / "a.sql"
    model.write_text("select 1")
    manifest = tmp_path / "manifest.json"
    manifest.write_text("{}")
    past = manifest.stat().st_mtime - 100
    for path in (project / "dbt_project.yml", model, model.parent, project / "models"):
        os.utime(path, (past, past))
    assert not manifest_is_stale(manifest, project)

    model.write_text("select 2")
    assert manifest_is_stale(manifest, project)

    os.utime(model, (past, past))
    (project / "models" / "staging" / "notes.txt").write_text("not parsed")
    os.utime(model.parent, (past, past))
    assert not manifest_is_stale(manifest, project)

    model.unlink()
    assert manifest_is_stale(manifest, project), "a deleted model moves its folder's mtime"
