"""The evidence half of identity evaluation: which true pairs the data can link at all.

Given a warehouse with the identity graph and the generator's ground truth, it numbers the
scored identifiers, joins them into evidence groups (connected components, with scipy, of
the `truth.identifier_evidence` rows), and counts linkable pairs, the linkable pairs the
graph got right, why the other true pairs cannot be linked, and to which reason each missed
linkable pair is charged. `tessera.identity.evaluate` combines this with the pairwise
measures; its docstring defines the terms.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from tessera.warehouse import Session

GRAPH_TABLE = "identity.identity_graph"
NODES_TABLE = "identity.identity_nodes"
TRUTH_TABLE = "truth.identifier_person"
EVIDENCE_TABLE = "truth.identifier_evidence"
INVALID_STATUSES = ("placeholder", "blocked_value", "invalid_format")


# One row per scored identifier, integers only (strings stay in the warehouse): a dense node
# index, the true person, the predicted cluster (-1 when not in the graph) and its status.
SCORED_NODES_SQL = f"""
with
truth as (
    select id_type, id_value, min(person_key) as person_key
    from {TRUTH_TABLE}
    group by id_type, id_value
    having count(distinct person_key) = 1
)
select
    dense_rank() over (order by t.id_type, t.id_value) - 1 as node,
    t.person_key,
    t.id_type,
    case
        when g.person_id is null then -1
        else dense_rank() over (order by g.person_id) - 1
    end as cluster,
    coalesce(n.status, 'not_seen') as status,
    c.node_key is not null as on_cut_edge
from truth t
left join {GRAPH_TABLE} g on g.id_type = t.id_type and g.id_value = t.id_value
left join {NODES_TABLE} n on n.id_type = t.id_type and n.id_value = t.id_value
left join ({{cut_nodes}}) c on c.node_key = t.id_type || ':' || t.id_value
order by node
"""

# Identifiers at either end of an edge a rule cut (recycled, person limits): a missed pair in
# their evidence group is charged to the rules, not to the resolver.
CUT_NODES_SQL = """
select id_type || ':' || id_value as node_key from identity.identity_audit
where audit_kind = 'edge' and reason <> 'edge_to_shared_identifier'
union
select linked_id_type || ':' || linked_id_value from identity.identity_audit
where audit_kind = 'edge' and reason <> 'edge_to_shared_identifier'
"""
NO_CUT_NODES_SQL = "select cast(null as varchar) as node_key where 1 = 0"

# Evidence rows as pairs of node indexes (same numbering as SCORED_NODES_SQL).
EVIDENCE_EDGES_SQL = f"""
with
truth as (
    select id_type, id_value
    from {TRUTH_TABLE}
    group by id_type, id_value
    having count(distinct person_key) = 1
),
nodes as (
    select id_type, id_value, dense_rank() over (order by id_type, id_value) - 1 as node
    from truth
)
select a.node as src, b.node as dst
from {EVIDENCE_TABLE} e
join nodes a on a.id_type = e.id_type and a.id_value = e.id_value
join nodes b on b.id_type = e.linked_id_type and b.id_value = e.linked_id_value
"""


@dataclass(frozen=True)
class EvidenceBreakdown:
    identifiers_without_evidence: int
    linkable_pairs: int
    correct_linkable_pairs: int
    unlinkable_pairs_by_reason: dict[str, int]
    missed_linkable_pairs_by_reason: dict[str, int]


def _pairs(sizes: np.ndarray) -> int:
    sizes = sizes.astype(np.int64)
    return int((sizes * (sizes - 1) // 2).sum())


def _charges(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """Per element: how many elements of its `outer` group lie in larger `inner` cells.

    Cells (outer, inner) are ranked by size within their outer group (ties by inner label,
    so labels given to identifiers missing from the graph, numbered after every real
    cluster, rank last); each element is charged the members of the cells ranked before its
    own, so the charges sum to the pairs of the outer groups that the inner labels split.
    """
    cells = pd.DataFrame({"outer": outer, "inner": inner})
    sizes = cells.groupby(["outer", "inner"], sort=False).size().rename("n").reset_index()
    sizes = sizes.sort_values(["outer", "n", "inner"], ascending=[True, False, True])
    before = sizes.groupby("outer").n.cumsum() - sizes.n
    charge = pd.Series(before.to_numpy(), index=pd.MultiIndex.from_frame(sizes[["outer", "inner"]]))
    return charge.reindex(pd.MultiIndex.from_arrays([outer, inner])).to_numpy()


def evidence_breakdown(session: Session) -> EvidenceBreakdown:
    """Linkable pairs, and why true pairs are missed (see `tessera.identity.evaluate`)."""
    cut_nodes = (
        CUT_NODES_SQL if session.table_exists("identity", "identity_audit") else NO_CUT_NODES_SQL
    )
    nodes = session.df(SCORED_NODES_SQL.replace("{cut_nodes}", cut_nodes)).sort_values(
        "node", ignore_index=True
    )
    edges = session.df(EVIDENCE_EDGES_SQL)
    n = len(nodes)
    if n == 0:
        return EvidenceBreakdown(0, 0, 0, {}, {})
    src, dst = edges.src.to_numpy(np.int64), edges.dst.to_numpy(np.int64)
    graph = coo_matrix((np.ones(len(src), np.int8), (src, dst)), shape=(n, n))
    _, group = connected_components(graph, directed=False)
    has_evidence = np.zeros(n, dtype=bool)
    has_evidence[src] = has_evidence[dst] = True
    # identifiers without evidence are groups of one: give each a label of its own
    group = np.where(has_evidence, group, group.max(initial=0) + 1 + np.arange(n))

    person = nodes.person_key.to_numpy(np.int64)
    cluster = nodes.cluster.to_numpy(np.int64)
    cluster = np.where(cluster >= 0, cluster, cluster.max(initial=0) + 1 + np.arange(n))
    status = nodes.status.to_numpy()
    id_type = nodes.id_type.to_numpy()

    linkable = _pairs(np.unique(group, return_counts=True)[1])
    cell_sizes = pd.Series(1, index=pd.MultiIndex.from_arrays([group, cluster])).groupby(
        level=[0, 1]
    )
    correct_linkable = _pairs(cell_sizes.size().to_numpy())

    # True pairs the data cannot link: each identifier is charged the members of larger
    # evidence groups of its person.
    unlinkable_charge = _charges(person, group)
    unlinkable_reason = np.where(
        has_evidence, "separate_evidence_groups", "no_evidence:" + id_type.astype(object)
    )
    unlinkable = pd.Series(unlinkable_charge).groupby(unlinkable_reason).sum()

    dropped = status != "valid"
    group_has_dropped = pd.Series(dropped).groupby(group).transform("any").to_numpy()
    cut = nodes.on_cut_edge.to_numpy(dtype=bool)
    group_has_cut = pd.Series(cut).groupby(group).transform("any").to_numpy()
    missed_reason = np.select(
        [
            status == "not_seen",
            np.isin(status, INVALID_STATUSES),
            status == "shared_identifier",
            group_has_dropped,
            group_has_cut,
        ],
        ["not_seen", "dropped_invalid", "dropped_shared", "cut_off_by_dropped", "cut_by_rules"],
        "resolver_split",
    )
    missed = pd.Series(_charges(group, cluster)).groupby(missed_reason).sum()
    return EvidenceBreakdown(
        identifiers_without_evidence=int((~has_evidence).sum()),
        linkable_pairs=linkable,
        correct_linkable_pairs=correct_linkable,
        unlinkable_pairs_by_reason={k: int(v) for k, v in unlinkable.items() if v},
        missed_linkable_pairs_by_reason={k: int(v) for k, v in missed.items() if v},
    )
