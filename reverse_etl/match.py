"""One destination record per value of the field a destination matches records by.

HubSpot upserts contacts by email, Braze users by external_id or email, Salesforce records by
the external id field. The sync's own key (usually the person id) is unique in the segment,
but two of its rows can still carry one email: a hand-written segment that takes emails
from the CRM, two persons a company's identity settings keep apart. Sent as they are, the
destination would hold one record written twice: HubSpot refuses a batch whose inputs resolve
to one contact (every other row of the batch with it), and across batches or runs the second
row overwrites the first's contact, which then flips between two persons on every run.

So the plan holds such rows back, in the warehouse, before anything is sent: of the rows that
share a match value, the one the destination already holds (it is in state as synced, or is
being updated by the id the destination gave it) is sent, otherwise the first by key; the
others are recorded as rejected (`tessera_sync.errors`, naming the row sent instead) and are
planned again on every run, so each one goes out once its value is its own. A deletion
request for a row held back (never sent) must not delete, by that value, the record of the
row that was sent: its erasure finds nothing by it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from reverse_etl.config import SyncConfig
from reverse_etl.dialect import key_expression
from reverse_etl.state import state_table
from tessera.warehouse import Session

CONFLICT_COLUMN = "_conflict_with"  # plan column: the key of the row sent instead, or null
UPSERT_KINDS = ("retry", "changed", "added")


@dataclass(frozen=True)
class MatchField:
    """The destination field (a key of the sync's mapping) that names a record there."""

    field: str
    case_insensitive: bool  # emails; Salesforce external ids (by default)
    record: str  # what the destination calls a record, for messages: "contact", "user"


def held_back_message(match: MatchField, destination_type: str, sent_instead: str) -> str:
    return (
        f"not sent: row {sent_instead!r} of this sync has the same {match.field} and "
        f"{destination_type} keeps one {match.record} per {match.field}; make "
        f"{match.field} unique in the segment (this row is planned again every run)"
    )


def _normalised(expression: str, match: MatchField) -> str:
    value = f"trim(cast({expression} as varchar))"
    return f"lower({value})" if match.case_insensitive else value


def hold_back_shared_values(
    session: Session, sync: SyncConfig, plan: str, match: MatchField, field_column: str
) -> int:
    """Mark the plan's upserts whose match value another row of the sync holds or is sent
    with (see the module doc); returns how many were marked. Then keep erasures of rows the
    destination never acknowledged from finding another row's record by that value."""
    segment_value = _normalised(f"seg.{sync.mapping[match.field]}", match)
    planned_value = _normalised(f"p.{field_column}", match)
    upserts = ", ".join(f"'{kind}'" for kind in UPSERT_KINDS)
    segment_key = key_expression(sync.key_columns, "seg")
    planned = f"""
        select p._key as key, {planned_value} as value,
            case when p._previous_dest_id is null then 1 else 0 end as unknown
        from {plan} as p
        where p._kind in ({upserts})
    """

    def kept(values: str) -> str:
        """The rows the destination holds and this run leaves alone, with one of `values`
        (filtered on the segment first: a small plan reads few rows of a large state)."""
        return f"""
            select s.key, {segment_value} as value, 0 as unknown
            from {sync.segment} as seg
            join {state_table(sync.name)} as s on s.key = {segment_key}
            where {segment_value} in ({values})
                and s.status = 'synced'
                and not exists (select 1 from {plan} as q where q._key = s.key)
        """

    held_back = 0
    if session.scalar(f"select count(*) from ({planned}) as n"):
        ranked = f"""
            select h.key, first_value(h.key) over (
                partition by h.value order by h.unknown, h.key
            ) as sent_instead
            from (
                {planned}
                union all
                {kept(f"select n.value from ({planned}) as n")}
            ) as h
            where h.value is not null and h.value <> ''
        """
        conflicts = (
            f"select r.key, r.sent_instead from ({ranked}) as r where r.key <> r.sent_instead"
        )
        session.execute(
            f"update {plan} set {CONFLICT_COLUMN} = m.sent_instead from ({conflicts}) as m "
            f"where {plan}._key = m.key and {plan}._kind in ({upserts})"
        )
        held_back = int(
            session.scalar(f"select count(*) from {plan} where {CONFLICT_COLUMN} is not null") or 0
        )
    _spare_other_rows_records(session, plan, match, field_column, planned, kept)
    return held_back


def _spare_other_rows_records(
    session: Session,
    plan: str,
    match: MatchField,
    field_column: str,
    planned: str,
    kept: Callable[[str], str],
) -> None:
    """An erasure of a row the destination never acknowledged (no id of ours) finds the record
    by the match value: HubSpot's gdpr-delete and Braze's users/delete by email. When another
    row holds that value, the record is that row's (this one was held back, or refused), so
    the value is blanked and the erasure deletes nothing of it."""
    erased_value = _normalised(f"e.{field_column}", match)
    unknown_erasures = f"""
        select {erased_value} from {plan} as e
        where e._kind = 'erased' and e._previous_dest_id is null
    """
    if not session.scalar(f"select count(*) from ({unknown_erasures}) as u"):
        return
    holders = f"""
        select n.key, n.value from ({planned}) as n
        where n.key not in (select c._key from {plan} as c where c.{CONFLICT_COLUMN} is not null)
        union all
        select k.key, k.value from ({kept(unknown_erasures)}) as k
    """
    others = f"""
        select distinct e._key as key
        from {plan} as e
        join ({holders}) as h on h.value = {erased_value} and h.key <> e._key
        where e._kind = 'erased' and e._previous_dest_id is null
    """
    session.execute(
        f"update {plan} set {field_column} = null from ({others}) as m "
        f"where {plan}._key = m.key and {plan}._kind = 'erased'"
    )
