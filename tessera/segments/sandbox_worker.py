"""The process a segment's SQL runs in (started by duckdb_sandbox.py, one per segment build).

DuckDB's memory_limit bounds only the memory its buffer manager hands out: a list built by
`range(1, 2e9)` or a string made by `repeat()` is allocated beside it, and in the dbt process
such a segment grew to 18 GB and was killed by the kernel together with the whole build. So
the segment runs here, in a child process whose own kernel limits (address space, file size,
CPU time) are set before DuckDB is even imported, with an empty environment. Protocol:
stdin carries one JSON line with the limits (the worker sets them, imports DuckDB and opens
its instance, and may then wait: it is started ahead of its segment), one JSON line with the
SQL and the relations (none: it exits, unused), then one Arrow IPC stream per relation;
stdout carries one Arrow IPC stream with the segment's rows; a failure exits with status 3
and its message on stderr.
"""

from __future__ import annotations

import contextlib
import json
import resource
import sys
from typing import Any, BinaryIO

EXIT_SQL_ERROR = 3


def _limit(kind: int, value: int) -> None:
    """Lower a kernel limit; where the platform refuses (macOS does not take every limit),
    DuckDB's own memory limit and the parent's timeout still hold."""
    soft, hard = resource.getrlimit(kind)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(kind, (value, value if hard == resource.RLIM_INFINITY else hard))


def main(stdin: BinaryIO, stdout: BinaryIO) -> int:
    limits: dict[str, Any] = json.loads(stdin.readline())
    _limit(resource.RLIMIT_AS, int(limits["address_space_bytes"]))
    _limit(resource.RLIMIT_FSIZE, 0)  # the sandbox writes no file, not even a spill
    _limit(resource.RLIMIT_CPU, int(limits["cpu_seconds"]))

    import pyarrow.ipc as ipc

    try:
        sandbox = open_sandbox(limits["memory_limit"], int(limits["threads"]))
        line = stdin.readline()
        if not line.strip():
            return 0  # started ahead for a segment that never came (the build ended)
        request: dict[str, Any] = json.loads(line)
        database = request["database"]
        sandbox.execute(f"attach ':memory:' as \"{database}\"")
        sandbox.execute(f'use "{database}"')
        for index, (schema, table) in enumerate(request["relations"]):
            rows = ipc.open_stream(stdin).read_all()
            sandbox.register(f"__tessera_source_{index}", rows)
            sandbox.execute(f'create schema if not exists "{database}"."{schema}"')
            sandbox.execute(
                f'create view "{database}"."{schema}"."{table}" as '
                f"select * from __tessera_source_{index}"
            )
        close_the_door(sandbox)
        # One query expression: a second statement or a trailing ';' cannot parse here.
        result = sandbox.sql(
            f"select * from (\n{request['sql']}\n) as segment_rows "
            f"limit {int(request['max_rows']) + 1}"
        )
        reader = result.to_arrow_reader(100_000)
        with ipc.new_stream(stdout, reader.schema) as writer:
            for batch in reader:
                writer.write_batch(batch)
    except Exception as exc:  # DuckDB's errors, MemoryError, an unclosed door: all refusals
        sys.stderr.write(str(exc)[:4000])
        return EXIT_SQL_ERROR
    return 0


def open_sandbox(memory_limit: str, threads: int) -> Any:
    """An empty in-memory instance. DuckDB allows paths beside an in-memory database's
    nominal file (`./:memory:`, `./:memory:.wal` ...) even with external access off, so those
    allowances are cleared before access is switched off; persistent secrets are neither
    loaded nor listed, and the secret directory (under the user's home) is not shown."""
    import duckdb

    sandbox = duckdb.connect(
        config={
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "allow_community_extensions": False,
            "allow_unsigned_extensions": False,
            "allow_persistent_secrets": False,
            "memory_limit": memory_limit,
            "threads": threads,
            "temp_directory": "",  # no spilling to disk: the memory limit is the limit
        }
    )
    sandbox.execute("set allowed_paths = []")
    sandbox.execute("set allowed_directories = []")
    sandbox.execute("set secret_directory = ''")
    return sandbox


CLOSED = {
    "enable_external_access": "false",
    "lock_configuration": "true",
    "allowed_paths": "[]",
    "allowed_directories": "[]",
    "temp_directory": "",
    "allow_persistent_secrets": "false",
    "secret_directory": "",
}


def close_the_door(sandbox: Any) -> None:
    """External access off and the configuration locked, verified."""
    sandbox.execute("set enable_external_access = false")
    sandbox.execute("set lock_configuration = true")
    names = ", ".join(f"'{name}'" for name in CLOSED)
    settings = dict(
        sandbox.execute(
            f"select name, value from duckdb_settings() where name in ({names})"
        ).fetchall()
    )
    if settings != CLOSED:
        raise RuntimeError(f"the segment sandbox is not closed: {settings}")


if __name__ == "__main__":
    sys.exit(main(sys.stdin.buffer, sys.stdout.buffer))
