"""Launch the full refresh from the Dagster UI in headless Chromium and check its results.

Starts `dagster dev` (webserver + daemon) on 127.0.0.1 with a temporary DAGSTER_HOME and a
small generated warehouse, clicks "Materialize all" on the full_refresh job, waits for the
run page to show success, then reads the warehouse and the destination emulators.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestration.dev_server import log_tail, start_dagster_dev
from tessera.settings import Settings
from tessera.warehouse import Warehouse
from tests.orchestration.orchestration_env import OrchestrationEnv

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
STARTUP_SECONDS = 240
RUN_SECONDS = 1500


@pytest.fixture
def dagster_ui(orchestration_env: OrchestrationEnv) -> Iterator[str]:
    server = start_dagster_dev(orchestration_env.env, orchestration_env.root / "dagster_dev.log")
    try:
        server.wait_until_ready(STARTUP_SECONDS)
        yield server.base_url
    finally:
        server.stop()


@pytest.fixture
def chromium_page(orchestration_env: OrchestrationEnv, request: pytest.FixtureRequest):
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
                output = orchestration_env.root / "output"
                output.mkdir(exist_ok=True)
                with contextlib.suppress(Exception):
                    page.screenshot(path=str(output / "failure.png"), full_page=True)
                    print(f"screenshot saved to {output / 'failure.png'}")
            browser.close()


@pytest.mark.timeout(1800)
def test_full_refresh_launched_from_the_ui_succeeds(
    dagster_ui: str, chromium_page, orchestration_env: OrchestrationEnv
) -> None:
    page = chromium_page
    page.goto(f"{dagster_ui}/jobs")
    page.locator('a[href$="/jobs/full_refresh"]').first.click()
    page.get_by_role("button", name="Materialize all").click()

    # The job page links the run it launched ("Latest run: ...").
    run_link = page.locator('a[href^="/runs/"]').first
    run_link.wait_for(state="visible", timeout=120_000)
    page.goto(f"{dagster_ui}{run_link.get_attribute('href')}")

    status = _wait_for_run_status(page, timeout_seconds=RUN_SECONDS)
    log = log_tail(orchestration_env.root / "dagster_dev.log")
    assert status == "Success", f"run ended as {status}; dagster dev log:\n{log}"

    settings = Settings.from_env(orchestration_env.env)
    with Warehouse(settings).session(read_only=True) as session:
        assert session.scalar("select count(*) from profiles.customer_profiles") > 0
        synced = (
            session.scalar("select coalesce(sum(sent_ok), 0) from tessera_sync.runs")
            if session.table_exists("tessera_sync", "runs")
            else 0
        )
    hubspots = [h for h in orchestration_env.emulators.values() if h.app.kind == "hubspot"]
    if synced and hubspots:
        assert sum(h.app.summary()["contacts"] for h in hubspots) > 0


def _wait_for_run_status(page, timeout_seconds: float) -> str:
    """Poll the run page until its status tag reads Success, Failure or Canceled."""
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        for status in ("Success", "Failure", "Canceled"):
            if page.get_by_text(status, exact=True).count():
                return status
        page.wait_for_timeout(3000)
    return "timed out"
