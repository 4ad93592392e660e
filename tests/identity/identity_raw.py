"""Hand-written raw rows for identity tests: empty raw tables from the datagen contract, plus
the few records a scenario needs."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from tessera.datagen.schema import RAW_TABLES, RawTable
from tessera.warehouse import Session

TABLES: dict[str, RawTable] = {t.name: t for t in RAW_TABLES}
BASE_TIME = datetime(2026, 1, 1, 12, 0, 0)


def create_raw_tables(session: Session) -> None:
    session.execute("create schema if not exists raw")
    for table in RAW_TABLES:
        session.execute(table.ddl("raw"))


def at(minutes: int) -> datetime:
    return BASE_TIME + timedelta(minutes=minutes)


def insert(session: Session, table: str, rows: Iterable[dict]) -> None:
    """Insert rows given as {column: value}; missing columns are null."""
    spec = TABLES[table]
    columns = spec.column_names
    placeholders = ", ".join("?" for _ in columns)
    for row in rows:
        unknown = set(row) - set(columns)
        if unknown:
            raise ValueError(f"raw.{table} has no column(s) {sorted(unknown)}")
        session.execute(
            f"insert into raw.{table} ({', '.join(columns)}) values ({placeholders})",
            [row.get(c) for c in columns],
        )


def event(message_id: str, minute: int, **ids: str | None) -> dict:
    """An identify-style event with the given identifiers (anonymous_id, user_id, device_id,
    traits_email, traits_phone)."""
    when = at(minute)
    base = {"message_id": message_id, "type": "identify", "timestamp": when, "received_at": when}
    return base | ids


def order(order_id: str, minute: int, **fields: str | None) -> dict:
    when = at(minute)
    base = {"order_id": order_id, "ordered_at": when, "updated_at": when, "status": "completed"}
    return base | fields


def pos(transaction_id: str, minute: int, **fields: str | None) -> dict:
    return {"transaction_id": transaction_id, "purchased_at": at(minute)} | fields


def crm(contact_id: str, minute: int, **fields: str | None) -> dict:
    when = at(minute)
    return {"contact_id": contact_id, "created_at": when, "updated_at": when} | fields


def click(click_id: str, minute: int, **fields: str | None) -> dict:
    """An ad click (anonymous_id of the landing session, device_id for app campaigns)."""
    return {"click_id": click_id, "platform": "meta", "clicked_at": at(minute)} | fields


def ticket(ticket_id: str, minute: int, **fields: str | None) -> dict:
    when = at(minute)
    return {"ticket_id": ticket_id, "created_at": when, "updated_at": when} | fields


def days(n: float) -> int:
    """n days, in the minutes the record helpers take."""
    return int(n * 24 * 60)
