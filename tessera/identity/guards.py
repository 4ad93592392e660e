"""What identity's guards did, and whether truth agrees: hubs found, edges cut, and where the
wrongly joined pairs that remain come from.

- hubs_by_type: identifiers identity_nodes marked shared_identifier (kept as nodes, never
  bridges), per id type.
- edges_cut_by_reason: edges not used, per reason (edge_to_shared_identifier, recycled,
  person_limit, weak_join, uncorroborated, contested, unresolved), from identity_audit.
- cuts_vs_truth: per reason, whether each cut edge joined two different true persons (a good
  cut: `<reason>:different_persons`), one person (a link lost: `<reason>:same_person`) or an
  identifier truth gives to no single person (`<reason>:unscored`).
- wrong_pairs_by_cause: the wrongly joined pairs (predicted together, truly apart), per what
  the over-merged cluster holds besides persons' own identifiers, when truth classifies
  identifiers no one owns (`truth.identifier_classes`, the adversarial mode): `household`,
  `junk`, `placeholder` ... or `direct` when none (a record that carried two persons'
  identifiers: a gift order, a partner's card, a cashier's slip).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tessera.warehouse import Session

AUDIT_TABLE = "identity.identity_audit"
NODES_TABLE = "identity.identity_nodes"
GRAPH_TABLE = "identity.identity_graph"
TRUTH_TABLE = "truth.identifier_person"
CLASSES_TABLE = "truth.identifier_classes"

OWNERS_SQL = f"""
select id_type || ':' || id_value as node_key, min(person_key) as person_key,
    count(distinct person_key) as persons
from {TRUTH_TABLE}
group by id_type, id_value
"""

CUTS_SQL = f"""
with owners as ({OWNERS_SQL}),
cuts as (
    select id_type || ':' || id_value as a_key,
        linked_id_type || ':' || linked_id_value as b_key, reason
    from {AUDIT_TABLE}
    where audit_kind = 'edge'
)
select
    c.reason,
    case
        when a.persons = 1 and b.persons = 1 and a.person_key = b.person_key then 'same_person'
        when a.persons = 1 and b.persons = 1 then 'different_persons'
        else 'unscored'
    end as verdict,
    count(*) as edges
from cuts c
left join owners a on a.node_key = c.a_key
left join owners b on b.node_key = c.b_key
group by 1, 2
"""

WRONG_PAIRS_SQL = f"""
with owners as ({OWNERS_SQL}),
graph as (select node_key, person_id from {GRAPH_TABLE}),
scored as (
    select g.person_id, o.person_key
    from graph g join owners o on o.node_key = g.node_key
    where o.persons = 1
),
cells as (select person_id, person_key, count(*) as n from scored group by 1, 2),
clusters as (
    select person_id, sum(n) as n, sum(n * (n - 1) / 2) as correct, count(*) as persons
    from cells group by 1
),
causes as (
    select g.person_id, string_agg(distinct c.class, '+' order by c.class) as cause
    from graph g join {CLASSES_TABLE} c on c.id_type || ':' || c.id_value = g.node_key
    group by 1
)
select coalesce(k.cause, 'direct') as cause, sum(c.n * (c.n - 1) / 2 - c.correct) as pairs
from clusters c left join causes k on k.person_id = c.person_id
where c.persons > 1
group by 1
"""


@dataclass(frozen=True)
class GuardReport:
    hubs_by_type: dict[str, int] = field(default_factory=dict)
    edges_cut_by_reason: dict[str, int] = field(default_factory=dict)
    cuts_vs_truth: dict[str, int] = field(default_factory=dict)
    wrong_pairs_by_cause: dict[str, int] = field(default_factory=dict)


def guard_report(session: Session) -> GuardReport:
    """The guards' work on this warehouse; parts whose tables are missing stay empty."""
    hubs: dict[str, int] = {}
    if session.table_exists("identity", "identity_nodes"):
        df = session.df(
            f"select id_type, count(*) as n from {NODES_TABLE} "
            "where status = 'shared_identifier' group by 1"
        )
        hubs = {str(r.id_type): int(r.n) for r in df.itertuples(index=False)}
    cut: dict[str, int] = {}
    verdicts: dict[str, int] = {}
    if session.table_exists("identity", "identity_audit"):
        df = session.df(
            f"select reason, count(*) as n from {AUDIT_TABLE} where audit_kind = 'edge' group by 1"
        )
        cut = {str(r.reason): int(r.n) for r in df.itertuples(index=False)}
        df = session.df(CUTS_SQL)
        verdicts = {f"{r.reason}:{r.verdict}": int(r.edges) for r in df.itertuples(index=False)}
    causes: dict[str, int] = {}
    if session.table_exists("truth", "identifier_classes"):
        df = session.df(WRONG_PAIRS_SQL)
        causes = {str(r.cause): int(r.pairs) for r in df.itertuples(index=False) if r.pairs}
    return GuardReport(hubs, cut, verdicts, causes)
