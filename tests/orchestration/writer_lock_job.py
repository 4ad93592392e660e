"""Two warehouse writers with nothing between them: a job for test_writer_lock.py that the
multiprocess executor runs in two processes at once (reconstructable, so module level)."""

from __future__ import annotations

import os
import time

from dagster import Definitions, JobDefinition, asset, define_asset_job

from orchestration.resources import WarehouseResource

WAREHOUSE_ENV = "TESSERA_TEST_WRITER_LOCK_WAREHOUSE"
HOLD_SECONDS = 1.5


def _write(name: str, warehouse: WarehouseResource) -> None:
    with warehouse.warehouse().session() as session:
        session.execute("create table if not exists writes (step varchar, written_at double)")
        session.execute("insert into writes values (?, ?)", [f"{name}:start", time.time()])
        time.sleep(HOLD_SECONDS)
        session.execute("insert into writes values (?, ?)", [f"{name}:end", time.time()])


@asset
def first_writer(warehouse: WarehouseResource) -> None:
    _write("first", warehouse)


@asset
def second_writer(warehouse: WarehouseResource) -> None:
    _write("second", warehouse)


def writers_job() -> JobDefinition:
    defs = Definitions(
        assets=[first_writer, second_writer],
        jobs=[define_asset_job("writers", selection=[first_writer, second_writer])],
        resources={"warehouse": WarehouseResource(duckdb_path=os.environ[WAREHOUSE_ENV])},
    )
    return defs.resolve_job_def("writers")
