"""Build a segment's table on DuckDB from a sandbox that holds only what segments may read.

DuckDB has no grants, and its safety settings (`enable_external_access`,
`lock_configuration`) are global to a database instance and cannot be undone, while
dbt-duckdb runs every model of a build through one instance. So a segment's SQL does not run
in that instance: this dbt-duckdb plugin (configured in profiles.yml, called by the
`segment` materialization) opens a second, in-memory DuckDB instance with external access
disabled, extension loading off, a memory and thread limit and the configuration locked,
gives it read-only copies of the readable relations the SQL names, runs the SQL there under a
timeout and a row cap, and writes the rows to `segments.<name>` in the warehouse. Raw
schemas, staging, identity internals, files, URLs, settings and other databases simply do
not exist where the segment runs; models built after it keep the warehouse's own settings.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import duckdb

try:  # the plugin base class exists wherever dbt-duckdb is installed (the dbt run)
    from dbt.adapters.duckdb.plugins import BasePlugin
except ImportError:  # pragma: no cover - tessera without dbt-duckdb still imports this module
    BasePlugin = object  # type: ignore[assignment,misc]

SEGMENT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
PLAIN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
RESERVED_TABLES = frozenset({"segment_membership", "segment_sizes"})


class SegmentSandboxError(RuntimeError):
    """The segment could not be built inside the sandbox; the message says why."""


@dataclass(frozen=True)
class SandboxLimits:
    memory_limit: str = "2GB"
    threads: int = 2
    timeout_seconds: float = 600.0
    max_rows: int = 50_000_000

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SandboxLimits:
        defaults = cls()
        return cls(
            memory_limit=str(config.get("segment_memory_limit") or defaults.memory_limit),
            threads=int(config.get("segment_threads") or defaults.threads),
            timeout_seconds=float(
                config.get("segment_timeout_seconds") or defaults.timeout_seconds
            ),
            max_rows=int(config.get("segment_max_rows") or defaults.max_rows),
        )


class Plugin(BasePlugin):  # type: ignore[misc,valid-type]
    """dbt-duckdb plugin: `store()` builds one segment (see the module docstring)."""

    def initialize(self, plugin_config: dict[str, Any]) -> None:
        self.limits = SandboxLimits.from_config(plugin_config)
        self._conn: duckdb.DuckDBPyConnection | None = None

    def configure_connection(self, conn: duckdb.DuckDBPyConnection) -> None:
        self._conn = conn  # the warehouse instance dbt-duckdb opened for this run

    def store(self, target_config: Any) -> None:
        if self._conn is None:
            raise SegmentSandboxError("the segment sandbox plugin has no warehouse connection")
        request = target_config.config
        relation = target_config.relation
        build_segment(
            self._conn,
            database=str(relation.database),
            schema=str(relation.schema),
            name=str(relation.identifier),
            sql=str(request["sql"]),
            model_name=str(request["name"]),
            segments_schema=str(request["segments_schema"]),
            readable=[str(r) for r in request["readable"]],
            limits=self.limits,
        )


def build_segment(
    warehouse: duckdb.DuckDBPyConnection,
    *,
    database: str,
    schema: str,
    name: str,
    sql: str,
    model_name: str,
    segments_schema: str,
    readable: Iterable[str],
    limits: SandboxLimits,
) -> int:
    """Run `sql` in a fresh sandbox and replace `<database>.<schema>.<name>` with its rows."""
    if schema != segments_schema or name != model_name:
        raise SegmentSandboxError(
            f"segment {model_name} may only build {segments_schema}.{model_name}, "
            f"not {schema}.{name}"
        )
    if not SEGMENT_NAME.match(name) or name in RESERVED_TABLES:
        raise SegmentSandboxError(f"{name!r} is not a segment name a sandbox may write")
    if not PLAIN_NAME.match(database):
        raise SegmentSandboxError(f"unexpected warehouse database name {database!r}")
    reader = warehouse.cursor()
    try:
        sources = _readable_relations(reader, database, readable, segments_schema, sql)
        sandbox = _open_sandbox(limits)
        try:
            _load(sandbox, reader, database, sources)
            _close_the_door(sandbox)
            return _run_and_write(warehouse, sandbox, database, schema, name, sql, limits)
        finally:
            sandbox.close()
    finally:
        reader.close()


def _open_sandbox(limits: SandboxLimits) -> duckdb.DuckDBPyConnection:
    """An empty in-memory instance. DuckDB allows paths beside an in-memory database's
    nominal file (`./:memory:`, `./:memory:.wal` ...) even with external access off, so those
    allowances are cleared before access is switched off, and the result is verified."""
    sandbox = duckdb.connect(
        config={
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "allow_community_extensions": False,
            "allow_unsigned_extensions": False,
            "memory_limit": limits.memory_limit,
            "threads": limits.threads,
            "temp_directory": "",  # no spilling to disk: the memory limit is the limit
        }
    )
    sandbox.execute("set allowed_paths = []")
    sandbox.execute("set allowed_directories = []")
    return sandbox


def _close_the_door(sandbox: duckdb.DuckDBPyConnection) -> None:
    sandbox.execute("set enable_external_access = false")
    sandbox.execute("set lock_configuration = true")
    settings = dict(
        sandbox.execute(
            "select name, value from duckdb_settings() where name in ('enable_external_access', "
            "'lock_configuration', 'allowed_paths', 'allowed_directories', 'temp_directory')"
        ).fetchall()
    )
    expected = {
        "enable_external_access": "false",
        "lock_configuration": "true",
        "allowed_paths": "[]",
        "allowed_directories": "[]",
        "temp_directory": "",
    }
    if settings != expected:
        raise SegmentSandboxError(f"the segment sandbox is not closed: {settings}")


def _readable_relations(
    cursor: duckdb.DuckDBPyConnection,
    database: str,
    readable: Iterable[str],
    segments_schema: str,
    sql: str,
) -> list[tuple[str, str]]:
    """Readable relations that exist and whose name appears in the SQL (a superset of what
    the SQL reads: copying one too many costs time, never safety)."""
    existing = cursor.execute(
        "select table_schema, table_name from information_schema.tables where table_catalog = ?",
        [database],
    ).fetchall()
    allowed = {r.lower() for r in readable}
    lowered = sql.lower()
    chosen = []
    for table_schema, table_name in existing:
        if not (PLAIN_NAME.match(table_schema) and PLAIN_NAME.match(table_name)):
            continue
        relation = f"{table_schema}.{table_name}".lower()
        if relation not in allowed and table_schema.lower() != segments_schema.lower():
            continue
        if table_name.lower() in lowered:
            chosen.append((table_schema, table_name))
    return chosen


def _load(
    sandbox: duckdb.DuckDBPyConnection,
    reader: duckdb.DuckDBPyConnection,
    database: str,
    sources: list[tuple[str, str]],
) -> None:
    """Give the sandbox a catalog named like the warehouse's, so the SQL dbt compiled
    ("db"."schema"."table") resolves, holding views over copies of the chosen relations."""
    sandbox.execute(f"attach ':memory:' as \"{database}\"")
    sandbox.execute(f'use "{database}"')
    for index, (schema, table) in enumerate(sources):
        rows = reader.sql(f'select * from "{database}"."{schema}"."{table}"').to_arrow_table()
        sandbox.register(f"__tessera_source_{index}", rows)
        sandbox.execute(f'create schema if not exists "{database}"."{schema}"')
        sandbox.execute(
            f'create view "{database}"."{schema}"."{table}" as '
            f"select * from __tessera_source_{index}"
        )


def _run_and_write(
    warehouse: duckdb.DuckDBPyConnection,
    sandbox: duckdb.DuckDBPyConnection,
    database: str,
    schema: str,
    name: str,
    sql: str,
    limits: SandboxLimits,
) -> int:
    target = f'"{database}"."{schema}"."{name}"'
    timer = threading.Timer(limits.timeout_seconds, sandbox.interrupt)
    timer.start()
    writer = warehouse.cursor()
    try:
        # One query expression: a second statement or a trailing ';' cannot parse here.
        rows = sandbox.sql(f"select * from (\n{sql}\n) as segment_rows limit {limits.max_rows + 1}")
        writer.register("__tessera_segment_rows", rows.to_arrow_reader(100_000))
        writer.execute("begin")
        existing = writer.execute(
            "select table_type from information_schema.tables "
            "where table_catalog = ? and table_schema = ? and table_name = ?",
            [database, schema, name],
        ).fetchone()
        if existing and existing[0] == "VIEW":
            writer.execute(f"drop view {target}")
        writer.execute(f'create schema if not exists "{database}"."{schema}"')
        writer.execute(f"create or replace table {target} as select * from __tessera_segment_rows")
        count = int(writer.execute(f"select count(*) from {target}").fetchone()[0])
        if count > limits.max_rows:
            writer.execute("rollback")
            raise SegmentSandboxError(
                f"segment {name} returned more than {limits.max_rows:,} rows (segment_max_rows)"
            )
        writer.execute("commit")
        return count
    except duckdb.InterruptException:
        _rollback(writer)
        raise SegmentSandboxError(
            f"segment {name} ran longer than {limits.timeout_seconds:g}s and was stopped "
            "(segment_timeout_seconds)"
        ) from None
    except duckdb.Error as exc:
        _rollback(writer)
        raise SegmentSandboxError(f"segment {name} failed in the sandbox: {exc}") from None
    finally:
        timer.cancel()
        writer.close()


def _rollback(cursor: duckdb.DuckDBPyConnection) -> None:
    with contextlib.suppress(duckdb.Error):  # no transaction was open
        cursor.execute("rollback")
