"""Removing a member from an ad audience without removing another member who shares an identifier.

Meta Custom Audiences and Google Ads Customer Match hold people matched through hashed
identifiers: a removal names an email and a phone hash, and the platform takes out the user
matched through them. Two rows of one audience can share a value (a family's email, a
household phone). Sent whole, the removal of the member who left takes the identifier the
other member still holds out with it, and with it the user that member was matched through;
nothing would ever add it back, since the staying row has not changed.

So before anything is sent, each removal is narrowed in the plan, in the warehouse, to the
identifiers no other staying member holds (members the destination holds that this run
leaves in place, and rows this run adds or updates): removals of members who left the
segment or revoked consent, and the old tuple a member whose identifiers changed leaves
behind. A removal whose every identifier is still held sends nothing. A deletion request is
not narrowed: an erased person's identifiers all leave, even one another member shares.

A row's `dest_id` for these destinations is its hashed identifier tuple in mapping order,
joined by `|` (meta_audience.py, google_ads.py).
"""

from __future__ import annotations

from reverse_etl.config import SyncConfig
from reverse_etl.match import CONFLICT_COLUMN
from reverse_etl.state import state_table
from tessera.warehouse import Session

SEPARATOR = "|"  # between the hashed values of a `dest_id` (meta_audience.py, google_ads.py)
NARROWED_KINDS = ("removed", "suppressed")
LEAVING_KINDS = (*NARROWED_KINDS, "erased")
SENT_KINDS = ("added", "changed", "retry")


def _kinds(kinds: tuple[str, ...]) -> str:
    return ", ".join(f"'{kind}'" for kind in kinds)


def narrow_shared_removals(
    session: Session, sync: SyncConfig, plan: str, field_columns: list[str]
) -> int:
    """Blank, in what the plan's rows will remove, each identifier another staying member
    holds; a removal left with none gets a null `_previous_dest_id` (nothing to send).
    Returns the rows narrowed."""
    parts = range(len(field_columns))

    def part(expression: str, index: int) -> str:
        return f"split_part({expression}, '{SEPARATOR}', {index + 1})"

    new_tuple = f" || '{SEPARATOR}' || ".join(f"coalesce({c}, '')" for c in field_columns)
    removing = f"""l._previous_dest_id is not null and (
        l._kind in ({_kinds(NARROWED_KINDS)})
        or (l._kind in ({_kinds(SENT_KINDS)}) and l.{CONFLICT_COLUMN} is null
            and l._previous_dest_id <> {new_tuple}))"""
    if not session.scalar(f"select count(*) from {plan} as l where {removing}"):
        return 0  # most runs: the state is not read at all
    wanted = " union all ".join(
        f"select {i} as part, {part('l._previous_dest_id', i)} as value "
        f"from {plan} as l where {removing}"
        for i in parts
    )
    staying_state = f"""
        select s.key, s.dest_id from {state_table(sync.name)} as s
        where s.dest_id is not null and not exists (
            select 1 from {plan} as l
            where l._key = s.key and l._kind in ({_kinds(LEAVING_KINDS)})
        )"""
    held = " union all ".join(
        f"""select key, {i} as part, {part("dest_id", i)} as value from staying_state
            where {part("dest_id", i)} in (select value from wanted where part = {i})
            union all
            select _key as key, {i} as part, {column} as value from {plan}
            where _kind in ({_kinds(SENT_KINDS)}) and {CONFLICT_COLUMN} is null
                and {column} in (select value from wanted where part = {i})"""
        for i, column in enumerate(field_columns)
    )
    # who holds each value: enough to tell "someone other than this row" without a join
    # that multiplies a widely shared value by its holders
    joins = "\n".join(
        f"""left join holders as h{i} on h{i}.part = {i}
            and h{i}.value = {part("l._previous_dest_id", i)}"""
        for i in parts
    )
    kept = f" || '{SEPARATOR}' || ".join(
        f"""case when h{i}.value <> '' and (h{i}.keys > 1 or h{i}.some_key <> l._key) then ''
            else {part("l._previous_dest_id", i)} end"""
        for i in parts
    )
    narrowed = f"""
        with wanted as ({wanted}),
        staying_state as ({staying_state}),
        held as ({held}),
        holders as (
            select part, value, count(distinct key) as keys, min(key) as some_key
            from held group by part, value
        ),
        narrowed as (
            select l._key, {kept} as kept, l._previous_dest_id as whole
            from {plan} as l
            {joins}
            where {removing}
        )
        select _key,
            case when replace(kept, '{SEPARATOR}', '') = '' then null else kept end as kept
        from narrowed
        where kept <> whole"""
    table = f"{plan}_narrowed"
    session.execute(f"create or replace table {table} as {narrowed}")
    try:
        count = int(session.scalar(f"select count(*) from {table}") or 0)
        if count:
            session.execute(
                f"update {plan} set _previous_dest_id = n.kept from {table} as n "
                f"where {plan}._key = n._key"
            )
        return count
    finally:
        session.execute(f"drop table if exists {table}")
