"""Bulk-load Arrow data into Snowflake: explicit DDL from the Arrow schema, then Parquet
PUT to a temporary stage and COPY INTO ... MATCH_BY_COLUMN_NAME.

This is the mechanism `write_pandas` uses, minus its two steps that need server features
beyond plain staging (INFER_SCHEMA for auto-created tables, a COPY transform subquery):
the same statements run on real Snowflake and on a local fakesnow server, and a load is
one round trip of Parquet instead of row-by-row INSERTs.
"""

from __future__ import annotations

import re
import tempfile
import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")
STAGE_NAME = "tessera_load"


class LoadError(ValueError):
    """A frame cannot be written to Snowflake as given; the message names the column."""


def check_identifier(name: str, what: str) -> str:
    if not IDENTIFIER.match(name):
        raise LoadError(
            f"{what} {name!r} is not a plain identifier (letters, digits, _ and $, "
            "not starting with a digit); rename it before writing to Snowflake"
        )
    return name


def snowflake_type(field: pa.Field) -> str:
    """The Snowflake column type that holds an Arrow field without loss."""
    t = field.type
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_null(t):
        return "VARCHAR"
    if pa.types.is_boolean(t):
        return "BOOLEAN"
    if pa.types.is_integer(t):
        return "NUMBER(38,0)"
    if pa.types.is_floating(t):
        return "FLOAT"
    if pa.types.is_decimal(t):
        return f"NUMBER({min(t.precision, 38)},{t.scale})"
    if pa.types.is_timestamp(t):
        return "TIMESTAMP_TZ" if t.tz else "TIMESTAMP_NTZ"
    if pa.types.is_date(t):
        return "DATE"
    if pa.types.is_time(t):
        return "TIME"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return "BINARY"
    if pa.types.is_dictionary(t):
        return snowflake_type(pa.field(field.name, t.value_type))
    raise LoadError(
        f"column {field.name!r} has Arrow type {t}, which Tessera does not write to "
        "Snowflake; cast it to a string, number, boolean, date or timestamp first"
    )


def column_ddl(schema: pa.Schema) -> str:
    # Quoting the upper-cased name resolves exactly like the unquoted name, and lets
    # reserved words (group, order ...) be column names.
    return ", ".join(
        f'"{check_identifier(f.name, "column").upper()}" {snowflake_type(f)}' for f in schema
    )


def to_arrow(frame: Any) -> pa.Table:
    """A pandas frame or Arrow table as an Arrow table, with Snowflake-loadable types."""
    if isinstance(frame, pa.Table):
        table = frame
    else:
        try:
            table = pa.Table.from_pandas(frame, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise LoadError(f"frame cannot be converted to Arrow for Snowflake: {exc}") from exc
    fields = []
    for f in table.schema:
        t = f.type
        if pa.types.is_dictionary(t):
            t = t.value_type
        if pa.types.is_null(t):
            t = pa.string()
        if pa.types.is_timestamp(t) and t.unit == "ns":
            t = pa.timestamp("us", tz=t.tz)  # Parquet readers disagree on ns; us is exact enough
        fields.append(pa.field(f.name.lower(), t))
    return table.rename_columns([f.name for f in fields]).cast(pa.schema(fields))


def load_arrow(conn: Any, table: pa.Table, schema: str, name: str, mode: str) -> int:
    """Write `table` to schema.name on a snowflake-connector connection; returns rows loaded.

    mode 'create' fails if the table exists, 'replace' recreates it, 'append' creates it when
    missing and otherwise loads by column name (columns the frame lacks stay null).
    """
    check_identifier(schema, "schema")
    check_identifier(name, "table")
    table = to_arrow(table)
    qualified = f"{schema}.{name}"
    ddl = column_ddl(table.schema)
    verb = {
        "create": "create table",
        "replace": "create or replace table",
        "append": "create table if not exists",
    }[mode]
    cur = conn.cursor()
    try:
        cur.execute(f"{verb} {qualified} ({ddl})")
        if table.num_rows == 0:
            return 0
        stage = f"{schema}.{STAGE_NAME}"
        # Temporary stages live as long as the session; each load uses its own file name.
        cur.execute(f"create temporary stage if not exists {stage}")
        file_name = f"{name}_{uuid.uuid4().hex}.parquet"
        with tempfile.TemporaryDirectory(prefix="tessera_load_") as tmp:
            path = Path(tmp) / file_name
            pq.write_table(table, path)
            cur.execute(
                f"put 'file://{path.as_posix()}' @{stage} auto_compress=false overwrite=true"
            )
        cur.execute(
            # A path prefix rather than FILES = (...): fakesnow resolves only the former
            # for internal stages, and the unique name makes the prefix match one file.
            f"copy into {qualified} from @{stage}/{file_name} "
            "file_format = (type = parquet use_logical_type = true) "
            "match_by_column_name = case_insensitive purge = true"
        )
        # COPY reports per file: file, status, rows_parsed, rows_loaded, ...
        results = cur.fetchall()
        loaded = sum(int(row[3] or 0) for row in results)
        if loaded != table.num_rows:
            raise LoadError(
                f"COPY INTO {qualified} loaded {loaded} of {table.num_rows} rows: {results}"
            )
        return loaded
    finally:
        cur.close()
