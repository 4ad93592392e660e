"""One thin client over DuckDB and Snowflake.

DuckDB allows one writing process per file, so connections are opened late and closed
early: every public method opens, works and closes, unless the caller holds a session
(`with wh.session() as s:`) for several statements or a transaction.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from tessera.settings import PROJECT_ROOT, Settings, SettingsError
from tessera.snowflake_key import private_key_der


class WarehouseError(RuntimeError):
    """The warehouse could not be reached or a statement failed; the message says which."""


class MissingWarehouseError(WarehouseError):
    """The DuckDB warehouse file does not exist, and this command must not create it."""

    def __init__(self, path: Path, setting: str | None = None) -> None:
        super().__init__(
            f"DuckDB warehouse {path} does not exist{_relative_hint(path, setting)}. Create it "
            "with `tessera demo` (demo data, models and syncs) or `tessera datagen` (demo data "
            "only), or set TESSERA_WAREHOUSE to your warehouse file."
        )


def _relative_hint(path: Path, setting: str | None) -> str:
    """For a relative TESSERA_WAREHOUSE: where it was taken from, and the file in the working
    directory the person may have meant."""
    if not setting or Path(setting).expanduser().is_absolute():
        return ""
    hint = (
        f" (TESSERA_WAREHOUSE={setting} is relative, so it is taken from the project root "
        f"{PROJECT_ROOT}, not from the working directory"
    )
    try:
        here = Path.cwd() / setting
    except OSError:  # the working directory is gone
        return hint + ")"
    if here.resolve() != path and here.exists():
        hint += f"; to use {here.resolve()}, set TESSERA_WAREHOUSE to that absolute path"
    return hint + ")"


def warehouse_location(settings: Settings) -> str:
    """Where a command wrote (or reads) the warehouse, on one line for its output: the DuckDB
    file's absolute path, and for a relative TESSERA_WAREHOUSE that it was taken from the
    project root, not the working directory; or the Snowflake database."""
    if settings.target == "snowflake" and settings.snowflake is not None:
        return f"Snowflake database {settings.snowflake.database}"
    path = settings.warehouse_path
    return f"{path}{_relative_hint(path, settings.warehouse_setting)}"


# The first bytes of a SQLite database file; DuckDB would try to download its sqlite extension.
_SQLITE_MAGIC = b"SQLite format 3\x00"
# A DuckDB database file: an 8-byte checksum, then these magic bytes.
_DUCKDB_MAGIC = b"DUCK"
_FIX = "set TESSERA_WAREHOUSE to your DuckDB warehouse file"


def _open_failure(path: Path, reason: str) -> WarehouseError:
    return WarehouseError(f"could not open DuckDB warehouse {path}: {reason}")


def _check_duckdb_file(path: Path, read_only: bool) -> None:
    """Refuse, naming `path` and the problem, what DuckDB would fail on with a message of its
    own (or, for a SQLite file, by trying to download an extension): a directory, a file that
    is not a DuckDB database, one this user may not read, or may not write when writing."""
    if path.is_dir():
        raise _open_failure(
            path,
            f"it is a directory, not a DuckDB database file: {_FIX} (a .duckdb file, such as "
            f"{path / 'tessera.duckdb'}).",
        )
    try:
        with path.open("rb") as file:
            head = file.read(16)
    except PermissionError:
        raise _open_failure(
            path, f"permission denied: this user may not read it; {_FIX}, or ask its owner."
        ) from None
    except OSError as exc:
        raise _open_failure(path, exc.strerror or str(exc)) from None
    if not head:
        raise _open_failure(
            path,
            "it is an empty file (0 bytes), not a DuckDB database file. Delete it to let "
            f"`tessera datagen` or `tessera demo` create the warehouse there, or: {_FIX}.",
        )
    if head.startswith(_SQLITE_MAGIC):
        raise _open_failure(path, f"it is a SQLite database, not a DuckDB database file: {_FIX}.")
    if head[8:12] != _DUCKDB_MAGIC:
        raise _open_failure(
            path,
            f"it is not a valid DuckDB database file (its first bytes are not DuckDB's): {_FIX}.",
        )
    if read_only:
        return
    if not os.access(path, os.W_OK):
        raise _open_failure(
            path,
            "this command writes to the warehouse, but the file is read-only for this user "
            "(no write permission, or a read-only file system).",
        )
    wal = path.with_name(path.name + ".wal")
    if not os.access(path.parent, os.W_OK | os.X_OK) and not os.access(wal, os.W_OK):
        raise _open_failure(
            path,
            f"this command writes to the warehouse, but its directory {path.parent} is not "
            f"writable for this user, and DuckDB writes its log {wal.name} there.",
        )


_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>.+?) \(PID (?P<pid>\d+)\)")


def _duckdb_failure(path: Path, exc: Exception, opener: str = "This command") -> WarehouseError:
    """DuckDB's error opening `path` as a WarehouseError that names the file and the problem."""
    text = str(exc).strip()
    words = text.replace(str(path), "").lower()  # the path's own words decide nothing
    if "could not set lock" in words or "conflicting lock" in words:
        holder = _LOCK_HOLDER.search(text)
        who = (
            f"process {holder['pid']} ({holder['program']}) holds its lock"
            if holder
            else "another process holds its lock"
        )
        see = f"`ps -p {holder['pid']} -o args`" if holder else f"`fuser {path}`"
        return _open_failure(
            path,
            f"it is in use: {who}. DuckDB allows one writing process per file (or several "
            f"that only read). Wait for that process to finish or stop it (see what it is with "
            f"{see}), then run this command again; is another tessera, dbt or dagster process "
            "writing to it?",
        )
    reason = text.removeprefix("IO Error: ")
    if "permission denied" in words:
        reason = (
            f"permission denied ({reason}). {opener} opens the warehouse for writing: check "
            f"that this user may write the file and its directory, or: {_FIX}."
        )
    elif "corrupt" in words or "checksum" in words:
        reason = f"the file is damaged ({reason}). Restore it from a backup, or: {_FIX}."
    return _open_failure(path, reason)


def describe_open_error(path: Path, message: str) -> str | None:
    """The message for DuckDB's error `message` in dbt's output when it is about opening
    `path`, else None."""
    if str(path) not in message:
        return None
    return str(_duckdb_failure(path, RuntimeError(message), opener="dbt"))


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
                raise _open_failure(
                    path, f"cannot create its directory {path.parent}: {exc.strerror or exc}"
                ) from None
        else:
            _check_duckdb_file(path, read_only)
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.Error as exc:  # IOException, and a damaged file's plain duckdb.Error
            raise _duckdb_failure(path, exc) from exc

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
