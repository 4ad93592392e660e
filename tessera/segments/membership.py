"""Segment membership over time, maintained in the warehouse by SQL after each refresh.

`segments.segment_membership` holds one row per stay in a segment: a person who enters gets
a row with `entered_at`; leaving sets `exited_at`; entering again opens a new row. So "who
entered today" and "who is in now" are plain queries, and syncs can rely on them.
`segments.segment_sizes` records the size of every segment at every refresh.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd

from tessera.segments.catalog import RESERVED_NAMES, SEGMENT_NAME
from tessera.warehouse import Session

SCHEMA = "segments"
MEMBERSHIP_TABLE = f"{SCHEMA}.segment_membership"
SIZES_TABLE = f"{SCHEMA}.segment_sizes"


class MembershipError(ValueError):
    """A segment cannot be tracked (bad name, or its table is not built)."""


@dataclass(frozen=True)
class MembershipChange:
    segment: str
    measured_at: datetime
    entered: int
    exited: int
    size: int


def ensure_tables(session: Session) -> None:
    session.execute(f"create schema if not exists {SCHEMA}")
    session.execute(
        f"create table if not exists {MEMBERSHIP_TABLE} ("
        "segment varchar not null, person_id varchar not null, "
        "entered_at timestamp not null, exited_at timestamp)"
    )
    session.execute(
        f"create table if not exists {SIZES_TABLE} ("
        "segment varchar not null, measured_at timestamp not null, size bigint not null)"
    )


def refresh_membership(
    session: Session, segments: Iterable[str], measured_at: datetime | None = None
) -> list[MembershipChange]:
    """Record who entered and left each (already built) segment table since the last refresh."""
    at = _naive_utc(measured_at or datetime.now(UTC))
    names = [_checked_name(s) for s in segments]
    for name in names:
        if not session.table_exists(SCHEMA, name):
            raise MembershipError(f"segment table {SCHEMA}.{name} is not built; run dbt first")
    ensure_tables(session)
    changes = []
    for name in names:
        with session.transaction():
            changes.append(_refresh_one(session, name, at))
    return changes


def _refresh_one(session: Session, name: str, at: datetime) -> MembershipChange:
    p = "?" if session.dialect == "duckdb" else "%s"
    current = f"(select distinct person_id from {SCHEMA}.{name} where person_id is not null)"
    open_rows = f"{MEMBERSHIP_TABLE} m where m.segment = {p} and m.exited_at is null"
    exited = session.scalar(
        f"select count(*) from {open_rows} and not exists "
        f"(select 1 from {current} c where c.person_id = m.person_id)",
        [name],
    )
    session.execute(
        f"update {MEMBERSHIP_TABLE} set exited_at = {p} "
        f"where segment = {p} and exited_at is null and not exists "
        f"(select 1 from {current} c where c.person_id = {MEMBERSHIP_TABLE}.person_id)",
        [at, name],
    )
    entered = session.scalar(
        f"select count(*) from {current} c where not exists "
        f"(select 1 from {open_rows} and m.person_id = c.person_id)",
        [name],
    )
    session.execute(
        f"insert into {MEMBERSHIP_TABLE} (segment, person_id, entered_at, exited_at) "
        f"select {p}, c.person_id, {p}, null from {current} c where not exists "
        f"(select 1 from {open_rows} and m.person_id = c.person_id)",
        [name, at, name],
    )
    size = session.scalar(f"select count(*) from {current} c")
    session.execute(
        f"insert into {SIZES_TABLE} (segment, measured_at, size) values ({p}, {p}, {p})",
        [name, at, int(size)],
    )
    return MembershipChange(name, at, int(entered), int(exited), int(size))


def current_members(session: Session, segment: str) -> pd.DataFrame:
    p = "?" if session.dialect == "duckdb" else "%s"
    return session.df(
        f"select person_id, entered_at from {MEMBERSHIP_TABLE} "
        f"where segment = {p} and exited_at is null order by person_id",
        [_checked_name(segment)],
    )


def entered_since(session: Session, segment: str, since: datetime) -> pd.DataFrame:
    """Who entered `segment` at or after `since` (and may have left again)."""
    p = "?" if session.dialect == "duckdb" else "%s"
    return session.df(
        f"select person_id, entered_at, exited_at from {MEMBERSHIP_TABLE} "
        f"where segment = {p} and entered_at >= {p} order by entered_at, person_id",
        [_checked_name(segment), _naive_utc(since)],
    )


def size_history(session: Session, segments: Iterable[str] | None = None) -> pd.DataFrame:
    """segment, measured_at, size for every refresh (optionally only some segments)."""
    if not session.table_exists(SCHEMA, "segment_sizes"):
        return pd.DataFrame(columns=["segment", "measured_at", "size"])
    df = session.df(f"select segment, measured_at, size from {SIZES_TABLE} order by measured_at")
    if segments is not None:
        df = df[df["segment"].isin([_checked_name(s) for s in segments])]
    return df.reset_index(drop=True)


def _checked_name(name: str) -> str:
    """Segment names go into SQL as identifiers, so they must match the catalog's rule."""
    if not SEGMENT_NAME.match(name) or name in RESERVED_NAMES:
        raise MembershipError(f"{name!r} is not a valid segment name")
    return name


def _naive_utc(moment: datetime) -> datetime:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment
