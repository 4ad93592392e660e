"""Accuracy of the identity graph against the generator's ground truth.

Population: the identifiers `truth.identifier_person` gives exactly one person ("scored").
Identifiers it gives several persons (a household's shared tablet) are left out and counted.
Scored identifiers missing from the graph (dropped by a validity rule or a cap) count as
singletons, so dropping costs recall.

Pairwise measures over scored identifiers: a pair is predicted together when both share a
person_id and truly together when both share a person_key.
  precision           correct pairs / predicted pairs
  recall (raw)        correct pairs / all true pairs
  recall_of_linkable  correct linkable pairs / linkable pairs  (the measure with a threshold)

Linkable pairs. Not every true pair is recoverable from the data: a cookie that never logged
in, a loyalty card only ever scanned alone, a newsletter address only the ESP knows appear
in no record with another identifier of their person, and no resolver can link them. The
generator records the evidence (`truth.identifier_evidence`): identifiers of one person that
raw records carry together, chained through records into evidence groups (placeholders and
identifiers of several persons carry none). A true pair is linkable when both identifiers
are in the same evidence group. `unlinkable_pair_share` is the share of true pairs that are
not, split by why (`unlinkable_pairs_by_reason`): an identifier with no evidence at all (by
id type), or a person whose identifiers form several groups no record joins. Without that
table (a company's own labelled sample in `truth.identifier_person`), every true pair counts
as linkable and `evidence_available` is False.

Misses among linkable pairs are attributed to identifiers (`missed_linkable_pairs_by_reason`):
within each evidence group the largest predicted cluster is the reference and every other
identifier is charged the pairs it misses with identifiers in larger clusters, so the
charges sum to linkable pairs - correct linkable pairs. Reasons: the identifier never
reached identity (`not_seen`), was dropped by a validity rule (`dropped_invalid`) or as
shared by a cap (`dropped_shared`), or is in the graph but its group's links ran through a
dropped identifier (`cut_off_by_dropped`); `resolver_split` (in the graph, no dropped
identifier in its group, still split) is charged to `cut_by_rules` when its group holds an
edge a rule cut (identity_audit: recycled, person_limit, weak_join, uncorroborated,
contested), else to `resolver_split`, which would be a bug in the resolver.

What the guards did (hubs found, edges cut, whether truth agrees with each cut, and where the
remaining wrongly joined pairs come from): `tessera.identity.guards`.

Pair counts are n*(n-1)/2 sums over group sizes; no pair is ever materialised. The counting
is in SQL; the evidence groups (connected components of the evidence rows) are computed with
scipy on integer codes, in `tessera.identity.evidence`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from tessera.identity.evidence import (
    GRAPH_TABLE,
    TRUTH_TABLE,
    EvidenceBreakdown,
    evidence_breakdown,
)
from tessera.identity.guards import guard_report
from tessera.warehouse import Session, Warehouse, WarehouseError

PERSONS_TABLE = "identity.persons"


@dataclass(frozen=True)
class Thresholds:
    min_precision: float = 0.999
    min_recall: float = 0.98
    max_cluster_identifiers: int = 1000


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
    identifiers_without_evidence: int
    linkable_pairs: int
    correct_linkable_pairs: int
    recall_of_linkable: float
    unlinkable_pair_share: float
    true_persons: int
    predicted_persons: int
    overmerged_clusters: int
    true_persons_wrongly_joined: int
    most_true_persons_in_a_cluster: int
    anonymous_ids_scored: int
    anonymous_linked_to_known_share: float
    largest_cluster_identifiers: int
    unlinkable_pairs_by_reason: dict[str, int] = field(default_factory=dict)
    missed_linkable_pairs_by_reason: dict[str, int] = field(default_factory=dict)
    hubs_by_type: dict[str, int] = field(default_factory=dict)
    edges_cut_by_reason: dict[str, int] = field(default_factory=dict)
    cuts_vs_truth: dict[str, int] = field(default_factory=dict)
    wrong_pairs_by_cause: dict[str, int] = field(default_factory=dict)
    # False when the warehouse has no truth.identifier_evidence (a company's own labelled
    # sample): every true pair then counts as linkable, so recall of linkable is raw recall
    evidence_available: bool = True

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

    def as_dict(self) -> dict[str, float | int | dict[str, int]]:
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
    (select max(true_persons) from predicted) as most_true_persons_in_a_cluster,
    (select scored from anonymous) as anonymous_ids_scored,
    (select linked from anonymous) as anonymous_linked,
    (select max(n) from (
        select person_id, count(*) as n from {GRAPH_TABLE} group by person_id
    ) sizes) as largest_cluster_identifiers
"""


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else 1.0


def evaluate_session(session: Session) -> IdentityEvaluation:
    required = (
        ("identity", "identity_graph", "`tessera build --select staging identity`"),
        ("identity", "identity_nodes", "`tessera build --select staging identity`"),
        ("identity", "persons", "`tessera build --select staging identity`"),
        ("truth", "identifier_person", "`tessera datagen`"),
    )
    for schema, table, remedy in required:
        if not session.table_exists(schema, table):
            if schema == "truth" and session.table_exists("identity", "identity_graph"):
                # the user's own data: no generator wrote who is who, so nothing to score
                raise WarehouseError(
                    f"{schema}.{table} does not exist: evaluation compares persons with the "
                    "ground truth `tessera datagen` writes beside generated data; for your "
                    "own data, label a sample there (id_type, id_value, person_key: who is "
                    "who), or see `tessera identity stats`, which describes identity on any "
                    "warehouse"
                )
            raise WarehouseError(f"{schema}.{table} does not exist: run {remedy} first")
    row = session.df(EVALUATION_SQL).iloc[0]
    counts = {k: int(v) if v == v and v is not None else 0 for k, v in row.items()}
    precision = _ratio(counts["correct_pairs"], counts["predicted_pairs"])
    recall = _ratio(counts["correct_pairs"], counts["true_pairs"])
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    evidence_available = session.table_exists("truth", "identifier_evidence")
    if evidence_available:
        evidence = evidence_breakdown(session)
    else:  # a labelled sample without the generator's evidence: every true pair is linkable
        evidence = EvidenceBreakdown(
            identifiers_without_evidence=0,
            linkable_pairs=counts["true_pairs"],
            correct_linkable_pairs=counts["correct_pairs"],
            unlinkable_pairs_by_reason={},
            missed_linkable_pairs_by_reason={},
        )
    guards = guard_report(session)
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
        identifiers_without_evidence=evidence.identifiers_without_evidence,
        linkable_pairs=evidence.linkable_pairs,
        correct_linkable_pairs=evidence.correct_linkable_pairs,
        recall_of_linkable=_ratio(evidence.correct_linkable_pairs, evidence.linkable_pairs),
        unlinkable_pair_share=1.0 - _ratio(evidence.linkable_pairs, counts["true_pairs"]),
        true_persons=counts["true_persons"],
        predicted_persons=counts["predicted_persons"],
        overmerged_clusters=counts["overmerged_clusters"],
        true_persons_wrongly_joined=counts["true_persons_wrongly_joined"],
        most_true_persons_in_a_cluster=counts["most_true_persons_in_a_cluster"],
        anonymous_ids_scored=counts["anonymous_ids_scored"],
        anonymous_linked_to_known_share=_ratio(
            counts["anonymous_linked"], counts["anonymous_ids_scored"]
        ),
        largest_cluster_identifiers=counts["largest_cluster_identifiers"],
        unlinkable_pairs_by_reason=evidence.unlinkable_pairs_by_reason,
        missed_linkable_pairs_by_reason=evidence.missed_linkable_pairs_by_reason,
        hubs_by_type=guards.hubs_by_type,
        edges_cut_by_reason=guards.edges_cut_by_reason,
        cuts_vs_truth=guards.cuts_vs_truth,
        wrong_pairs_by_cause=guards.wrong_pairs_by_cause,
        evidence_available=evidence_available,
    )


def evaluate(warehouse: Warehouse) -> IdentityEvaluation:
    with warehouse.session(read_only=warehouse.dialect == "duckdb") as session:
        return evaluate_session(session)
