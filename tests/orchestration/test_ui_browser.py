"""The first hour, as a newcomer lives it, in headless Chromium.

A fresh copy of the project, no TESSERA_* (nor DAGSTER_*, DBT_*) variable: `make demo`, then
`make ui` (its local destination emulators included), then **Materialize all** on
`incremental_refresh` in the Dagster UI, and every step must end green; then `full_refresh`,
launched through the UI's own GraphQL API, must end in Success too. Afterwards the
destinations hold exactly the consented members of their segments.

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
    assert {key for key in steps if key.startswith("sync__")} == {
        "sync__hubspot_lapsed_vips",
        "sync__hubspot_churn_risk",
        "sync__meta_churn_risk",
        "sync__meta_suppress_recent_buyers",
    }
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
    hashed identifier pairs the emulator stores) against their ad-consented members. Read
    over HTTP from the emulators `make ui` started and from the copy's warehouse."""
    import duckdb

    con = duckdb.connect(str(project / "warehouse" / "tessera.duckdb"), read_only=True)
    try:

        def consented(segment: str, purpose: str) -> list[tuple]:
            return con.execute(
                f"select p.email, p.phone from segments.{segment} s join "
                "profiles.customer_profiles p on p.person_id = s.person_id "
                f"where p.consent_{purpose}"
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
