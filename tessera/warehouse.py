"""One thin client over DuckDB and Snowflake.

DuckDB allows one writing process per file, so connections are opened late and closed
early: every public method opens, works and closes, unless the caller holds a session
(`with wh.session() as s:`) for several statements or a transaction.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from tessera.settings import Settings, SettingsError
from tessera.snowflake_key import private_key_der
from tessera.warehouse_errors import (
    MissingWarehouseError,
    WarehouseError,
    check_duckdb_file,
    duckdb_failure,
    open_failure,
    relative_hint,
)


def warehouse_location(settings: Settings) -> str:
    """Where a command wrote (or reads) the warehouse, on one line for its output: the DuckDB
    file's absolute path, and for a relative TESSERA_WAREHOUSE that it was taken from the
    project root, not the working directory; or the Snowflake database."""
    if settings.target == "snowflake" and settings.snowflake is not None:
        return f"Snowflake database {settings.snowflake.database}"
    path = settings.warehouse_path
    return f"{path}{relative_hint(path, settings.warehouse_setting)}"


def require_warehouse(settings: Settings) -> None:
    """Refuse, with the one message every command uses, a DuckDB warehouse that is missing,
    and with a message naming the problem one that cannot be opened (a directory, not a DuckDB
    file, damaged, locked ...): before dbt, which would create a missing file, or fail with
    its traceback."""
    if settings.target != "duckdb":
        return
    path = settings.warehouse_path
    if not path.exists():
        raise MissingWarehouseError(path, settings.warehouse_setting)
    Warehouse._connect_duckdb(path, read_only=True, create=False).close()


@dataclass
class Session:
    """An open connection. `dialect` is 'duckdb' or 'snowflake'."""

    conn: Any
    dialect: str

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        if self.dialect == "duckdb":
            # DuckDB cursors are separate connections with their own transactions.
            # DuckDB 2.0 keeps a result open until it is fetched to the end.
            self.conn.execute(sql, params).fetchall()
            return
        cur = self.conn.cursor()
        try:
            cur.execute(sql, params) if params is not None else cur.execute(sql)
        finally:
            cur.close()

    def df(self, sql: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
        return self.arrow(sql, params).to_pandas()

    def arrow(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        if self.dialect == "duckdb":
            # conn.sql() hands Arrow over without the DB-API result's extra copy.
            return self.conn.sql(sql, params=params).to_arrow_table()
        cur = self.conn.cursor()
        try:
            cur.execute(sql, params) if params is not None else cur.execute(sql)
            table = cur.fetch_arrow_all()
            if table is None:  # no rows: build an empty table with the cursor's column names
                names = [d[0].lower() for d in cur.description or []]
                return pa.table({n: pa.array([], pa.null()) for n in names})
            return table.rename_columns([c.lower() for c in table.column_names])
        finally:
            cur.close()

    def iter_batches(
        self, sql: str, batch_size: int = 100_000, params: Sequence[Any] | None = None
    ) -> Iterator[pa.RecordBatch]:
        """Stream a result in record batches so memory stays flat in the result's size."""
        if self.dialect == "duckdb":
            # A cursor of its own, so other statements can run while the stream is open.
            cursor = self.conn.cursor()
            try:
                yield from cursor.sql(sql, params=params).to_arrow_reader(batch_size)
            finally:
                cursor.close()
            return
        cur = self.conn.cursor()
        try:
            cur.execute(sql, params) if params is not None else cur.execute(sql)
            for table in cur.fetch_arrow_batches():
                table = table.rename_columns([c.lower() for c in table.column_names])
                yield from table.to_batches(max_chunksize=batch_size)
        finally:
            cur.close()

    def scalar(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        if self.dialect == "duckdb":
            rows = self.conn.execute(sql, params).fetchall()
            return rows[0][0] if rows else None
        cur = self.conn.cursor()
        try:
            cur.execute(sql, params) if params is not None else cur.execute(sql)
            row = cur.fetchone()
            return None if row is None else row[0]
        finally:
            cur.close()

    def write_df(
        self, df: pd.DataFrame | pa.Table, schema: str, table: str, mode: str = "append"
    ) -> int:
        """Write a frame to schema.table; mode is 'append', 'replace' or 'create'."""
        if mode not in ("append", "replace", "create"):
            raise ValueError(f"write mode must be append, replace or create, not {mode!r}")
        self.execute(f"create schema if not exists {schema}")
        n = len(df) if isinstance(df, pd.DataFrame) else df.num_rows
        if self.dialect == "duckdb":
            self.conn.register("_tessera_incoming", df)
            try:
                if mode in ("replace", "create"):
                    verb = "create or replace" if mode == "replace" else "create"
                    self.execute(
                        f"{verb} table {schema}.{table} as select * from _tessera_incoming"
                    )
                else:
                    self.execute(
                        f"insert into {schema}.{table} by name select * from _tessera_incoming"
                    )
            finally:
                self.conn.unregister("_tessera_incoming")
            return n
        from snowflake.connector.errors import Error as SnowflakeError

        from tessera.snowflake_load import LoadError, load_arrow

        try:
            return load_arrow(self.conn, df, schema, table, mode)
        except (LoadError, SnowflakeError) as exc:
            reason = getattr(exc, "msg", None) or str(exc)
            raise WarehouseError(f"cannot write {schema}.{table} to Snowflake: {reason}") from exc

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        self.execute("begin transaction")
        try:
            yield self
        except BaseException:
            self.execute("rollback")
            raise
        else:
            self.execute("commit")

    def table_exists(self, schema: str, table: str) -> bool:
        """A table or a view (customer_profiles is a view) of that name exists."""
        placeholder = "?" if self.dialect == "duckdb" else "%s"
        # information_schema.views too: Snowflake lists views in .tables, fakesnow does not
        return bool(
            self.scalar(
                "select count(*) from ("
                " select table_schema, table_name from information_schema.tables"
                " union all"
                " select table_schema, table_name from information_schema.views"
                f") as relations where lower(table_schema) = lower({placeholder})"
                f" and lower(table_name) = lower({placeholder})",
                [schema, table],
            )
        )

    def columns(self, schema: str, table: str) -> list[tuple[str, str]]:
        placeholder = "?" if self.dialect == "duckdb" else "%s"
        df = self.df(
            "select lower(column_name) as column_name, data_type "
            "from information_schema.columns "
            f"where lower(table_schema) = lower({placeholder}) "
            f"and lower(table_name) = lower({placeholder}) order by ordinal_position",
            [schema, table],
        )
        return list(df.itertuples(index=False, name=None))


class Warehouse:
    """Connection factory for the configured target."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @classmethod
    def from_env(cls) -> Warehouse:
        return cls(Settings.from_env())

    @property
    def dialect(self) -> str:
        return self.settings.target

    @contextmanager
    def session(self, read_only: bool = False, create: bool = True) -> Iterator[Session]:
        conn = self._connect(read_only=read_only, create=create)
        try:
            yield Session(conn=conn, dialect=self.dialect)
        finally:
            conn.close()

    def _connect(self, read_only: bool, create: bool) -> Any:
        if self.settings.target == "duckdb":
            create = create and self.settings.create_missing_warehouse
            return self._connect_duckdb(
                self.settings.warehouse_path, read_only, create, self.settings.warehouse_setting
            )
        if self.settings.target == "snowflake":
            return self._connect_snowflake()
        raise SettingsError(f"unsupported target {self.settings.target!r}")

    @staticmethod
    def _connect_duckdb(
        path: Path, read_only: bool, create: bool, setting: str | None = None
    ) -> Any:
        import duckdb

        if not path.exists():
            if read_only or not create:
                raise MissingWarehouseError(path, setting)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise open_failure(
                    path, f"cannot create its directory {path.parent}: {exc.strerror or exc}"
                ) from None
        else:
            check_duckdb_file(path, read_only)
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.Error as exc:  # IOException, and a damaged file's plain duckdb.Error
            raise duckdb_failure(path, exc) from exc

    def _connect_snowflake(self) -> Any:
        import snowflake.connector

        sf = self.settings.snowflake
        if sf is None:
            raise SettingsError("snowflake target selected but no snowflake settings loaded")
        kwargs: dict[str, Any] = {
            "account": sf.account,
            "user": sf.user,
            "database": sf.database,
            "schema": sf.schema,
            # Tags every query, so Tessera's warehouse spend is attributable in QUERY_HISTORY.
            "session_parameters": {"QUERY_TAG": "tessera"},
        }
        if sf.private_key_path:
            kwargs["private_key"] = private_key_der(sf.private_key_path, sf.private_key_passphrase)
        else:
            kwargs["password"] = sf.password.get_secret_value()
        for name in ("warehouse", "role", "host", "port", "protocol"):
            value = getattr(sf, name)
            if value is not None:
                kwargs[name] = value
        try:
            conn = snowflake.connector.connect(**kwargs)
        except Exception as exc:  # the connector's errors can echo connection arguments
            raise WarehouseError(
                f"could not connect to Snowflake account {sf.account!r} as {sf.user!r}: "
                f"{type(exc).__name__}"
            ) from None
        cur = conn.cursor()
        try:
            cur.execute(f"create schema if not exists {sf.database}.{sf.schema}")
        finally:
            cur.close()
        return conn
