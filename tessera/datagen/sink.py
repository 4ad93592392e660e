"""Writes generated chunks: into the warehouse (schemas raw and truth) and optionally Parquet."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tessera.datagen.schema import (
    RAW_TABLES,
    TRUTH_IDENTIFIER_EVIDENCE,
    TRUTH_IDENTIFIER_PERSON,
    TRUTH_PERSONS,
    RawTable,
)
from tessera.warehouse import Session

_ARROW_TYPES = {
    "VARCHAR": pa.string(),
    "TIMESTAMP": pa.timestamp("us"),
    "DOUBLE": pa.float64(),
    "INTEGER": pa.int32(),
    "BIGINT": pa.int64(),
    "BOOLEAN": pa.bool_(),
}

DUCKDB_MEMORY_LIMIT = "1GB"
# The load-order sort (Sink.order_by_load_time) under this cap spills to DuckDB's temp
# directory instead of growing with the warehouse. Uncapped (DuckDB's default is 80% of RAM)
# it took the generating process to 15.7 GB at 1M persons; under 3GB the process peaked at
# 4.6 GB and the sort took the same 82 s (BENCHMARKS.md, identity at 2M).
SORT_MEMORY_LIMIT = "3GB"

OPTIONAL_ON_APPEND = f"truth.{TRUTH_IDENTIFIER_EVIDENCE.name}"

TABLES: dict[str, RawTable] = {
    **{f"raw.{t.name}": t for t in RAW_TABLES},
    f"truth.{TRUTH_IDENTIFIER_PERSON.name}": TRUTH_IDENTIFIER_PERSON,
    f"truth.{TRUTH_PERSONS.name}": TRUTH_PERSONS,
    f"truth.{TRUTH_IDENTIFIER_EVIDENCE.name}": TRUTH_IDENTIFIER_EVIDENCE,
}


def arrow_schema(table: RawTable) -> pa.Schema:
    return pa.schema([(name, _ARROW_TYPES[type_]) for name, type_, _ in table.columns])


class Sink:
    """Appends chunk tables; one Parquet file per table per chunk: parquet_dir/<table>/<part>."""

    def __init__(self, session: Session, parquet_dir: str | Path | None = None) -> None:
        self.session = session
        self.parquet_dir = Path(parquet_dir) if parquet_dir is not None else None
        self.rows: dict[str, int] = dict.fromkeys(TABLES, 0)
        self.skipped: set[str] = set()  # tables an append leaves alone (require_existing)
        if session.dialect == "duckdb":
            # DuckDB keeps written blocks cached up to its limit (80% of RAM by default);
            # capping it keeps a long generation's memory flat. Connection-scoped.
            session.execute(f"set memory_limit = '{DUCKDB_MEMORY_LIMIT}'")

    def recreate(self) -> None:
        """Drop and recreate schemas raw and truth with every table empty."""
        for schema in ("raw", "truth"):
            self.session.execute(f"drop schema if exists {schema} cascade")
            self.session.execute(f"create schema {schema}")
        for qualified, table in TABLES.items():
            self.session.execute(table.ddl(qualified.split(".")[0]))

    def require_existing(self) -> None:
        """Check the tables an append writes to exist. A warehouse generated before the
        evidence table existed gets none: evidence for appended records alone would
        understate what the data links, so it is left to a fresh `tessera datagen`."""
        missing = [q for q in TABLES if not self.session.table_exists(*q.split("."))]
        if OPTIONAL_ON_APPEND in missing:
            missing.remove(OPTIONAL_ON_APPEND)
            self.skipped.add(OPTIONAL_ON_APPEND)
        if missing:
            raise RuntimeError(
                f"cannot append activity: tables {', '.join(missing)} do not exist in the "
                "warehouse; run `tessera datagen` first"
            )

    def order_by_load_time(self) -> None:
        """Rewrite each raw table in the order a loader appends it: by its loaded_at_field.

        Chunks are simulated person by person, so without this every block of a raw table
        spans the whole period and a filter on recent loads (the incremental models') can
        skip none of them. A real EL tool appends in arrival order, which is what lets DuckDB's
        zone maps and Snowflake's micro-partition pruning skip the older blocks.
        """
        if self.session.dialect == "duckdb":
            # the sort of the largest table is several times the chunk-sized memory limit;
            # a larger but still fixed cap lets it run mostly in memory and spill the rest,
            # so the generator's peak does not grow with the number of persons
            self.session.execute(f"set memory_limit = '{SORT_MEMORY_LIMIT}'")
        for table in RAW_TABLES:
            qualified = f"raw.{table.name}"
            self.session.execute(
                f"create or replace table {qualified} as select * from {qualified} "
                f"order by {table.loaded_at_field}, {table.column_names[0]}"
            )
        if self.session.dialect == "duckdb":
            self.session.execute(f"set memory_limit = '{DUCKDB_MEMORY_LIMIT}'")

    def write(
        self, qualified: str, data: pa.Table, part_name: str, only_new_truth: bool = False
    ) -> int:
        table = TABLES[qualified]
        data = data.select(table.column_names).cast(arrow_schema(table))
        if data.num_rows == 0 or qualified in self.skipped:
            return 0
        written = self._insert(qualified, data, only_new_truth)
        self.rows[qualified] += written
        if self.parquet_dir is not None:
            directory = self.parquet_dir / table.name
            directory.mkdir(parents=True, exist_ok=True)
            pq.write_table(data, directory / f"{part_name}.parquet")
        return written

    def _insert(self, qualified: str, data: pa.Table, only_new: bool) -> int:
        session = self.session
        if session.dialect != "duckdb":
            schema, name = qualified.split(".")
            return session.write_df(data, schema, name, mode="append")
        cur = session.conn.cursor()
        try:
            cur.register("_tessera_datagen_chunk", data)
            if only_new:  # truth rows an earlier run already listed
                before = cur.execute(f"select count(*) from {qualified}").fetchone()[0]
                same = " and ".join(f"t.{c} = c.{c}" for c in TABLES[qualified].column_names)
                cur.execute(
                    f"insert into {qualified} select * from _tessera_datagen_chunk c "
                    f"where not exists (select 1 from {qualified} t where {same})"
                ).fetchall()
                after = cur.execute(f"select count(*) from {qualified}").fetchone()[0]
                return int(after) - int(before)
            cur.execute(f"insert into {qualified} select * from _tessera_datagen_chunk").fetchall()
            return data.num_rows
        finally:
            cur.close()  # closing the cursor also drops the registered view
