"""The first hour, as a newcomer lives it, in headless Chromium.

A fresh copy of the project, no TESSERA_* (nor DAGSTER_*, DBT_*) variable: `make demo`, then
`make ui` (its local destination emulators included), then **Materialize all** on
`incremental_refresh` in the Dagster UI, and every step must end green; then the same on
`full_refresh`. After each, the destinations hold exactly the consented members of their
segments; at the end the UI (its GraphQL API) shows what users look for (issue 21 item 4).

On failure the page's screenshot and the make logs are kept under test-results/<test>/.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from dagster import AssetKey, DagsterInstance

from orchestration.dev_server import free_port
from orchestration.freshness_report import FRESHNESS_REPORT, report_check_name
from reverse_etl.hashing import hash_value
from tessera.settings import PROJECT_ROOT
from tests.orchestration.newcomer import (
    MakeUi,
    copy_project,
    run_make,
    start_make_ui,
    tail,
)

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# The smallest demo both models train on (see ml/README.md); the newcomer's default is 5000.
PERSONS = 1200
RUN_SECONDS = 1500
RESULTS = PROJECT_ROOT / "test-results"
HUBSPOT_SEGMENTS = ("lapsed_vips", "high_value_churn_risk")
META_AUDIENCES = {
    "120210000000000001": "high_value_churn_risk",  # meta_churn_risk
    "120210000000000002": "recent_buyers_suppression",  # meta_suppress_recent_buyers
}
RUN_QUERY = """
query Run($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run { status stepStats { stepKey status } }
  }
}
"""
# The UI's schedules and sensor are on, as a newcomer's are: the hourly incremental refresh
# may start while (or after) the test's run, so the test looks for its run's events among
# the latest few rather than taking the latest.
LATEST = 20
ENTRY_FIELDS = """
  label
  ... on IntMetadataEntry { intValue }
  ... on FloatMetadataEntry { floatValue }
  ... on TextMetadataEntry { text }
  ... on MarkdownMetadataEntry { mdStr }
  ... on BoolMetadataEntry { boolValue }
"""
ASSET_QUERY = """
query Asset($key: AssetKeyInput!) {
  assetOrError(assetKey: $key) {
    __typename
    ... on Asset { assetMaterializations(limit: LIMIT) { runId metadataEntries { ENTRY } } }
  }
}
""".replace("ENTRY", ENTRY_FIELDS).replace("LIMIT", str(LATEST))
CHECK_QUERY = """
query Check($key: AssetKeyInput!, $name: String!) {
  assetCheckExecutions(assetKey: $key, checkName: $name, limit: LIMIT) {
    runId
    evaluation { success metadataEntries { ENTRY } }
  }
}
""".replace("ENTRY", ENTRY_FIELDS).replace("LIMIT", str(LATEST))
SYNCS = (
    "hubspot_lapsed_vips",
    "hubspot_churn_risk",
    "meta_churn_risk",
    "meta_suppress_recent_buyers",
)
RUNS_QUERY = """
query Runs($job: String!) {
  runsOrError(filter: {pipelineName: $job}) {
    ... on Runs { results { runId status } }
  }
}
"""


@dataclass
class Newcomer:
    root: Path  # make logs
    project: Path  # the fresh copy
    ui: MakeUi


@pytest.fixture(scope="module")
def newcomer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Newcomer]:
    """A fresh copy after `make demo`, with `make ui` running on a free port."""
    root = tmp_path_factory.mktemp("newcomer")
    project = copy_project(root / "project")
    try:
        run_make(project, root / "make_demo.log", "demo", f"PERSONS={PERSONS}")
    except AssertionError:
        _keep_logs(root, "make_demo")
        raise
    ui = start_make_ui(project, free_port(), root / "make_ui.log", PERSONS)
    try:
        ui.wait_until_ready()
        yield Newcomer(root, project, ui)
    finally:
        ui.stop()


@pytest.fixture
def chromium_page(newcomer: Newcomer, request: pytest.FixtureRequest):
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install -y chromium` (make test does this)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(60_000)
        # Dagster greets new users with a newsletter dialog that would cover the buttons.
        page.add_locator_handler(page.get_by_role("button", name="Skip"), lambda skip: skip.click())
        try:
            yield page
        finally:
            report = getattr(request.node, "rep_call", None)
            if report is None or report.failed:
                output = _keep_logs(newcomer.root, request.node.name)
                with contextlib.suppress(Exception):
                    page.screenshot(path=str(output / "page.png"), full_page=True)
            browser.close()


@pytest.mark.timeout(3600)
def test_newcomer_launches_both_refreshes_from_the_ui_and_every_step_is_green(
    newcomer: Newcomer, chromium_page
) -> None:
    project, ui, page = newcomer.project, newcomer.ui, chromium_page
    assert (project / "warehouse" / "tessera.duckdb").exists(), "the demo's default warehouse"
    with DagsterInstance.from_config(str(project / ".dagster_home")) as instance:
        for path in (
            ["ml", "churn_90d_model"],
            ["ml", "purchase_30d_model"],
            ["ml", "person_scores"],
        ):
            event = instance.get_latest_materialization_event(AssetKey(path))
            assert event is not None, f"{'/'.join(path)}: the demo's training is not in Dagster"

    run_id = _materialize_all(page, ui, "incremental_refresh")
    steps = _steps(ui, run_id)
    assert {key for key in steps if key.startswith("sync__")} == {f"sync__{s}" for s in SYNCS}
    held, expected = _destinations(project, ui)
    # The emulators started empty: HubSpot now holds exactly the email-consented members.
    assert held["hubspot"] == expected["hubspot"] > 0
    assert held["meta"] == expected["meta"]
    assert held["hubspot_max_creates_per_email"] == 1, "no contact created twice"

    run_id = _materialize_all(page, ui, "full_refresh")
    assert any(key.endswith("_model") for key in _steps(ui, run_id)), "the nightly job retrains"
    contacts_before = held["hubspot"]
    held, expected = _destinations(project, ui)
    # Audiences follow the segments exactly; HubSpot upserts and never deletes a contact.
    assert held["meta"] == expected["meta"]
    assert held["hubspot"] >= max(expected["hubspot"], contacts_before)
    assert held["hubspot_max_creates_per_email"] == 1
    _assert_the_ui_shows_what_users_look_for(ui, run_id)


def _assert_the_ui_shows_what_users_look_for(ui: MakeUi, full_refresh_run: str) -> None:
    """Issue 21 item 4, read through the UI's own GraphQL API: identity precision / recall,
    cluster sizes and graph stats; each model's validation metrics with the lift and
    reliability charts and reliability bins with counts; each sync's counts and speed; row
    counts for the profiles view; source freshness from dbt's config."""
    accuracy = _check(ui, ["identity", "identity_graph"], "identity_accuracy", full_refresh_run)
    assert accuracy["passed"] and accuracy["ground_truth"] is True
    assert accuracy["precision"] >= 0.99 and accuracy["recall_of_linkable"] >= 0.9, accuracy
    stats = _materialization(ui, ["identity", "identity_stats"], full_refresh_run)
    assert "data:image/png;base64," in stats["cluster_sizes"], "the cluster size chart"
    assert any(label.startswith("identity/") for label in stats), "graph stats as numbers"
    assert stats["dagster/row_count"] > 0
    largest = _check(
        ui, ["identity", "identity_graph"], "largest_identity_cluster", full_refresh_run
    )
    assert largest["passed"] and largest["largest_cluster_identifiers"] > 0

    for model in ("churn_90d_model", "purchase_30d_model"):
        meta = _materialization(ui, ["ml", model], full_refresh_run)
        assert 0.5 < meta["model_roc_auc"] <= 1.0 and "baseline_roc_auc" in meta, model
        for chart in ("lift_chart", "reliability"):
            assert "data:image/png;base64," in meta[chart], (model, chart)
        assert meta["lift_by_decile"].startswith("| decile | rows |"), model
        assert meta["reliability_bins"].startswith("| bin | predicted range | rows |"), model
    scores = _materialization(ui, ["ml", "person_scores"], full_refresh_run)
    assert scores["dagster/row_count"] > 0

    for sync in SYNCS:
        meta = _materialization(ui, ["sync", sync], full_refresh_run)
        assert meta["status"] == "success", (sync, meta)
        for count in ("sent", "changed", "removed", "rejected"):
            assert isinstance(meta[count], int) and meta[count] >= 0, (sync, count)
        assert meta["rejected"] == 0 and meta["rows_per_second"] >= 0, sync
        assert "errors" in meta, f"{sync}: where the errors are"

    profiles = _materialization(ui, ["profiles", "customer_profiles"], full_refresh_run)
    assert profiles["dagster/row_count"] > 0, "a view has its row count too"
    # The checks on the source tables are not what Materialize all runs; the report asset is.
    report = FRESHNESS_REPORT.path
    table = _materialization(ui, report, full_refresh_run)
    assert table["sources"] >= 8 and "| raw/events | " in table["freshness"]
    freshness = _check(ui, report, report_check_name(AssetKey(["raw", "events"])), full_refresh_run)
    assert freshness["status"] in ("pass", "warn", "error")
    assert freshness["passed"] == (freshness["status"] == "pass")
    # the demo simulates whole days, so today's newest events may lie hours ahead of now
    assert freshness["warn_after_hours"] > 0 and isinstance(freshness["age_hours"], float)


def _asset(ui: MakeUi, key: list[str]) -> dict:
    asset = _graphql(ui, ASSET_QUERY, {"key": {"path": key}})["assetOrError"]
    assert asset["__typename"] == "Asset", f"{'/'.join(key)} is not in the UI: {asset}"
    return asset


def _entries(entries: list[dict]) -> dict:
    return {
        e["label"]: next((e[f] for f in e if f != "label" and e[f] is not None), None)
        for e in entries
    }


def _materialization(ui: MakeUi, key: list[str], run_id: str) -> dict:
    """The metadata of the materialization of `key` that `run_id` made."""
    events = _asset(ui, key)["assetMaterializations"]
    mine = [event for event in events if event["runId"] == run_id]
    assert mine, f"{'/'.join(key)} not materialized by the run: {[e['runId'] for e in events]}"
    return _entries(mine[0]["metadataEntries"])


def _check(ui: MakeUi, key: list[str], name: str, run_id: str) -> dict:
    """The metadata of check `name`'s evaluation on `key` in `run_id`, and whether it passed."""
    variables = {"key": {"path": key}, "name": name}
    executions = _graphql(ui, CHECK_QUERY, variables)["assetCheckExecutions"]
    where = f"{'/'.join(key)} {name}"
    mine = [execution for execution in executions if execution["runId"] == run_id]
    assert mine, f"{where}: not checked by the run: {[e['runId'] for e in executions]}"
    evaluation = mine[0]["evaluation"]
    assert evaluation, f"{where}: no evaluation"
    return {**_entries(evaluation["metadataEntries"]), "passed": evaluation["success"]}


def _materialize_all(page, ui: MakeUi, job: str) -> str:  # noqa: ANN001 - playwright Page
    """Click Materialize all on `job`'s page; wait for the run page to show Success and every
    step to have succeeded. Returns the run id."""
    before = set(_runs(ui, job))
    page.goto(f"{ui.base_url}/jobs")
    page.locator(f'a[href$="/jobs/{job}"]').first.click()
    page.get_by_role("button", name="Materialize all").click()
    run_id = _wait_for_new_run(ui, job, before)
    page.goto(f"{ui.base_url}/runs/{run_id}")
    status = _wait_for_run_status(page, RUN_SECONDS)
    steps = _steps(ui, run_id)
    assert status == "Success", f"{job}: {status}; steps {steps}\n{tail(ui.log)}"
    run = _graphql(ui, RUN_QUERY, {"runId": run_id})["runOrError"]
    assert run["status"] == "SUCCESS", f"the page said Success, the run is {run['status']}"
    assert steps and set(steps.values()) == {"SUCCESS"}, steps
    return run_id


def _graphql(ui: MakeUi, query: str, variables: dict) -> dict:
    response = requests.post(
        f"{ui.base_url}/graphql", json={"query": query, "variables": variables}, timeout=30
    )
    response.raise_for_status()
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


def _runs(ui: MakeUi, job: str) -> dict[str, str]:
    data = _graphql(ui, RUNS_QUERY, {"job": job})["runsOrError"]
    return {run["runId"]: run["status"] for run in data.get("results", [])}


def _wait_for_new_run(ui: MakeUi, job: str, before: set[str], timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        new = set(_runs(ui, job)) - before
        if new:
            assert len(new) == 1, f"one click, one run: {new}"
            return new.pop()
        time.sleep(2)
    raise AssertionError(f"clicking Materialize all launched no {job} run:\n{tail(ui.log)}")


def _steps(ui: MakeUi, run_id: str) -> dict[str, str]:
    run = _graphql(ui, RUN_QUERY, {"runId": run_id})["runOrError"]
    return {step["stepKey"]: step["status"] for step in run.get("stepStats", [])}


def _wait_for_run_status(page, timeout_seconds: float) -> str:  # noqa: ANN001 - playwright Page
    """Poll the run page until its status tag reads Success, Failure or Canceled."""
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        for status in ("Success", "Failure", "Canceled"):
            if page.get_by_text(status, exact=True).count():
                return status
        page.wait_for_timeout(3000)
    return "timed out"


def _destinations(project: Path, ui: MakeUi) -> tuple[dict, dict]:
    """(what the emulators hold, what they should hold): HubSpot contacts against the
    email-consented members of both HubSpot segments, and the Meta audiences (as the distinct
    hashed identifier pairs the emulator stores) against their ad-consented members, less
    any experiment's holdout. Read
    over HTTP from the emulators `make ui` started and from the copy's warehouse."""
    import duckdb

    con = duckdb.connect(str(project / "warehouse" / "tessera.duckdb"), read_only=True)
    try:
        holdouts = con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = 'experiments' and table_name = 'sync_holdouts'"
        ).fetchone()[0]
        assert holdouts == 1, "the demo assigned the starter experiments (issue 18)"

        def consented(segment: str, purpose: str) -> list[tuple]:
            # an experiment's holdout is never sent by its segment's syncs
            held_out = (
                "and s.person_id not in (select h.person_id from experiments.sync_holdouts h "
                "join experiments.experiment_arms a on a.experiment = h.experiment "
                f"where a.segment = '{segment}')"
            )
            return con.execute(
                f"select p.email, p.phone from segments.{segment} s join "
                "profiles.customer_profiles p on p.person_id = s.person_id "
                f"where p.consent_{purpose} {held_out}"
            ).fetchall()

        emails = {e for s in HUBSPOT_SEGMENTS for e, _ in consented(s, "email") if e}
        audiences = {
            audience: len(
                {
                    pair
                    for email, phone in consented(segment, "ads")
                    if any(pair := (hash_value("email", email), hash_value("phone", phone)))
                }
            )
            for audience, segment in META_AUDIENCES.items()
        }
    finally:
        con.close()
    urls = ui.emulator_urls()
    hubspot = requests.get(f"{urls['hubspot']}/_emulator/summary", timeout=10).json()
    meta = requests.get(f"{urls['meta']}/_emulator/summary", timeout=10).json()
    held = {
        "hubspot": hubspot["contacts"],
        "hubspot_max_creates_per_email": hubspot["max_creates_per_email"],
        "meta": {audience: meta["audiences"].get(audience, 0) for audience in META_AUDIENCES},
    }
    return held, {"hubspot": len(emails), "meta": audiences}


def _keep_logs(root: Path, name: str) -> Path:
    """Copy the make logs (make ui's holds dagster dev's) to test-results/<name>/."""
    output = RESULTS / name
    output.mkdir(parents=True, exist_ok=True)
    for log in root.glob("*.log"):
        shutil.copy2(log, output / log.name)
    return output
