"""A sensor that sees new source data (events, orders, ...) and launches the incremental refresh.

It watches the tables the build reads (tessera.sources.resolve: the source contract's tables
where var tessera_sources puts them, or a loader's tables behind an adapter; switched-off and
absent sources are not watched). For each it reads the row count and the newest load timestamp
(`received_at` for events, `updated_at` for orders, `_fivetran_synced` for a Fivetran table
...) through a read-only connection, and only while no run is in flight: DuckDB refuses a
writer while any other process holds the file, so the sensor stays out of the way of the runs
it launches.
"""

import json
from collections.abc import Iterable

from dagster import (
    DagsterRunStatus,
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from orchestration.resources import WarehouseResource
from tessera.sources.resolve import PhysicalTable, resolve_all
from tessera.warehouse import Session, Warehouse, WarehouseError

# Dagster's in-progress run statuses, spelled with public names (its own constant is private).
IN_PROGRESS_RUN_STATUSES = [
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
    DagsterRunStatus.CANCELING,
    DagsterRunStatus.SUSPENDED,
]

NEW_RAW_DATA_SENSOR = "new_raw_data_sensor"

Watermarks = dict[str, list]  # source.table -> [row count, newest load timestamp as text]


def watched_tables(session: Session) -> dict[str, PhysicalTable]:
    """The existing tables the build reads, by `<source>.<table>`."""
    return {
        f"{resolution.source}.{table.logical}": table
        for resolution in resolve_all(session)
        if resolution.is_read
        for table in resolution.tables
        if table.exists
    }


def read_watermarks(warehouse: Warehouse, tables: Iterable[str] | None = None) -> Watermarks:
    """Row count and newest load timestamp of each table the build reads (or of `tables`,
    names as `<source>.<table>`, among them)."""
    marks: Watermarks = {}
    with warehouse.session(read_only=True, create=False) as session:
        for name, table in watched_tables(session).items():
            if tables is not None and name not in tables:
                continue
            relation = table.sql(session.dialect)
            rows = session.scalar(f"select count(*) from {relation}")
            newest = None
            if table.loaded_at_field.lower() in table.columns:
                newest = session.scalar(f'select max("{table.loaded_at_field}") from {relation}')
            marks[name] = [int(rows), None if newest is None else str(newest)]
    return marks


def changed_tables(before: Watermarks, after: Watermarks) -> list[str]:
    return sorted(name for name, mark in after.items() if before.get(name) != mark)


def build_new_raw_data_sensor(job_name: str, interval_seconds: int) -> SensorDefinition:
    @sensor(
        name=NEW_RAW_DATA_SENSOR,
        job_name=job_name,
        minimum_interval_seconds=interval_seconds,
        default_status=DefaultSensorStatus.RUNNING,
        description="Launches the incremental refresh when a table the build reads (events, "
        "orders ... where tessera_sources puts them) gains rows or newer loads.",
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
            return SkipReason(
                "no source tables yet; load data (or `tessera datagen`), then "
                "`tessera sources check`"
            )
        cursor = json.dumps(marks, sort_keys=True)
        if context.cursor is None:
            rows = sum(mark[0] for mark in marks.values())
            return SensorResult(
                skip_reason=f"baseline recorded: {rows:,} source rows", cursor=cursor
            )
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
