"""Accuracy of the identity graph against the generator's ground truth, computed in SQL.

Pairwise metrics over identifiers: a pair of identifiers is predicted together when they
share a person_id and truly together when they share a person_key. Pair counts come from
n*(n-1)/2 sums over cluster sizes (and over the (person_id, person_key) cross tabulation for
the true positives), so no pair is ever materialised.

Scored identifiers are those the truth gives exactly one person. Truth identifiers missing
from the graph (dropped, or never linked) count as singletons, so dropping costs recall.
Identifiers the truth gives several persons (shared devices) are excluded and counted.

Not every true pair is recoverable: a loyalty card only ever scanned alone, or a cookie that
never logged in, carries no evidence linking it to its person. `linkable_pairs` counts the
true pairs an oracle could join from the records themselves (identifiers of one true person
that are connected through records carrying them together, whatever their validity), and
`recall_of_linkable` = correct_pairs / linkable_pairs separates resolution losses from gaps
in the data. That oracle needs connected components per person: the co-occurrence edges are
read from the warehouse and solved with scipy.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from tessera.warehouse import Session, Warehouse, WarehouseError

GRAPH_TABLE = "identity.identity_graph"
PERSONS_TABLE = "identity.persons"
TRUTH_TABLE = "truth.identifier_person"
RECORDS_TABLE = "identity.identity_records"
ID_TYPES = ("user_id", "crm_id", "email", "phone", "loyalty_id", "device_id", "anonymous_id")


@dataclass(frozen=True)
class Thresholds:
    min_precision: float = 0.999
    min_recall: float = 0.98
    max_cluster_identifiers: int = 200


@dataclass(frozen=True)
class IdentityEvaluation:
    identifiers_scored: int
    identifiers_missing_from_graph: int
    identifiers_shared_in_truth: int
    true_pairs: int
    predicted_pairs: int
    correct_pairs: int
    precision: float
    recall: float
    f1: float
    linkable_pairs: int
    recall_of_linkable: float
    true_persons: int
    predicted_persons: int
    overmerged_clusters: int
    true_persons_wrongly_joined: int
    anonymous_ids_scored: int
    anonymous_linked_to_known_share: float
    largest_cluster_identifiers: int

    def failures(self, thresholds: Thresholds = Thresholds()) -> list[str]:
        """Thresholds this evaluation misses, each as a sentence; empty when all pass."""
        problems = []
        if self.precision < thresholds.min_precision:
            problems.append(f"precision {self.precision:.4f} < {thresholds.min_precision}")
        if self.recall_of_linkable < thresholds.min_recall:
            problems.append(
                f"recall of linkable pairs {self.recall_of_linkable:.4f} < {thresholds.min_recall}"
            )
        if self.largest_cluster_identifiers > thresholds.max_cluster_identifiers:
            problems.append(
                f"largest cluster has {self.largest_cluster_identifiers} identifiers "
                f"(> {thresholds.max_cluster_identifiers}): a runaway merge"
            )
        return problems

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


EVALUATION_SQL = f"""
with
truth_counts as (
    select id_type, id_value, min(person_key) as person_key,
        count(distinct person_key) as persons
    from {TRUTH_TABLE}
    group by id_type, id_value
),
truth as (
    select id_type, id_value, person_key from truth_counts where persons = 1
),
graph as (
    select id_type, id_value, person_id from {GRAPH_TABLE}
),
scored as (
    select
        t.id_type,
        t.person_key,
        coalesce(g.person_id, 'missing:' || t.id_type || ':' || t.id_value) as person_id,
        case when g.person_id is null then 1 else 0 end as is_missing
    from truth t
    left join graph g on g.id_type = t.id_type and g.id_value = t.id_value
),
cells as (
    select person_id, person_key, count(*) as n from scored group by person_id, person_key
),
predicted as (
    select person_id, count(*) as n, count(distinct person_key) as true_persons
    from scored group by person_id
),
actual as (
    select person_key, count(*) as n from scored group by person_key
),
wrongly_joined as (
    select count(distinct c.person_key) as persons
    from cells c join predicted p on p.person_id = c.person_id
    where p.true_persons > 1
),
known_persons as (
    select person_id from {PERSONS_TABLE} where is_known
),
anonymous as (
    select
        count(*) as scored,
        sum(case when k.person_id is not null then 1 else 0 end) as linked
    from scored s
    left join known_persons k on k.person_id = s.person_id
    where s.id_type = 'anonymous_id'
)
select
    (select count(*) from scored) as identifiers_scored,
    (select sum(is_missing) from scored) as identifiers_missing_from_graph,
    (select count(*) from truth_counts where persons > 1) as identifiers_shared_in_truth,
    (select sum(n * (n - 1) / 2) from actual) as true_pairs,
    (select sum(n * (n - 1) / 2) from predicted) as predicted_pairs,
    (select sum(n * (n - 1) / 2) from cells) as correct_pairs,
    (select count(*) from actual) as true_persons,
    (select count(*) from predicted) as predicted_persons,
    (select count(*) from predicted where true_persons > 1) as overmerged_clusters,
    (select persons from wrongly_joined) as true_persons_wrongly_joined,
    (select scored from anonymous) as anonymous_ids_scored,
    (select linked from anonymous) as anonymous_linked,
    (select max(n) from (
        select person_id, count(*) as n from {GRAPH_TABLE} group by person_id
    ) sizes) as largest_cluster_identifiers
"""


LINKABLE_EDGES_SQL = f"""
with
truth as (
    select id_type, id_value, min(person_key) as person_key
    from {TRUTH_TABLE}
    group by id_type, id_value
    having count(distinct person_key) = 1
),
occurrences as (
    {
    " union all ".join(
        f"select record_key, '{t}' as id_type, {t} as id_value from {RECORDS_TABLE} "
        f"where {t} is not null"
        for t in ID_TYPES
    )
}
),
owned as (
    select o.record_key, t.person_key, o.id_type || ':' || o.id_value as node_key
    from occurrences o
    join truth t on t.id_type = o.id_type and t.id_value = o.id_value
),
anchors as (
    select record_key, person_key, min(node_key) as anchor_key
    from owned
    group by record_key, person_key
)
select distinct a.anchor_key as src, o.node_key as dst
from owned o
join anchors a on a.record_key = o.record_key and a.person_key = o.person_key
where o.node_key <> a.anchor_key
"""


def linkable_pairs(session: Session) -> int:
    """True pairs joined through records that carry identifiers of one person together.

    Within one true person, identifiers that never appear in a record with another of that
    person's identifiers are singletons; the rest form components whose pairs an oracle
    resolver could find. Edges never cross persons, so components are per person.
    """
    edges = session.df(LINKABLE_EDGES_SQL)
    if edges.empty:
        return 0
    codes, keys = pd.factorize(pd.concat([edges.src, edges.dst], ignore_index=True))
    n = len(edges)
    graph = coo_matrix((np.ones(n, dtype=np.int8), (codes[:n], codes[n:])), (len(keys),) * 2)
    _, labels = connected_components(graph, directed=False)
    sizes = np.bincount(labels).astype(np.int64)
    return int((sizes * (sizes - 1) // 2).sum())


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else 1.0


def evaluate_session(session: Session) -> IdentityEvaluation:
    required = (
        ("identity", "identity_graph"),
        ("identity", "persons"),
        ("identity", "identity_records"),
        ("truth", "identifier_person"),
    )
    for schema, table in required:
        if not session.table_exists(schema, table):
            raise WarehouseError(
                f"{schema}.{table} does not exist: run `tessera datagen` (ground truth) and "
                "`tessera build --select staging identity` (identity graph) first"
            )
    row = session.df(EVALUATION_SQL).iloc[0]
    counts = {k: int(v) if v == v and v is not None else 0 for k, v in row.items()}
    precision = _ratio(counts["correct_pairs"], counts["predicted_pairs"])
    recall = _ratio(counts["correct_pairs"], counts["true_pairs"])
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    linkable = linkable_pairs(session)
    return IdentityEvaluation(
        identifiers_scored=counts["identifiers_scored"],
        identifiers_missing_from_graph=counts["identifiers_missing_from_graph"],
        identifiers_shared_in_truth=counts["identifiers_shared_in_truth"],
        true_pairs=counts["true_pairs"],
        predicted_pairs=counts["predicted_pairs"],
        correct_pairs=counts["correct_pairs"],
        precision=precision,
        recall=recall,
        f1=f1,
        linkable_pairs=linkable,
        recall_of_linkable=_ratio(counts["correct_pairs"], linkable),
        true_persons=counts["true_persons"],
        predicted_persons=counts["predicted_persons"],
        overmerged_clusters=counts["overmerged_clusters"],
        true_persons_wrongly_joined=counts["true_persons_wrongly_joined"],
        anonymous_ids_scored=counts["anonymous_ids_scored"],
        anonymous_linked_to_known_share=_ratio(
            counts["anonymous_linked"], counts["anonymous_ids_scored"]
        ),
        largest_cluster_identifiers=counts["largest_cluster_identifiers"],
    )


def evaluate(warehouse: Warehouse) -> IdentityEvaluation:
    with warehouse.session(read_only=warehouse.dialect == "duckdb") as session:
        return evaluate_session(session)
