"""Build a segment's table on DuckDB from a sandbox that holds only what segments may read.

DuckDB has no grants, and its safety settings (`enable_external_access`,
`lock_configuration`) are global to a database instance and cannot be undone, while
dbt-duckdb runs every model of a build through one instance. So a segment's SQL does not run
in that instance: this dbt-duckdb plugin (configured in profiles.yml, called by the
`segment` materialization) starts a worker process (sandbox_worker.py) with an empty
environment and kernel limits on its address space, CPU time and file writes, which opens an
in-memory DuckDB instance with external access disabled, extension loading and persistent
secrets off, a memory and thread limit and the configuration locked. The worker gets copies
of the readable relations the SQL names (streamed as Arrow), runs the SQL under a timeout
and a row cap, and streams the rows back; they are written to `segments.<name>` in the
warehouse. Raw schemas, staging, identity internals, files, URLs, settings, secrets and
other databases simply do not exist where the segment runs; a segment that exhausts memory
kills only its worker; models built after it keep the warehouse's own settings.
"""

from __future__ import annotations

import contextlib
import json
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.ipc as ipc

from tessera.segments.sandbox_worker import EXIT_SQL_ERROR

try:  # the plugin base class exists wherever dbt-duckdb is installed (the dbt run)
    from dbt.adapters.duckdb.plugins import BasePlugin
except ImportError:  # pragma: no cover - tessera without dbt-duckdb still imports this module
    BasePlugin = object  # type: ignore[assignment,misc]

SEGMENT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
PLAIN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
RESERVED_TABLES = frozenset({"segment_membership", "segment_sizes"})


_UNITS = {"": 1, "b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4}
_UNITS |= {"kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$", re.IGNORECASE)


def memory_bytes(limit: str) -> int:
    """Bytes of a DuckDB memory_limit such as '2GB' or '512MiB'."""
    match = _SIZE.match(limit)
    unit = (match.group(2).lower() if match else "").replace("byte", "b").rstrip("s")
    if not match or unit not in _UNITS:
        raise SegmentSandboxError(
            f"segment_memory_limit {limit!r} is not a size such as 2GB or 512MiB"
        )
    return int(float(match.group(1)) * _UNITS[unit])


class SegmentSandboxError(RuntimeError):
    """The segment could not be built inside the sandbox; the message says why."""


@dataclass(frozen=True)
class SandboxLimits:
    memory_limit: str = "2GB"
    threads: int = 2
    timeout_seconds: float = 600.0
    max_rows: int = 50_000_000

    def worker_limits(self) -> dict[str, Any]:
        """The worker's first line: its kernel limits, set before it imports DuckDB, and
        its DuckDB instance's limits."""
        return {
            "address_space_bytes": self.address_space_bytes(),
            "cpu_seconds": int(self.timeout_seconds * max(1, self.threads)) + 30,
            "memory_limit": self.memory_limit,
            "threads": self.threads,
        }

    def address_space_bytes(self) -> int:
        """The worker's kernel address-space limit: twice DuckDB's memory limit (for what
        DuckDB allocates outside its buffer manager and the copies of the readable
        relations) plus 2 GiB for Python, DuckDB and Arrow themselves."""
        return 2 * memory_bytes(self.memory_limit) + 2 * 1024**3

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
        self.workers = Workers(self.limits)
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
            workers=self.workers,
        )


class Workers:
    """Sandbox workers for one dbt run, each used for one segment, one started ahead: the
    next segment's worker starts Python and imports DuckDB and Arrow (~0.3-0.5 s) while this
    one's segment runs. A spare left at the end reads end of input when dbt exits, and exits."""

    def __init__(self, limits: SandboxLimits) -> None:
        self.limits = limits
        self.spare: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()  # dbt builds models on several threads

    def take(self) -> subprocess.Popen[bytes]:
        with self._lock:
            worker, self.spare = self.spare, None
            if worker is None or worker.poll() is not None:
                if worker is not None:
                    _close_streams(worker)
                worker = start_worker(self.limits)
            self.spare = start_worker(self.limits)
        return worker

    def close(self) -> None:
        """Let the spare exit unused (end of input), for callers that outlive the build."""
        with self._lock:
            spare, self.spare = self.spare, None
        if spare is not None:
            _close_streams(spare)
            spare.wait()


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
    workers: Workers | None = None,
) -> int:
    """Run `sql` in a fresh sandbox (a worker of `workers`, under their limits, else one
    started for it under `limits`) and replace `<database>.<schema>.<name>` with its rows."""
    if workers is not None:
        limits = workers.limits
    if schema != segments_schema or name != model_name:
        raise SegmentSandboxError(
            f"segment {model_name} may only build {segments_schema}.{model_name}, "
            f"not {schema}.{name}"
        )
    if not SEGMENT_NAME.match(name) or name in RESERVED_TABLES:
        raise SegmentSandboxError(f"{name!r} is not a segment name a sandbox may write")
    # The catalog is named after the warehouse file ('my warehouse-1.duckdb') and is always
    # written double-quoted, here and in the worker: only a quote or a NUL could break out.
    if not database or '"' in database or "\x00" in database:
        raise SegmentSandboxError(
            f"the warehouse's catalog name {database!r} (from its file name) holds a double "
            "quote; rename the DuckDB file"
        )
    reader = warehouse.cursor()
    try:
        sources = _readable_relations(reader, database, readable, segments_schema, sql)
        worker = workers.take() if workers is not None else start_worker(limits)
        return _run_and_write(
            worker, warehouse, reader, database, schema, name, sql, sources, limits
        )
    finally:
        reader.close()


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


def _run_and_write(
    worker: subprocess.Popen[bytes],
    warehouse: duckdb.DuckDBPyConnection,
    reader: duckdb.DuckDBPyConnection,
    database: str,
    schema: str,
    name: str,
    sql: str,
    sources: list[tuple[str, str]],
    limits: SandboxLimits,
) -> int:
    """Stream the chosen relations into the worker, its rows into the target table."""
    timed_out = threading.Event()

    def stop() -> None:
        timed_out.set()
        worker.kill()

    timer = threading.Timer(limits.timeout_seconds, stop)
    timer.start()
    target = f'"{database}"."{schema}"."{name}"'
    writer = warehouse.cursor()
    try:
        try:
            _send_request(worker, reader, database, sql, sources, limits)
            rows = ipc.open_stream(worker.stdout)
        except (OSError, pa.ArrowException):
            rows = None  # the worker stopped early; its status and stderr say why
        count = _write(writer, database, schema, name, target, rows, limits) if rows else -1
        status = worker.wait()
        if timed_out.is_set():
            raise SegmentSandboxError(
                f"segment {name} ran longer than {limits.timeout_seconds:g}s and was stopped "
                "(segment_timeout_seconds)"
            )
        if status != 0 or count < 0:
            _rollback(writer)
            raise SegmentSandboxError(
                f"segment {name} failed in the sandbox: {_why(worker, status)}"
            )
        writer.execute("commit")
        return count
    except duckdb.Error as exc:
        _rollback(writer)
        raise SegmentSandboxError(f"segment {name} failed in the sandbox: {exc}") from None
    finally:
        timer.cancel()
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        _close_streams(worker)
        writer.close()


def start_worker(limits: SandboxLimits) -> subprocess.Popen[bytes]:
    """A worker: this Python in isolated mode (no PYTHON* variables, no user site, not the
    working directory on sys.path), with an empty environment, so no secret reaches it, given
    its limits at once (it sets them, then imports DuckDB and waits for its segment). The
    tessera package is found where this module was loaded from, installed or not."""
    package_root = str(Path(__file__).resolve().parents[2])
    bootstrap = (
        f"import runpy, sys; sys.path.insert(0, {package_root!r}); "
        "runpy.run_module('tessera.segments.sandbox_worker', run_name='__main__')"
    )
    worker = subprocess.Popen(
        [sys.executable, "-I", "-c", bootstrap],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={},
        close_fds=True,
    )
    assert worker.stdin is not None
    try:
        worker.stdin.write(json.dumps(limits.worker_limits()).encode() + b"\n")
        worker.stdin.flush()
    except OSError:
        pass  # it died at once: the segment's request fails with its status and stderr
    return worker


def _close_streams(worker: subprocess.Popen[bytes]) -> None:
    for stream in (worker.stdin, worker.stdout, worker.stderr):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()


def _send_request(
    worker: subprocess.Popen[bytes],
    reader: duckdb.DuckDBPyConnection,
    database: str,
    sql: str,
    sources: list[tuple[str, str]],
    limits: SandboxLimits,
) -> None:
    assert worker.stdin is not None
    request = {"sql": sql, "database": database, "relations": sources, "max_rows": limits.max_rows}
    worker.stdin.write(json.dumps(request).encode() + b"\n")
    for schema, table in sources:
        rows = reader.sql(f'select * from "{database}"."{schema}"."{table}"')
        batches = rows.to_arrow_reader(100_000)
        with ipc.new_stream(worker.stdin, batches.schema) as stream:
            for batch in batches:
                stream.write_batch(batch)
    worker.stdin.close()


def _write(
    writer: duckdb.DuckDBPyConnection,
    database: str,
    schema: str,
    name: str,
    target: str,
    rows: pa.RecordBatchReader,
    limits: SandboxLimits,
) -> int:
    """Replace the target with the worker's rows in one transaction, left open for the caller
    to commit once the worker has exited cleanly. -1: the worker's stream broke off."""
    writer.register("__tessera_segment_rows", rows)
    writer.execute("begin")
    existing = writer.execute(
        "select table_type from information_schema.tables "
        "where table_catalog = ? and table_schema = ? and table_name = ?",
        [database, schema, name],
    ).fetchone()
    if existing and existing[0] == "VIEW":
        writer.execute(f"drop view {target}")
    writer.execute(f'create schema if not exists "{database}"."{schema}"')
    try:
        writer.execute(f"create or replace table {target} as select * from __tessera_segment_rows")
    except duckdb.Error:
        return -1  # a stream cut short by the worker's death; its status says why
    count = int(writer.execute(f"select count(*) from {target}").fetchone()[0])
    if count > limits.max_rows:
        writer.execute("rollback")
        raise SegmentSandboxError(
            f"segment {name} returned more than {limits.max_rows:,} rows (segment_max_rows)"
        )
    return count


def _why(worker: subprocess.Popen[bytes], status: int) -> str:
    message = worker.stderr.read().decode(errors="replace").strip() if worker.stderr else ""
    if status == EXIT_SQL_ERROR and message:
        return message
    if status in (-signal.SIGKILL, -signal.SIGSEGV, -signal.SIGABRT) or "MemoryError" in message:
        return (
            "it needed more memory than the sandbox allows (segment_memory_limit) "
            f"and was stopped{': ' + message.splitlines()[-1] if message else ''}"
        )
    if status == -signal.SIGXCPU:
        return "it used more CPU time than the sandbox allows (segment_timeout_seconds)"
    last = message.splitlines()[-1] if message else "no message"
    return f"the sandbox process ended with status {status}: {last}"


def _rollback(cursor: duckdb.DuckDBPyConnection) -> None:
    with contextlib.suppress(duckdb.Error):  # no transaction was open
        cursor.execute("rollback")
