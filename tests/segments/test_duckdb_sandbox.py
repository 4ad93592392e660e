"""The DuckDB segment sandbox on its own (no dbt): a segment's SQL runs in a worker process
with kernel limits and an in-memory DuckDB that holds only copies of the readable relations;
whatever it does, the warehouse keeps every other table and the segment's previous rows."""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pytest

from tessera.segments.duckdb_sandbox import (
    SandboxLimits,
    SegmentSandboxError,
    Workers,
    build_segment,
    memory_bytes,
)

READABLE = ["profiles.customer_profiles"]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    path = tmp_path_factory.mktemp("sandbox") / "wh.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create schema profiles")
    con.execute(
        "create table profiles.customer_profiles as select 'p' || i as person_id, "
        "'e' || i || '@x.com' as email from range(120) t(i)"
    )
    con.execute("create schema raw")
    con.execute("create table raw.crm_contacts as select 'pii@raw.test' as email")
    con.execute("create schema segments")
    con.execute("create table segments.target as select 'before' as person_id")
    yield con
    con.close()


def build(
    con: duckdb.DuckDBPyConnection, sql: str, workers: Workers | None = None, **limits: object
) -> int:
    return build_segment(
        con,
        database=con.execute("select current_database()").fetchone()[0],
        schema="segments",
        name="target",
        sql=sql,
        model_name="target",
        segments_schema="segments",
        readable=READABLE,
        limits=SandboxLimits(**{"timeout_seconds": 20.0, **limits}),  # type: ignore[arg-type]
        workers=workers,
    )


def rows(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute("select * from segments.target order by all").fetchall()


def refused(con: duckdb.DuckDBPyConnection, sql: str, **limits: object) -> str:
    before = rows(con)
    with pytest.raises(SegmentSandboxError) as error:
        build(con, sql, **limits)
    assert rows(con) == before  # the previous rows survive a failed build
    assert con.execute("select count(*) from raw.crm_contacts").fetchone() == (1,)
    return str(error.value)


def test_a_segment_reads_copies_of_readable_relations(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    sql = "select person_id, email from profiles.customer_profiles where person_id in ('p0', 'p1')"
    assert build(warehouse, sql) == 2
    assert rows(warehouse)[0] == ("p0", "e0@x.com")


@pytest.mark.parametrize(
    ("sql", "says"),
    [
        ("select email as person_id from raw.crm_contacts", 'schema "raw" does not exist'),
        ("select content as person_id from read_text('/etc/hostname')", "disabled"),
        ("select * from 'https://example.com/x.csv'", "disabled"),
        ("select 1 as person_id; copy (select 1) to 'leak.csv'", "syntax error"),
        ("select 1 as person_id from duckdb_extensions()", "disabled"),
    ],
    ids=["raw", "file", "url", "second_statement", "extension_directory"],
)
def test_what_is_not_readable_does_not_exist(
    warehouse: duckdb.DuckDBPyConnection, sql: str, says: str
) -> None:
    assert says in refused(warehouse, sql)


def test_memory_outside_duckdbs_buffer_manager_is_capped_by_the_kernel(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    """A 16 GB list: in the dbt process this grew until the kernel killed the build."""
    sql = "select person_id, unnest(range(1, 2000000000)) as n from profiles.customer_profiles"
    assert "memory" in refused(warehouse, sql, memory_limit="512MB").lower()


def test_a_segment_that_never_ends_is_stopped(warehouse: duckdb.DuckDBPyConnection) -> None:
    sql = "with recursive r(n) as (select 1 union all select n + 1 from r) select n from r"
    assert "segment_timeout_seconds" in refused(warehouse, sql, timeout_seconds=3.0)


def test_too_many_rows_are_refused(warehouse: duckdb.DuckDBPyConnection) -> None:
    sql = "select person_id from profiles.customer_profiles"
    assert "segment_max_rows" in refused(warehouse, sql, max_rows=10)


def test_the_sandbox_shows_no_home_directory_or_persistent_secret(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    sql = (
        "select current_setting('secret_directory') || '|' || current_setting('home_directory')"
        " || '|' || (select count(*) from duckdb_secrets()) as person_id"
    )
    build(warehouse, sql)
    assert rows(warehouse) == [("||0",)]


def test_memory_limits_read_like_duckdbs() -> None:
    assert memory_bytes("2GB") == 2 * 1000**3
    assert memory_bytes("512 MiB") == 512 * 1024**2
    with pytest.raises(SegmentSandboxError, match="80%"):
        memory_bytes("80%")


def test_a_warehouse_file_of_any_name_builds_its_segments(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """The catalog is the file's name: a space or a hyphen once refused every segment."""
    path = tmp_path_factory.mktemp("names") / "my warehouse-1.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("create schema profiles")
        con.execute("create table profiles.customer_profiles as select 'p1' as person_id")
        con.execute("create schema segments")
        assert con.execute("select current_database()").fetchone()[0] == "my warehouse-1"
        assert build(con, 'select person_id from "my warehouse-1".profiles.customer_profiles')
        assert rows(con) == [("p1",)]


def test_each_segment_gets_a_fresh_worker_started_ahead(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    workers = Workers(SandboxLimits(timeout_seconds=20.0, memory_limit="512MB"))
    sql = "select person_id from profiles.customer_profiles"
    assert build(warehouse, sql, workers=workers) == 120
    ahead = workers.spare
    assert ahead is not None and ahead.poll() is None  # started, waiting for its segment
    # a hostile segment in the worker started ahead: it dies alone, the next gets a new one
    hostile = "select person_id, unnest(range(1, 2000000000)) as n from profiles.customer_profiles"
    assert "memory" in refused(warehouse, hostile, workers=workers).lower()
    assert ahead.poll() is not None
    assert build(warehouse, sql, workers=workers) == 120
    unused = workers.spare
    workers.close()
    assert unused is not None and unused.returncode == 0  # exits unused on end of input
