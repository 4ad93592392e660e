"""Writing the adversarial mode's tables: raw in load order, truth computed over all chunks.

Every raw row carries a hidden load time (`_load_us`). Chunks are first written to a scratch
schema; the raw tables are then (re)written from it ordered by load time, as a loader
appends them, and the hidden column never reaches raw. Truth is finalised across chunks in
SQL: an identifier is shared when its rows name several persons anywhere, and evidence links
only identifiers of exactly one person, grouped with scipy's connected components.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from tessera.datagen.adversarial.context import LOAD_COLUMN
from tessera.datagen.adversarial.truth import CLASS_NAMES, DECLARED_CLASSES
from tessera.datagen.schema import (
    RAW_TABLES,
    TRUTH_IDENTIFIER_EVIDENCE,
    TRUTH_IDENTIFIER_PERSON,
    TRUTH_PERSONS,
    RawTable,
)
from tessera.datagen.sink import arrow_schema
from tessera.warehouse import Session

SCRATCH = "tessera_adversarial_scratch"
RAW = {t.name: t for t in RAW_TABLES}

IDENTIFIER_CLASSES = RawTable(
    name="identifier_classes",
    description=(
        "Adversarial mode only. One row per normalised identifier that belongs to no single "
        "person, with its class: household (landline, tablet, family email: listed in "
        "identifier_person once per member), switchboard (a company line colleagues share, "
        "also listed per colleague), public_device (kiosk, library PC), placeholder (OS "
        "placeholders and unrendered ad macros), junk (addresses and numbers typed to get "
        "past a field), store_phone, house_card, bot (a bot's cookie, its made-up "
        "addresses), multiple_persons (anything else several persons' records carry: a "
        "recycled number, a typo that hit another person's value). Classes from placeholder "
        "on are never in identifier_person."
    ),
    loaded_at_field="",
    columns=(
        ("id_type", "VARCHAR", "Identifier type."),
        ("id_value", "VARCHAR", "Normalised value."),
        ("class", "VARCHAR", "Why no single person owns it (see the table description)."),
        ("persons", "BIGINT", "Persons identifier_person lists for it (0 for non-person classes)."),
        ("records", "BIGINT", "Loaded raw records carrying it under this class."),
    ),
)

LOADS = RawTable(
    name="adversarial_loads",
    description="Adversarial mode only: each load (generate, then appends) and its parameters.",
    loaded_at_field="",
    columns=(
        ("load_number", "INTEGER", "1 for the generate, then 2, 3 ... per append."),
        ("loaded_from_us", "BIGINT", "Rows whose load time is at or after this were written."),
        ("loaded_until_us", "BIGINT", "... and before this (epoch microseconds)."),
        ("seed", "BIGINT", "Seed of the world."),
        ("persons", "BIGINT", "Persons of the world."),
        ("start_us", "BIGINT", "Start of the simulated history."),
        ("horizon_us", "BIGINT", "End of the simulated world (appends may load up to it)."),
        ("chunk_persons", "BIGINT", "Persons per chunk (part of the world's definition)."),
        ("config", "VARCHAR", "AdversarialConfig as JSON."),
    ),
)


def create_scratch(session: Session) -> None:
    session.execute(f"drop schema if exists {SCRATCH} cascade")
    session.execute(f"create schema {SCRATCH}")
    for table in RAW_TABLES:
        cols = ", ".join(f"{n} {t}" for n, t, _ in table.columns)
        session.execute(f"create table {SCRATCH}.{table.name} ({cols}, {LOAD_COLUMN} BIGINT)")
    session.execute(
        f"create table {SCRATCH}.person (id_type varchar, id_value varchar, person_key bigint)"
    )
    session.execute(
        f"create table {SCRATCH}.klass "
        "(id_type varchar, id_value varchar, klass tinyint, records bigint)"
    )
    session.execute(
        f"create table {SCRATCH}.edges (id_type varchar, id_value varchar, person_key bigint, "
        "linked_id_type varchar, linked_id_value varchar)"
    )


def recreate_schemas(session: Session) -> None:
    for schema in ("raw", "truth"):
        session.execute(f"drop schema if exists {schema} cascade")
        session.execute(f"create schema {schema}")
    for table in RAW_TABLES:
        session.execute(table.ddl("raw"))
    for table in (TRUTH_PERSONS, LOADS):
        session.execute(table.ddl("truth"))


def insert(session: Session, qualified: str, data: pa.Table) -> None:
    if data.num_rows == 0:
        return
    cur = session.conn.cursor()
    try:
        cur.register("_tessera_adversarial_chunk", data)
        cols = ", ".join(data.column_names)
        cur.execute(
            f"insert into {qualified} ({cols}) select {cols} from _tessera_adversarial_chunk"
        ).fetchall()
    finally:
        cur.close()


def write_raw_chunk(
    session: Session, tables: dict[str, pa.Table], load_from: int, load_until: int
) -> None:
    for name, data in tables.items():
        table = RAW[name]
        load = data[LOAD_COLUMN].to_numpy()
        keep = (load >= load_from) & (load < load_until)
        kept = data.filter(pa.array(keep))
        schema = arrow_schema(table).append(pa.field(LOAD_COLUMN, pa.int64()))
        insert(session, f"{SCRATCH}.{name}", kept.select(schema.names).cast(schema))


def publish_raw(session: Session, replace: bool) -> dict[str, int]:
    """Scratch rows into raw, in load order (replacing raw on a generate, appended after)."""
    rows = {}
    for table in RAW_TABLES:
        cols = ", ".join(table.column_names)
        source = (
            f"select {cols} from {SCRATCH}.{table.name} "
            f"order by {LOAD_COLUMN}, {table.column_names[0]}"
        )
        if replace:
            session.execute(f"create or replace table raw.{table.name} as {source}")
        else:
            session.execute(f"insert into raw.{table.name} {source}")
        rows[f"raw.{table.name}"] = int(
            session.scalar(f"select count(*) from {SCRATCH}.{table.name}")
        )
    return rows


def publish_truth(session: Session) -> dict[str, int]:
    """identifier_person, identifier_classes and identifier_evidence from the scratch rows."""
    names = ", ".join(f"({k}, '{v}')" for k, v in CLASS_NAMES.items())
    declared = ", ".join(str(int(k)) for k in DECLARED_CLASSES)
    session.execute(f"create or replace table {SCRATCH}.class_names (klass tinyint, name varchar)")
    session.execute(f"insert into {SCRATCH}.class_names values {names}")
    session.execute(f"drop table if exists truth.{TRUTH_IDENTIFIER_PERSON.name}")
    # values of a non-person class belong to nobody, even where a typo produced one
    session.execute(
        f"""
        create table truth.{TRUTH_IDENTIFIER_PERSON.name} as
        select distinct p.id_type, p.id_value, p.person_key
        from {SCRATCH}.person p
        where not exists (
            select 1 from {SCRATCH}.klass k
            where k.id_type = p.id_type and k.id_value = p.id_value
              and k.klass not in ({declared}, 0)
        )
        order by p.person_key, p.id_type, p.id_value
        """
    )
    session.execute(f"drop table if exists truth.{IDENTIFIER_CLASSES.name}")
    session.execute(
        f"""
        create table truth.{IDENTIFIER_CLASSES.name} as
        with classed as (
            select id_type, id_value, min(klass) as klass, sum(records) as records
            from {SCRATCH}.klass group by id_type, id_value
        ),
        owners as (
            select id_type, id_value, count(distinct person_key) as persons
            from truth.{TRUTH_IDENTIFIER_PERSON.name} group by id_type, id_value
        )
        select
            coalesce(c.id_type, o.id_type) as id_type,
            coalesce(c.id_value, o.id_value) as id_value,
            coalesce(n.name, 'multiple_persons') as class,
            coalesce(o.persons, 0) as persons,
            coalesce(c.records, 0) as records
        from classed c
        full join (select * from owners where persons > 1) o
            on o.id_type = c.id_type and o.id_value = c.id_value
        left join {SCRATCH}.class_names n on n.klass = c.klass
        order by 1, 2
        """
    )
    _publish_evidence(session)
    return {
        f"truth.{t}": int(session.scalar(f"select count(*) from truth.{t}"))
        for t in (TRUTH_IDENTIFIER_PERSON.name, IDENTIFIER_CLASSES.name, "identifier_evidence")
    }


def _publish_evidence(session: Session) -> None:
    """Edges between identifiers of exactly one person; one row per member naming its
    group's root, like the default generator's table."""
    session.execute(
        f"""
        create or replace table {SCRATCH}.single as
        select id_type, id_value, min(person_key) as person_key,
            row_number() over (order by id_type, id_value) - 1 as node
        from truth.{TRUTH_IDENTIFIER_PERSON.name}
        group by id_type, id_value
        having count(distinct person_key) = 1
        """
    )
    edges = session.conn.execute(
        f"""
        select distinct a.node as src, b.node as dst
        from {SCRATCH}.edges e
        join {SCRATCH}.single a on a.id_type = e.id_type and a.id_value = e.id_value
        join {SCRATCH}.single b
            on b.id_type = e.linked_id_type and b.id_value = e.linked_id_value
        where a.person_key = e.person_key and b.person_key = e.person_key
        """
    ).fetchnumpy()
    n_nodes = int(session.scalar(f"select count(*) from {SCRATCH}.single"))
    src = np.asarray(edges["src"], dtype=np.int64)
    dst = np.asarray(edges["dst"], dtype=np.int64)
    session.execute(f"drop table if exists truth.{TRUTH_IDENTIFIER_EVIDENCE.name}")
    session.execute(TRUTH_IDENTIFIER_EVIDENCE.ddl("truth"))
    if not len(src):
        return
    graph = coo_matrix((np.ones(len(src), np.int8), (src, dst)), shape=(n_nodes, n_nodes))
    _, label = connected_components(graph, directed=False)
    members = np.unique(np.concatenate([src, dst]))
    root = np.full(label.max() + 1, n_nodes, dtype=np.int64)
    np.minimum.at(root, label[members], members)
    session.execute(f"create or replace table {SCRATCH}.roots (node bigint, root bigint)")
    insert(session, f"{SCRATCH}.roots", pa.table({"node": members, "root": root[label[members]]}))
    session.execute(
        f"""
        insert into truth.{TRUTH_IDENTIFIER_EVIDENCE.name}
        select m.id_type, m.id_value, m.person_key, r2.id_type, r2.id_value
        from {SCRATCH}.roots r
        join {SCRATCH}.single m on m.node = r.node
        join {SCRATCH}.single r2 on r2.node = r.root
        order by m.person_key, m.id_type, m.id_value
        """
    )


def drop_scratch(session: Session) -> None:
    session.execute(f"drop schema if exists {SCRATCH} cascade")
