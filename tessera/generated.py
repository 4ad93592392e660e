"""Which warehouses hold only data Tessera generated, so a command may replace them.

`tessera demo` and `tessera datagen` record in `tessera_meta.generated_warehouse` what they
generated: a whole DuckDB file they created (`created_file`), or schema `raw` in a warehouse
that had none. The demo deletes and recreates only a file Tessera created; datagen recreates
schema `raw` only where Tessera wrote it or where there is none. Anything else may hold a
company's data and is refused unless the user passes `--force`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from tessera.settings import Settings
from tessera.warehouse import Warehouse, WarehouseError

MARKER_SCHEMA, MARKER_TABLE = "tessera_meta", "generated_warehouse"


class NotGeneratedError(RuntimeError):
    """The warehouse may hold a company's data; the message names `--force`."""


@dataclass(frozen=True)
class GeneratedState:
    file_generated: bool  # a Tessera command created this DuckDB file
    raw_generated: bool  # schema raw was written by Tessera's generator
    has_raw: bool  # schema raw holds tables


def mark_generated(
    settings: Settings, command: str, persons: int, seed: int, created_file: bool
) -> None:
    """Record that `command` generated this warehouse's raw data (and created the file)."""
    with Warehouse(settings).session() as session:
        session.execute(f"create schema if not exists {MARKER_SCHEMA}")
        session.execute(
            f"create table if not exists {MARKER_SCHEMA}.{MARKER_TABLE} (created_by varchar, "
            "created_at timestamp, persons integer, seed integer, created_file boolean)"
        )
        session.execute(
            f"insert into {MARKER_SCHEMA}.{MARKER_TABLE} values (?, ?, ?, ?, ?)",
            [command, datetime.now(UTC).replace(tzinfo=None), persons, seed, created_file],
        )


def inspect(settings: Settings) -> GeneratedState:
    """What Tessera generated in an existing warehouse. Raises WarehouseError when the file is
    in use by another process, NotGeneratedError when it cannot be read at all."""
    try:
        with Warehouse(settings).session(read_only=True) as session:
            has_raw = bool(
                session.scalar(
                    "select count(*) from information_schema.tables "
                    "where lower(table_schema) = 'raw'"
                )
            )
            if not session.table_exists(MARKER_SCHEMA, MARKER_TABLE):
                return GeneratedState(file_generated=False, raw_generated=False, has_raw=has_raw)
            files = session.scalar(
                f"select count(*) from {MARKER_SCHEMA}.{MARKER_TABLE} where created_file"
            )
            return GeneratedState(file_generated=bool(files), raw_generated=True, has_raw=has_raw)
    except WarehouseError as exc:
        if "one writing process" in str(exc):
            raise  # in use by another process: say so, whatever the file is
        reason = str(exc)
    except Exception as exc:  # not a DuckDB file at all
        reason = f"{type(exc).__name__}: {exc}"
    raise NotGeneratedError(
        f"{settings.warehouse_path} exists but cannot be read as a warehouse Tessera generated "
        f"({reason})"
    )
