"""Under an instance with no pool limit (a plain `dagster dev`), two warehouse steps that run
at once take turns on the DuckDB file instead of one failing on its lock; outside a run (a
sensor) the resource takes no lock. Real Dagster, a real instance, real processes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest
from dagster import DagsterInstance, build_resources, execute_job, materialize, reconstructable

from orchestration.resources import WarehouseResource
from orchestration.writer_lock import WriterLock
from tests.orchestration.writer_lock_job import WAREHOUSE_ENV, first_writer, writers_job


def test_two_steps_at_once_take_turns_on_the_warehouse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    monkeypatch.setenv(WAREHOUSE_ENV, str(warehouse))
    home = tmp_path / "dagster_home"
    home.mkdir()
    with DagsterInstance.local_temp(str(home)) as instance:
        assert instance.get_concurrency_config().pool_config.default_pool_limit is None
        result = execute_job(reconstructable(writers_job), instance=instance)
        failures = [e.step_key for e in result.all_events if e.is_step_failure]
        assert result.success, failures
        logs = [entry.user_message for entry in instance.all_logs(result.run_id)]
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        writes = dict(conn.execute("select step, written_at from writes").fetchall())
    spans = sorted((writes[f"{s}:start"], writes[f"{s}:end"]) for s in ("first", "second"))
    assert spans[0][1] <= spans[1][0], f"the two writers overlapped: {spans}"
    # the multiprocess executor started both at once: one of them waited, and said so
    assert any("waiting for the warehouse" in message for message in logs)


def test_a_step_waits_for_a_writer_in_another_process(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
                import sys, time
                from pathlib import Path
                from orchestration.writer_lock import WriterLock
                lock = WriterLock(Path({str(warehouse)!r}), "the holder test")
                lock.acquire(print)
                print("held", flush=True)
                time.sleep(2)
                lock.release()
            """),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        with DagsterInstance.ephemeral() as instance:
            result = materialize(
                [first_writer],
                instance=instance,
                resources={"warehouse": WarehouseResource(duckdb_path=str(warehouse))},
            )
            logs = [entry.user_message for entry in instance.all_logs(result.run_id)]
        waited = time.monotonic() - started
    finally:
        holder.wait(timeout=30)
    assert result.success
    assert waited >= 1.0, "the step ran while another process held the warehouse"
    waiting = [message for message in logs if "waiting for the warehouse" in message]
    assert waiting and "the holder test (pid" in waiting[0]


def test_outside_a_run_the_resource_takes_no_lock(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    held = WriterLock(warehouse, "a running step")
    held.acquire(print)
    try:
        started = time.monotonic()
        with build_resources(
            {"warehouse": WarehouseResource(duckdb_path=str(warehouse))}
        ) as resources:
            assert resources.warehouse.settings().warehouse_path == warehouse
        assert time.monotonic() - started < 1.0, "a sensor would wait for a run to finish"
    finally:
        held.release()
