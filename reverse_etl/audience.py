"""Removing a member from an ad audience without removing another member who shares an identifier.

Meta Custom Audiences and Google Ads Customer Match hold people matched through hashed
identifiers: a removal names an email and a phone hash, and the platform takes out the user
matched through them. Two rows of one audience can share a value (a family's email, a
household phone). Sent whole, the removal of the member who left takes the identifier the
other member still holds out with it, and with it the user that member was matched through;
nothing would ever add it back, since the staying row has not changed.

So before anything is sent, each removal (left the segment, or consent revoked) is narrowed in
the plan, in the warehouse, to the identifiers no staying member holds: members the
destination holds that this run leaves in place, and rows this run adds or updates. A removal
whose every identifier is still held sends nothing. A deletion request is not narrowed: an
erased person's identifiers all leave, even one another member shares.

A row's `dest_id` for these destinations is its hashed identifier tuple in mapping order,
joined by `|` (meta_audience.py, google_ads.py).
"""

from __future__ import annotations

from reverse_etl.config import SyncConfig
from reverse_etl.match import CONFLICT_COLUMN
from reverse_etl.state import state_table
from tessera.warehouse import Session

SEPARATOR = "|"
NARROWED_KINDS = ("removed", "suppressed")
LEAVING_KINDS = (*NARROWED_KINDS, "erased")
SENT_KINDS = ("added", "changed", "retry")


def _kinds(kinds: tuple[str, ...]) -> str:
    return ", ".join(f"'{kind}'" for kind in kinds)


def narrow_shared_removals(
    session: Session, sync: SyncConfig, plan: str, field_columns: list[str]
) -> int:
    """Blank, in the plan's removals, each identifier a staying member holds; a removal left
    with none gets a null `_previous_dest_id` (nothing to send). Returns the removals
    narrowed."""
    parts = range(len(field_columns))

    def part(expression: str, index: int) -> str:
        return f"split_part({expression}, '{SEPARATOR}', {index + 1})"

    staying_state = f"""
        select s.dest_id from {state_table(sync.name)} as s
        where s.dest_id is not null and not exists (
            select 1 from {plan} as l
            where l._key = s.key and l._kind in ({_kinds(LEAVING_KINDS)})
        )"""
    held = " union all ".join(
        f"""select {i} as part, {part("dest_id", i)} as value from staying_state
            union all
            select {i} as part, {column} as value from {plan}
            where _kind in ({_kinds(SENT_KINDS)}) and {CONFLICT_COLUMN} is null"""
        for i, column in enumerate(field_columns)
    )
    joins = "\n".join(
        f"""left join (select distinct value from held where part = {i}) as h{i}
            on h{i}.value = {part("l._previous_dest_id", i)} and h{i}.value <> ''"""
        for i in parts
    )
    kept = f" || '{SEPARATOR}' || ".join(
        f"case when h{i}.value is null then {part('l._previous_dest_id', i)} else '' end"
        for i in parts
    )
    narrowed = f"""
        with staying_state as ({staying_state}),
        held as ({held}),
        leaving as (
            select l._key, {kept} as kept, l._previous_dest_id as whole
            from {plan} as l
            {joins}
            where l._kind in ({_kinds(NARROWED_KINDS)}) and l._previous_dest_id is not null
        )
        select _key,
            case when replace(kept, '{SEPARATOR}', '') = '' then null else kept end as kept
        from leaving
        where kept <> whole"""
    table = f"{plan}_narrowed"
    session.execute(f"create or replace table {table} as {narrowed}")
    try:
        count = int(session.df(f"select count(*) from {table}").iloc[0, 0])
        if count:
            session.execute(
                f"update {plan} set _previous_dest_id = n.kept from {table} as n "
                f"where {plan}._key = n._key"
            )
        return count
    finally:
        session.execute(f"drop table if exists {table}")
