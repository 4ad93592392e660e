"""Freshness: from a new purchase landing in raw data to the ad audience reflecting it.

With `dagster dev` (webserver + daemon) running, each trial appends an order for a person
who is not a recent buyer, and measures the time until the Meta audience emulator holds the
person's hashed email (the `meta_suppress_recent_buyers` sync adds new recent buyers). The
new-raw-data sensor sees the order and launches `incremental_refresh`: staging -> identity ->
profiles -> scores -> segments -> syncs.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from bench.common import generated_warehouse
from orchestration.dev_server import start_dagster_dev
from orchestration.local_destinations import start_local_destinations
from orchestration.ui import prepare_dagster_home
from tessera.settings import DBT_PROJECT_DIR, Settings
from tessera.warehouse import Session, Warehouse, WarehouseError

TRIALS = 20
SYNC_DESTINATION = "meta"
AUDIENCE_ID = "120210000000000002"  # meta_suppress_recent_buyers in dbt_project/syncs
TRIAL_TIMEOUT_SECONDS = 1800
SENSOR_BASELINE_SECONDS = 45


def run(scale: int, workdir: Path, trials: int = TRIALS) -> dict:
    settings = generated_warehouse(scale, workdir)
    local = start_local_destinations(DBT_PROJECT_DIR / "syncs", workdir / "syncs")
    if SYNC_DESTINATION not in local.emulators:
        raise RuntimeError(f"no {SYNC_DESTINATION!r} destination in dbt_project/syncs")
    env = {
        **os.environ,
        **local.env,
        "TESSERA_TARGET": "duckdb",
        "TESSERA_WAREHOUSE": str(settings.warehouse_path),
        "TESSERA_ARTIFACTS": str(workdir / "artifacts"),
        "TESSERA_DBT_TARGET_PATH": str(workdir / "dbt_target"),
        "TESSERA_SYNCS_DIR": str(local.syncs_dir),
        "DAGSTER_HOME": str(prepare_dagster_home(workdir / "dagster_home")),
    }
    settings = Settings.from_env(env)
    try:
        started = time.perf_counter()
        _full_refresh(env)
        initial_seconds = time.perf_counter() - started
        server = start_dagster_dev(env, workdir / "dagster_dev.log")
        try:
            server.wait_until_ready()
            time.sleep(SENSOR_BASELINE_SECONDS)  # the sensor's first tick records a baseline
            audience = local.emulators[SYNC_DESTINATION].app.members
            latencies = [_trial(settings, audience, index) for index in range(trials)]
        finally:
            server.stop()
    finally:
        local.stop()
    ordered = sorted(latencies)
    return {
        "trials": trials,
        "p50_seconds": statistics.median(ordered),
        "p95_seconds": ordered[max(0, round(0.95 * len(ordered)) - 1)],
        "max_seconds": ordered[-1],
        "initial_full_refresh_seconds": initial_seconds,
    }


def _full_refresh(env: dict[str, str]) -> None:
    """The first build, in process: models, training, scores, segments and first syncs."""
    from dagster import DagsterInstance

    from orchestration.builder import build_definitions
    from orchestration.config import OrchestrationConfig

    os.environ.update(env)  # dagster-dbt hands os.environ to dbt; this is a child process
    defs = build_definitions(OrchestrationConfig.from_env(env))
    result = defs.resolve_job_def("full_refresh").execute_in_process(
        instance=DagsterInstance.ephemeral()
    )
    if not result.success:
        raise RuntimeError("the initial full_refresh failed")


def _trial(settings: Settings, audience: dict, index: int) -> float:
    from reverse_etl.hashing import hash_value

    email, order_id = _pick_lapsed_buyer(settings, index)
    expected = hash_value("email", email)
    _append_order(settings, order_id, f"fresh-{index}")
    started = time.perf_counter()
    deadline = started + TRIAL_TIMEOUT_SECONDS
    while time.perf_counter() < deadline:
        members = audience.get(AUDIENCE_ID, set())
        if any(expected in row for row in list(members)):
            return time.perf_counter() - started
        time.sleep(0.25)
    raise RuntimeError(f"trial {index}: the audience did not gain the buyer in time")


def _pick_lapsed_buyer(settings: Settings, index: int) -> tuple[str, str]:
    """A person with ads consent, outside the recent-buyers segment, and a past order."""
    sql = """
        select p.email, o.order_id
        from profiles.customer_profiles p
        join raw.orders o on lower(trim(o.customer_email)) = p.email
        where p.consent_ads and p.email is not null
          and lower(trim(o.status)) = 'completed'
          and p.person_id not in (select person_id from segments.recent_buyers_suppression)
        qualify row_number() over (partition by p.person_id order by o.ordered_at desc) = 1
        order by p.person_id
        limit 1 offset ?
    """
    with _session(settings, read_only=True) as session:
        row = session.arrow(sql, [index]).to_pylist()
    if not row:
        raise RuntimeError("no lapsed buyer with ads consent left to convert")
    return row[0]["email"], row[0]["order_id"]


def _append_order(settings: Settings, template_order_id: str, suffix: str) -> None:
    """A copy of the person's last order, placed one minute after the newest raw data."""
    with _session(settings, read_only=False) as session:
        session.execute(
            "insert into raw.orders by name select * replace ("
            "order_id || ? as order_id, "
            "(select max(updated_at) from raw.orders) + interval 1 minute as ordered_at, "
            "(select max(updated_at) from raw.orders) + interval 1 minute as updated_at"
            ") from raw.orders where order_id = ?",
            [f"-{suffix}", template_order_id],
        )


@contextmanager
def _session(settings: Settings, read_only: bool, attempts: int = 240) -> Iterator[Session]:
    """A session, waiting while a Dagster run or a sensor tick holds the DuckDB file."""
    for _ in range(attempts):
        stack = ExitStack()
        try:
            session = stack.enter_context(Warehouse(settings).session(read_only=read_only))
        except WarehouseError:
            time.sleep(0.5)
            continue
        with stack:
            yield session
        return
    raise RuntimeError("the warehouse stayed locked")
