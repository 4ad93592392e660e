"""Plan a sync in the warehouse: which rows were added, changed, removed or need a retry,
and who must leave the destination (erased, suppressed: see suppression.py).

The plan is one `create or replace table tessera_sync.plan_<sync> as select ...` comparing
a row hash of the segment's mapped columns (hashed in SQL where the sync says so) with the
sync's state table, then fetching the mapped values of the differing rows only (see
`plan_sql`). Only the plan's rows, and only mapped columns, are ever read out.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa

from reverse_etl.audience import narrow_shared_removals
from reverse_etl.config import SyncConfig
from reverse_etl.dialect import hash_expression, key_expression, quote, row_hash_expression
from reverse_etl.match import CONFLICT_COLUMN, MatchField, hold_back_shared_values
from reverse_etl.state import ensure_tables, plan_table, state_table
from reverse_etl.suppression import (
    DELETION_REQUESTS,
    ERASED,
    SUPPRESSED,
    SYNC_HOLDOUTS,
    SuppressionSources,
    detect,
    suppression_sql,
)
from tessera.warehouse import Session

PROFILES_SCHEMA = "profiles"
PROFILES_TABLE = "customer_profiles"
# send order: removals (privacy first) before creates, so an email can move between keys
KINDS = ("erased", "suppressed", "removed", "retry", "changed", "added")
# (reverse_etl.cli repeats KINDS so `tessera --help` need not import the engine)
PLAN_COLUMNS = ("_key", "_kind", "_row_hash", "_previous_dest_id", "_person_id")
HELD_BACK = "held_back"  # plan count: upserts sharing a match value with another row
NARROWED = "narrowed"  # plan count: removals that keep identifiers a staying member shares


class PlanError(ValueError):
    """The sync cannot be planned (missing segment, column or consent table)."""


@dataclass(frozen=True)
class Plan:
    sync_name: str
    table: str
    fields: tuple[str, ...]  # destination field names, in plan column order f_0, f_1, ...
    counts: dict[str, int]
    seconds: float
    match: MatchField | None = None  # the destination's match field, when it has one

    @property
    def to_send(self) -> int:
        return sum(self.counts.get(kind, 0) for kind in KINDS)


def field_column(index: int) -> str:
    return f"f_{index}"


def _where(sync: SyncConfig) -> str:
    return f"sync {sync.name!r} ({sync.source_file})"


def check_sources(
    session: Session, sync: SyncConfig, sources: SuppressionSources | None = None
) -> None:
    if not session.table_exists(sync.segment_schema, sync.segment_table):
        raise PlanError(
            f"{_where(sync)}: segment table {sync.segment} does not exist; "
            "build it first (`tessera build`) or fix the sync's `segment` field"
        )
    available = {name for name, _ in session.columns(sync.segment_schema, sync.segment_table)}
    needed = {*sync.key_columns, *sync.mapping.values()}
    if sync.consent:
        needed.add(sync.person_column)
    uses_people = sources is not None and (sources.deletion_requests or sources.holdouts)
    if uses_people and sync.person_column.lower() not in available:
        assert sources is not None
        relations = ", ".join(
            ".".join(relation)
            for relation, used in (
                (DELETION_REQUESTS, sources.deletion_requests),
                (SYNC_HOLDOUTS, sources.holdouts),
            )
            if used
        )
        raise PlanError(
            f"{_where(sync)}: segment {sync.segment} has no column {sync.person_column}, "
            f"so the persons in {relations} cannot be kept out of this sync; nothing was "
            "sent. Add the person id to the segment (or name it in `person_column`)."
        )
    missing = sorted(c for c in needed if c.lower() not in available)
    if missing:
        raise PlanError(
            f"{_where(sync)}: segment {sync.segment} has no column(s) {', '.join(missing)} "
            f"(it has: {', '.join(sorted(available))})"
        )
    if sync.consent:
        consent_column = f"consent_{sync.consent}"
        if not session.table_exists(PROFILES_SCHEMA, PROFILES_TABLE):
            raise PlanError(
                f"{_where(sync)}: consent purpose {sync.consent!r} needs "
                f"{PROFILES_SCHEMA}.{PROFILES_TABLE} to exist; build the profiles models, "
                "or remove `consent:` from the sync if it needs none"
            )
        profile_columns = {n for n, _ in session.columns(PROFILES_SCHEMA, PROFILES_TABLE)}
        if consent_column not in profile_columns:
            raise PlanError(
                f"{_where(sync)}: {PROFILES_SCHEMA}.{PROFILES_TABLE} has no column "
                f"{consent_column} for consent purpose {sync.consent!r}"
            )


def plan_sql(
    sync: SyncConfig,
    dialect: str,
    full_resync: bool = False,
    sources: SuppressionSources | None = None,
    reconcile: bool = False,
) -> str:
    """The plan in two passes over the segment, so the join's memory does not hold fields.

    1. The diff: keys and row hashes (over the mapped values, hashed where the sync says)
       against the state's keys and hashes. A full outer join of narrow rows, which a bounded
       DuckDB memory limit spills cheaply. Suppressed persons (suppression.py) are taken out
       of the segment's side first; the state's side says whether the destination holds them.
    2. The mapped values, fetched again by key for the diff's rows only: for a 1% change the
       hash table is 1% of the segment, and hashing rules run for those rows only.
    """
    fields = list(sync.mapping)
    rules = [sync.hashing.get(dest_field) for dest_field in fields]

    def mapped(index: int, column: str) -> str:
        return hash_expression(dialect, rules[index], column) if rules[index] else column

    select_fields = [
        f"{mapped(i, f'seg.{sync.mapping[dest_field]}')} as {field_column(i)}"
        for i, dest_field in enumerate(fields)
    ]
    raw_fields = [f"seg.{sync.mapping[dest_field]} as r_{i}" for i, dest_field in enumerate(fields)]
    key = key_expression(sync.key_columns, "seg")
    keys_present = " and ".join(f"seg.{c} is not null" for c in sync.key_columns)
    suppressed = suppression_sql(sync, sources or SuppressionSources())
    has_person = sync.consent is not None or suppressed is not None
    person = f"cast(seg.{sync.person_column} as varchar)" if has_person else "cast(null as varchar)"
    # before state rows carried person_id, a sync keyed by the person id still names them
    state_person = (
        "coalesce(person_id, key)" if sync.key_columns == [sync.person_column] else "person_id"
    )
    consent_join = ""
    if sync.consent:
        consent_join = (
            f"join {PROFILES_SCHEMA}.{PROFILES_TABLE} as p "
            f"on p.person_id = seg.{sync.person_column} "
            f"and p.consent_{sync.consent} = true"
        )
    row_hash = row_hash_expression(dialect, [field_column(i) for i in range(len(fields))])
    privacy = (
        f"""when x.strength = {ERASED} and s.key is not null then 'erased'
            when x.strength = {SUPPRESSED} and s.key is not null then 'suppressed'"""
        if suppressed
        else ""
    )

    if reconcile:  # what to read back: rows state calls current, and rows never acknowledged
        kind = """case
            when c._key is null then null
            when s.key is null or s.status = 'failed' or s.row_hash is null then 'unacknowledged'
            when s.row_hash = c._row_hash then 'in_sync'
            end"""
    elif full_resync:  # resend everything current; full resyncs never remove (but do erase)
        kind = f"""case
            {privacy}
            when c._key is null then null
            when s.key is null then 'added'
            when s.status = 'failed' then 'retry'
            else 'changed' end"""
    else:
        removed = "'removed'" if sync.removes else "null"
        changed = "null" if sync.mode == "insert" else "'changed'"
        kind = f"""case
            {privacy}
            when c._key is null and s.row_hash is null then 'forget'
            when c._key is null then {removed}
            when s.key is null then 'added'
            when s.status = 'failed' then 'retry'
            when s.row_hash <> c._row_hash then {changed}
            end"""
    suppression_cte = f"suppression as ({suppressed})," if suppressed else ""
    not_suppressed = (
        f"and not exists (select 1 from suppression as x where x.person_id = {person})"
        if suppressed
        else ""
    )
    suppression_join = (
        "left join suppression as x on x.person_id = coalesce(c._person_id, s.person_id)"
        if suppressed
        else ""
    )
    # The segment is written out twice rather than as one CTE used twice, which an engine
    # may materialise whole.
    return f"""
        with {suppression_cte}
        segment_rows as (
            select {key} as _key, {person} as _person_id, {", ".join(select_fields)}
            from {sync.segment} as seg
            {consent_join}
            where {keys_present} {not_suppressed}
        ),
        current_rows as (
            select _key, _person_id, {row_hash} as _row_hash from segment_rows
        ),
        state as (
            select key, row_hash, dest_id, status, {state_person} as person_id
            from {state_table(sync.name)}
        ),
        compared as (
            select
                coalesce(c._key, s.key) as _key,
                {kind} as _kind,
                c._row_hash,
                s.dest_id as _previous_dest_id,
                coalesce(c._person_id, s.person_id) as _person_id
            from current_rows as c
            full outer join state as s on s.key = c._key
            {suppression_join}
        ),
        diff as (
            select * from compared where _kind is not null
        ),
        values_by_key as (
            select {key} as _key, {", ".join(raw_fields)}
            from {sync.segment} as seg
            where {keys_present}
        )
        select
            d._key, d._kind, d._row_hash, d._previous_dest_id, d._person_id,
            cast(null as varchar) as {CONFLICT_COLUMN},
            {", ".join(f"{mapped(i, f'v.r_{i}')} as {field_column(i)}" for i in range(len(fields)))}
        from diff as d
        left join values_by_key as v on v._key = d._key
            and (d._row_hash is not null or d._kind = 'erased')
    """


def build_plan(
    session: Session,
    sync: SyncConfig,
    full_resync: bool = False,
    match: MatchField | None = None,
    removes_by_identifier: bool = False,
) -> Plan:
    """`match`: the field the destination knows records by; upserts that share its value
    with another row are held back (match.py), counted as `held_back`.
    `removes_by_identifier`: the destination removes members by their identifiers (ad
    audiences), so removals leave out the identifiers staying members share (audience.py)."""
    started = time.perf_counter()
    sources = detect(session, sync)
    check_sources(session, sync, sources)
    ensure_tables(session, sync.name)
    if sources.any:
        _backfill_person_ids(session, sync)
    table = plan_table(sync.name)
    session.execute(
        f"create or replace table {table} as "
        f"{plan_sql(sync, session.dialect, full_resync, sources)}"
    )
    _refuse_duplicate_keys(session, sync, table)
    counts = {kind: 0 for kind in (*KINDS, "forget", HELD_BACK, NARROWED)}
    if match is not None:
        column = field_column(list(sync.mapping).index(match.field))
        counts[HELD_BACK] = hold_back_shared_values(session, sync, table, match, column)
    if removes_by_identifier and not full_resync:
        columns = [field_column(i) for i in range(len(sync.mapping))]
        counts[NARROWED] = narrow_shared_removals(session, sync, table, columns)
    for kind, n in session.df(
        f"select _kind as kind, count(*) as n from {table} "
        f"where {CONFLICT_COLUMN} is null group by _kind"
    ).itertuples(index=False):
        counts[kind] = int(n)
    seconds = time.perf_counter() - started
    return Plan(sync.name, table, tuple(sync.mapping), counts, seconds, match)


RECONCILE_KINDS = ("in_sync", "unacknowledged")


def reconcile_table(sync_name: str) -> str:
    return plan_table(sync_name).replace(".plan_", ".reconcile_")


def build_reconcile_plan(session: Session, sync: SyncConfig) -> Plan:
    """Rows to read back from the destination: those state says are current (`in_sync`)
    and those sent but never acknowledged (`unacknowledged`), with their mapped values.
    Rows with changes pending are left out: the next run sends them anyway."""
    started = time.perf_counter()
    sources = detect(session, sync)
    check_sources(session, sync, sources)
    ensure_tables(session, sync.name)
    table = reconcile_table(sync.name)
    sql = plan_sql(sync, session.dialect, sources=sources, reconcile=True)
    session.execute(f"create or replace table {table} as {sql}")
    counts = {kind: 0 for kind in RECONCILE_KINDS}
    for kind, n in session.df(
        f"select _kind as kind, count(*) as n from {table} group by _kind"
    ).itertuples(index=False):
        counts[kind] = int(n)
    return Plan(sync.name, table, tuple(sync.mapping), counts, time.perf_counter() - started)


def _backfill_person_ids(session: Session, sync: SyncConfig) -> None:
    """State written before rows carried person_id: fill it from the segment, once, so a
    deletion request finds rows keyed by something other than the person id."""
    table = state_table(sync.name)
    if sync.key_columns == [sync.person_column] or not session.scalar(
        f"select count(*) from {table} where person_id is null"
    ):
        return
    key = key_expression(sync.key_columns, "seg")
    session.execute(
        f"update {table} set person_id = m.person_id from ("
        f"select {key} as key, cast(seg.{sync.person_column} as varchar) as person_id "
        f"from {sync.segment} as seg) as m where {table}.key = m.key "
        f"and {table}.person_id is null"
    )


def _refuse_duplicate_keys(session: Session, sync: SyncConfig, table: str) -> None:
    """Two segment rows with one key would be sent as two contacts (and plan N^2 rows): stop
    before anything is sent. Only planned rows are checked, so this costs little."""
    duplicates = session.df(
        f"select _key from {table} group by _key having count(*) > 1 order by _key limit 5"
    )
    if duplicates.empty:
        return
    session.execute(f"drop table if exists {table}")
    examples = ", ".join(repr(key) for key in duplicates["_key"])
    raise PlanError(
        f"{_where(sync)}: segment {sync.segment} has several rows for one key "
        f"({', '.join(sync.key_columns)}), e.g. {examples}; nothing was sent. Make the key "
        "unique in the segment's SQL (its dbt `unique` test fails too)."
    )


def iter_plan(session: Session, plan: Plan, kind: str, batch_size: int) -> Iterator[pa.RecordBatch]:
    """Stream one kind of the plan's rows in record batches (memory flat in plan size)."""
    yield from session.iter_batches(
        f"select * from {plan.table} where _kind = '{kind}' and {CONFLICT_COLUMN} is null",
        batch_size=batch_size,
    )


def iter_held_back(session: Session, plan: Plan, batch_size: int) -> Iterator[pa.RecordBatch]:
    """The upserts held back because another row has their match value (match.py)."""
    yield from session.iter_batches(
        f"select * from {plan.table} where {CONFLICT_COLUMN} is not null order by _kind, _key",
        batch_size=batch_size,
    )


def sample(session: Session, plan: Plan, limit: int = 5) -> pa.Table:
    columns = ", ".join(
        [
            *PLAN_COLUMNS[:2],
            *(f"{field_column(i)} as {quote(f)}" for i, f in enumerate(plan.fields)),
        ]
    )
    return session.arrow(
        f"select {columns} from {plan.table} where _kind <> 'forget' order by _kind, _key "
        f"limit {int(limit)}"
    )


def drop_plan(session: Session, plan: Plan) -> None:
    session.execute(f"drop table if exists {plan.table}")
