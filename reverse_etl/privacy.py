"""Deletion requests: the table every sync reads, and a helper to record one.

`privacy.deletion_requests (request_id, person_id, requested_at, source)` is the contract:
whatever system receives data-subject requests (a form, a ticketing tool, a dbt model over
your consent platform) writes a row per person to forget, or `tessera sync forget
PERSON_ID` does. Every sync's next run then erases that person from its destination (in
every mode), drops them from its state and `tessera_sync.errors`, and writes a
`tessera_sync.privacy_audit` row. A person id that was later merged into another (or the
survivor of a merge) is followed through `identity.person_merges`. Keep the request rows:
they also stop the person from being sent again while upstream data still holds them.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from reverse_etl.dialect import placeholder
from tessera.warehouse import Session

SCHEMA = "privacy"
TABLE = f"{SCHEMA}.deletion_requests"
DDL = f"""
create table if not exists {TABLE} (
    request_id varchar, person_id varchar, requested_at timestamp, source varchar
)"""


def ensure_deletion_requests(session: Session) -> None:
    session.execute(f"create schema if not exists {SCHEMA}")
    session.execute(DDL)


def request_deletion(
    session: Session, person_id: str, request_id: str | None = None, source: str = "cli"
) -> str:
    """Record that `person_id` must be erased from every destination; returns the request id."""
    if not person_id.strip():
        raise ValueError("a deletion request needs a person id")
    ensure_deletion_requests(session)
    ph = placeholder(session.dialect)
    if request_id:
        recorded = session.scalar(
            f"select min(person_id) from {TABLE} where request_id = {ph}", [request_id]
        )
        if recorded == person_id.strip():
            return request_id  # the same request again: recorded once is enough
        if recorded is not None:
            raise ValueError(
                f"request id {request_id!r} is already recorded for another person "
                f"({recorded}); give each request its own id"
            )
    request_id = request_id or f"req_{uuid.uuid4().hex[:12]}"
    now = datetime.now(UTC).replace(tzinfo=None)
    session.execute(
        f"insert into {TABLE} (request_id, person_id, requested_at, source) "
        f"values ({ph}, {ph}, {ph}, {ph})",
        [request_id, person_id.strip(), now, source],
    )
    return request_id


def known_person(session: Session, person_id: str) -> bool | None:
    """Whether `person_id` is a person of identity.persons or a merged-away id of
    identity.person_merges (None when identity is not built here)."""
    ph = placeholder(session.dialect)
    known = False
    for table, column in (("persons", "person_id"), ("person_merges", "old_person_id")):
        if not session.table_exists("identity", table):
            return None
        found = session.scalar(
            f"select count(*) from identity.{table} where {column} = {ph}", [person_id.strip()]
        )
        known = known or bool(found)
    return known
