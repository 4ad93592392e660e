"""A sensor that sees new raw data (events, orders, ...) and launches the incremental refresh.

For every raw table it reads the row count and the newest load timestamp (`received_at` for
events, `updated_at` for orders ...) through a read-only connection, and only while no run
is in flight: DuckDB refuses a writer while any other process holds the file, so the sensor
stays out of the way of the runs it launches.
"""

import json
from collections.abc import Iterable

from dagster import (
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)
from dagster._core.storage.dagster_run import IN_PROGRESS_RUN_STATUSES

from orchestration.resources import WarehouseResource
from tessera.datagen.schema import RAW_TABLES, RawTable
from tessera.warehouse import Warehouse, WarehouseError

NEW_RAW_DATA_SENSOR = "new_raw_data_sensor"
RAW_SCHEMA = "raw"

Watermarks = dict[str, list]  # table -> [row count, newest load timestamp as text]


def read_watermarks(warehouse: Warehouse, tables: Iterable[RawTable] = RAW_TABLES) -> Watermarks:
    """Row count and newest load timestamp of each raw table that exists."""
    marks: Watermarks = {}
    with warehouse.session(read_only=True, create=False) as session:
        for table in tables:
            if not session.table_exists(RAW_SCHEMA, table.name):
                continue
            relation = f"{RAW_SCHEMA}.{table.name}"
            rows = session.scalar(f"select count(*) from {relation}")
            newest = session.scalar(f"select max({table.loaded_at_field}) from {relation}")
            marks[table.name] = [int(rows), None if newest is None else str(newest)]
    return marks


def changed_tables(before: Watermarks, after: Watermarks) -> list[str]:
    return sorted(name for name, mark in after.items() if before.get(name) != mark)


def build_new_raw_data_sensor(job_name: str, interval_seconds: int) -> SensorDefinition:
    @sensor(
        name=NEW_RAW_DATA_SENSOR,
        job_name=job_name,
        minimum_interval_seconds=interval_seconds,
        default_status=DefaultSensorStatus.RUNNING,
        description="Launches the incremental refresh when raw.events (or any other raw "
        "table) gains rows.",
    )
    def new_raw_data_sensor(
        context: SensorEvaluationContext, warehouse: WarehouseResource
    ) -> SensorResult | SkipReason:
        in_flight = context.instance.get_run_records(
            filters=RunsFilter(statuses=IN_PROGRESS_RUN_STATUSES), limit=1
        )
        if in_flight:
            return SkipReason("a run is in progress; checking for new data after it ends")
        try:
            marks = read_watermarks(warehouse.warehouse())
        except WarehouseError as exc:
            return SkipReason(f"warehouse not readable right now: {exc}")
        if not marks:
            return SkipReason("no raw tables yet; generate or load data first")
        cursor = json.dumps(marks, sort_keys=True)
        if context.cursor is None:
            rows = sum(mark[0] for mark in marks.values())
            return SensorResult(skip_reason=f"baseline recorded: {rows:,} raw rows", cursor=cursor)
        changed = changed_tables(json.loads(context.cursor), marks)
        if not changed:
            return SkipReason("no new raw data")
        return SensorResult(
            run_requests=[
                RunRequest(
                    run_key=cursor,
                    tags={"tessera/trigger": "new_raw_data", "tessera/changed": ",".join(changed)},
                )
            ],
            cursor=cursor,
        )

    return new_raw_data_sensor
