"""The accuracy measures on a hand-built warehouse whose every number is worked out below:
raw recall, recall of linkable pairs, and why each true pair is missed."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from identity_dbt import settings_for

from tessera.identity.evaluate import evaluate
from tessera.warehouse import Warehouse

# (id_type, id_value, person_key)
TRUTH = [
    # person 1: user, email and cookie seen together; a loyalty card only ever scanned alone
    ("user_id", "u1", 1),
    ("email", "e1", 1),
    ("anonymous_id", "a1", 1),
    ("loyalty_id", "l1", 1),
    # person 2: two evidence groups no record joins
    ("user_id", "u2", 2),
    ("email", "e2", 2),
    ("email", "e3", 2),
    ("phone", "p3", 2),
    # person 3: linked by the data, split by the resolver
    ("user_id", "u4", 3),
    ("crm_id", "c4", 3),
    # person 4: the email that joined them was dropped as invalid
    ("user_id", "u5", 4),
    ("email", "e5", 4),
    ("device_id", "d5", 4),
    # a household tablet: truth gives it two persons, so it is not scored
    ("device_id", "t1", 1),
    ("device_id", "t1", 2),
]
# each row: an identifier and a member of its evidence group
EVIDENCE = [
    ("user_id", "u1", 1, "user_id", "u1"),
    ("email", "e1", 1, "user_id", "u1"),
    ("anonymous_id", "a1", 1, "user_id", "u1"),
    ("user_id", "u2", 2, "user_id", "u2"),
    ("email", "e2", 2, "user_id", "u2"),
    ("email", "e3", 2, "email", "e3"),
    ("phone", "p3", 2, "email", "e3"),
    ("user_id", "u4", 3, "user_id", "u4"),
    ("crm_id", "c4", 3, "user_id", "u4"),
    ("user_id", "u5", 4, "email", "e5"),
    ("email", "e5", 4, "email", "e5"),
    ("device_id", "d5", 4, "email", "e5"),
]
# (id_type, id_value, person_id or None when not in the graph, node status)
RESOLVED = [
    ("user_id", "u1", "X", "valid"),
    ("email", "e1", "X", "valid"),
    ("anonymous_id", "a1", None, "shared_identifier"),
    ("loyalty_id", "l1", "L", "valid"),
    ("user_id", "u2", "Y", "valid"),
    ("email", "e2", "Y", "valid"),
    ("email", "e3", "Z", "valid"),
    ("phone", "p3", "Z", "valid"),
    ("user_id", "u4", "W1", "valid"),
    ("crm_id", "c4", "W2", "valid"),
    ("user_id", "u5", "U5", "valid"),
    ("email", "e5", None, "invalid_format"),
    ("device_id", "d5", "D5", "valid"),
    ("device_id", "t1", None, "shared_identifier"),
]


def _build(path: Path, with_evidence: bool = True) -> None:
    with duckdb.connect(str(path)) as conn:
        conn.execute("create schema truth; create schema identity")
        conn.execute(
            "create table truth.identifier_person (id_type varchar, id_value varchar, "
            "person_key bigint)"
        )
        conn.executemany("insert into truth.identifier_person values (?, ?, ?)", TRUTH)
        if with_evidence:
            conn.execute(
                "create table truth.identifier_evidence (id_type varchar, id_value varchar, "
                "person_key bigint, linked_id_type varchar, linked_id_value varchar)"
            )
            conn.executemany(
                "insert into truth.identifier_evidence values (?, ?, ?, ?, ?)", EVIDENCE
            )
        conn.execute(
            "create table identity.identity_nodes (id_type varchar, id_value varchar, "
            "status varchar)"
        )
        conn.executemany(
            "insert into identity.identity_nodes values (?, ?, ?)",
            [(t, v, status) for t, v, _, status in RESOLVED],
        )
        conn.execute(
            "create table identity.identity_graph as select id_type, id_value, "
            "id_type || ':' || id_value as node_key, person_id from identity.identity_nodes "
            "join (values "
            + ", ".join(f"('{t}', '{v}', '{p}')" for t, v, p, _ in RESOLVED if p)
            + ") as g(id_type, id_value, person_id) using (id_type, id_value)"
        )
        conn.execute(
            "create table identity.persons as select distinct person_id, "
            "person_id <> 'L' as is_known from identity.identity_graph"
        )


@pytest.fixture
def warehouse(tmp_path: Path) -> Warehouse:
    _build(tmp_path / "wh.duckdb")
    return Warehouse(settings_for(tmp_path / "wh.duckdb"))


def test_raw_recall_counts_every_true_pair(warehouse: Warehouse) -> None:
    result = evaluate(warehouse)
    assert result.identifiers_scored == 13
    assert result.identifiers_shared_in_truth == 1
    assert result.true_pairs == 6 + 6 + 1 + 3
    assert result.predicted_pairs == result.correct_pairs == 3  # X, Y and Z
    assert result.precision == 1.0
    assert result.recall == pytest.approx(3 / 16)


def test_recall_of_linkable_counts_pairs_within_evidence_groups(warehouse: Warehouse) -> None:
    result = evaluate(warehouse)
    # groups {u1 e1 a1} {u2 e2} {e3 p3} {u4 c4} {u5 e5 d5}; l1 has no evidence
    assert result.identifiers_without_evidence == 1
    assert result.linkable_pairs == 3 + 1 + 1 + 1 + 3
    assert result.correct_linkable_pairs == 3
    assert result.recall_of_linkable == pytest.approx(3 / 9)
    assert result.unlinkable_pair_share == pytest.approx(7 / 16)
    assert result.unlinkable_pairs_by_reason == {
        "no_evidence:loyalty_id": 3,  # l1 with u1, e1, a1
        "separate_evidence_groups": 4,  # {e3 p3} x {u2 e2}
    }


def test_missed_linkable_pairs_are_charged_to_the_identifier_that_split_off(
    warehouse: Warehouse,
) -> None:
    result = evaluate(warehouse)
    assert result.missed_linkable_pairs_by_reason == {
        "dropped_shared": 2,  # a1 (capped as shared) misses u1 and e1
        "resolver_split": 1,  # u4 / c4: nothing dropped, still apart
        "dropped_invalid": 2,  # e5 misses u5 and d5
        "cut_off_by_dropped": 1,  # u5 / d5 were joined only through e5
    }
    assert sum(result.missed_linkable_pairs_by_reason.values()) == (
        result.linkable_pairs - result.correct_linkable_pairs
    )
    assert any("recall of linkable" in f for f in result.failures())


def test_a_labelled_sample_without_evidence_is_scored_with_every_pair_linkable(
    tmp_path: Path, warehouse: Warehouse
) -> None:
    """A company's own labelled sample (truth.identifier_person only, no generator evidence)
    was refused: 'truth.identifier_evidence does not exist'."""
    _build(tmp_path / "labelled.duckdb", with_evidence=False)
    result = evaluate(Warehouse(settings_for(tmp_path / "labelled.duckdb")))
    with_evidence = evaluate(warehouse)
    assert not result.evidence_available and with_evidence.evidence_available
    assert result.precision == with_evidence.precision
    assert result.linkable_pairs == result.true_pairs
    assert result.recall_of_linkable == result.recall < with_evidence.recall_of_linkable
    assert result.unlinkable_pair_share == 0.0
