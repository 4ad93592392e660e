"""Why a DuckDB warehouse file cannot be opened, in words a person can act on.

This module holds the warehouse's errors and the checks and translations behind them: it
refuses, before DuckDB is asked, a path that is a directory, an empty, SQLite or otherwise
non-DuckDB file, or one this user may not read or write; it turns DuckDB's own errors on
opening a file (a lock held by another process, permission denied, a damaged file) into a
WarehouseError naming the file and the fix; and it explains a relative TESSERA_WAREHOUSE,
which is taken from the project root, not the working directory. `tessera.warehouse`
re-exports WarehouseError and MissingWarehouseError.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from tessera.settings import PROJECT_ROOT


class WarehouseError(RuntimeError):
    """The warehouse could not be reached or a statement failed; the message says which."""


class MissingWarehouseError(WarehouseError):
    """The DuckDB warehouse file does not exist, and this command must not create it."""

    def __init__(self, path: Path, setting: str | None = None) -> None:
        super().__init__(
            f"DuckDB warehouse {path} does not exist{relative_hint(path, setting)}. Create it "
            "with `tessera demo` (demo data, models and syncs) or `tessera datagen` (demo data "
            "only), or set TESSERA_WAREHOUSE to your warehouse file."
        )


def relative_hint(path: Path, setting: str | None) -> str:
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


# The first bytes of a SQLite database file; DuckDB would try to download its sqlite extension.
_SQLITE_MAGIC = b"SQLite format 3\x00"
# A DuckDB database file: an 8-byte checksum, then these magic bytes.
_DUCKDB_MAGIC = b"DUCK"
_FIX = "set TESSERA_WAREHOUSE to your DuckDB warehouse file"


def open_failure(path: Path, reason: str) -> WarehouseError:
    return WarehouseError(f"could not open DuckDB warehouse {path}: {reason}")


def check_duckdb_file(path: Path, read_only: bool) -> None:
    """Refuse, naming `path` and the problem, what DuckDB would fail on with a message of its
    own (or, for a SQLite file, by trying to download an extension): a directory, a file that
    is not a DuckDB database, one this user may not read, or may not write when writing."""
    if path.is_dir():
        raise open_failure(
            path,
            f"it is a directory, not a DuckDB database file: {_FIX} (a .duckdb file, such as "
            f"{path / 'tessera.duckdb'}).",
        )
    try:
        with path.open("rb") as file:
            head = file.read(16)
    except PermissionError:
        raise open_failure(
            path, f"permission denied: this user may not read it; {_FIX}, or ask its owner."
        ) from None
    except OSError as exc:
        raise open_failure(path, exc.strerror or str(exc)) from None
    if not head:
        raise open_failure(
            path,
            "it is an empty file (0 bytes), not a DuckDB database file. Delete it to let "
            f"`tessera datagen` or `tessera demo` create the warehouse there, or: {_FIX}.",
        )
    if head.startswith(_SQLITE_MAGIC):
        raise open_failure(path, f"it is a SQLite database, not a DuckDB database file: {_FIX}.")
    if head[8:12] != _DUCKDB_MAGIC:
        raise open_failure(
            path,
            f"it is not a valid DuckDB database file (its first bytes are not DuckDB's): {_FIX}.",
        )
    if read_only:
        return
    if not os.access(path, os.W_OK):
        raise open_failure(
            path,
            "this command writes to the warehouse, but the file is read-only for this user "
            "(no write permission, or a read-only file system).",
        )
    wal = path.with_name(path.name + ".wal")
    if not os.access(path.parent, os.W_OK | os.X_OK) and not os.access(wal, os.W_OK):
        raise open_failure(
            path,
            f"this command writes to the warehouse, but its directory {path.parent} is not "
            f"writable for this user, and DuckDB writes its log {wal.name} there.",
        )


_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>.+?) \(PID (?P<pid>\d+)\)")


def duckdb_failure(path: Path, exc: Exception, opener: str = "This command") -> WarehouseError:
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
        return open_failure(
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
    return open_failure(path, reason)


def describe_open_error(path: Path, message: str) -> str | None:
    """The message for DuckDB's error `message` in dbt's output when it is about opening
    `path`, else None."""
    if str(path) not in message:
        return None
    return str(duckdb_failure(path, RuntimeError(message), opener="dbt"))
