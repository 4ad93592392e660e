"""What every table builder of one chunk shares: randomness, time window, ids, ground truth."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from tessera.datagen import strings as s
from tessera.datagen.calendar import Calendar
from tessera.datagen.reference import Catalog


@dataclass(frozen=True)
class Sequence:
    """A sequential record id: prefix + (base + n). Sequences never reuse a number."""

    table: str
    column: str
    prefix: str
    base: int

    def format(self, numbers: np.ndarray) -> pa.Array:
        return s.concat(self.prefix, s.ints(self.base + numbers))

    def next_number_sql(self) -> str:
        """SQL giving the next free n in an existing raw table (for appends)."""
        digits = f"substr({self.column}, {len(self.prefix) + 1})"
        return (
            f"select coalesce(max(cast({digits} as bigint)) - {self.base} + 1, 0) "
            f"from raw.{self.table}"
        )


SEQUENCES: dict[str, Sequence] = {
    "order": Sequence("orders", "order_id", "", 1_000_000),
    "return": Sequence("returns", "return_id", "RMA-", 100_000),
    "ticket": Sequence("support_tickets", "ticket_id", "", 500_000),
    "pos": Sequence("pos_purchases", "transaction_id", "POS-", 10_000_000),
    "consent": Sequence("consents", "consent_id", "cns_", 1),
}


@dataclass
class IdAllocator:
    next_number: dict[str, int] = field(default_factory=dict)

    def take(self, name: str, n: int) -> pa.Array:
        start = self.next_number.get(name, 0)
        self.next_number[name] = start + n
        return SEQUENCES[name].format(np.arange(start, start + n, dtype=np.int64))


@dataclass
class TruthCollector:
    """(id_type, canonical id_value, person_key) triples seen in the generated raw rows, and
    which of them appear on one record together.

    Built from the rows themselves, so every listed identifier appears in some raw table
    and every real identifier in a raw table is listed. A table builder opens a block of
    records with `records(n)` before it renders identifiers onto its n rows; `add` then
    says on which of those rows each identifier lands (all n rows by default), which is what
    `evidence()` needs to know which identifiers a source record carries together.
    """

    parts: list[pa.Table] = field(default_factory=list)
    _block_start: int = 0
    _block_size: int | None = None

    def records(self, n: int) -> None:
        """Start a new block of `n` source records (the rows of the table being built)."""
        self._block_start += self._block_size or 0
        self._block_size = n

    def add(
        self,
        id_type: str,
        values: pa.Array,
        person_keys: np.ndarray,
        keep: np.ndarray,
        rows: np.ndarray | None = None,
    ) -> None:
        """`values[i]` (of person `person_keys[i]`) is on row `rows[i]` of the open block."""
        if self._block_size is None:
            raise RuntimeError("TruthCollector.add before records(n): open a record block")
        rows = np.arange(len(values)) if rows is None else np.asarray(rows, dtype=np.int64)
        if len(rows) != len(values) or (len(rows) and rows.max() >= self._block_size):
            raise ValueError(
                f"{id_type}: {len(values)} values on rows up to "
                f"{rows.max() if len(rows) else -1}, but the record block has "
                f"{self._block_size} rows"
            )
        keep = np.asarray(keep, dtype=bool) & ~np.asarray(values.is_null(), dtype=bool)
        if not keep.any():
            return
        kept = np.flatnonzero(keep)
        index = pa.array(kept)
        self.parts.append(
            pa.table(
                {
                    "id_type": pa.array([id_type] * len(kept), pa.string()),
                    "id_value": values.take(index),
                    "person_key": pa.array(np.asarray(person_keys, dtype=np.int64)).take(index),
                    "record": pa.array(self._block_start + rows[kept], pa.int64()),
                }
            )
        )

    def table(self) -> pa.Table:
        """truth.identifier_person: distinct (id_type, id_value, person_key)."""
        if not self.parts:
            return _empty_identifier_person()
        combined = pa.concat_tables(self.parts).drop_columns(["record"])
        distinct = combined.group_by(["id_type", "id_value", "person_key"]).aggregate([])
        return distinct.sort_by(
            [("person_key", "ascending"), ("id_type", "ascending"), ("id_value", "ascending")]
        )

    def evidence(self) -> pa.Table:
        """truth.identifier_evidence: identifiers the records link to another of their person.

        Nodes are identifiers of exactly one person in this chunk (a household's shared
        tablet is evidence for nobody). A record links the nodes it carries; each connected
        group of a person's nodes is listed with its first-seen member as `linked_*`.
        """
        if not self.parts:
            return _empty_evidence()
        combined = pa.concat_tables(self.parts)
        node_key = pc.binary_join_element_wise(combined["id_type"], combined["id_value"], "\x1f")
        encoded = node_key.combine_chunks().dictionary_encode()
        node = np.asarray(encoded.indices, dtype=np.int64)
        n_nodes = len(encoded.dictionary)
        person = np.asarray(combined["person_key"], dtype=np.int64)
        record = np.asarray(combined["record"], dtype=np.int64)

        span = int(person.max() - person.min()) + 1
        node_person = np.unique(node * span + (person - person.min()))
        persons_per_node = np.bincount(node_person // span, minlength=n_nodes)
        usable = persons_per_node[node] == 1
        node, record = node[usable], record[usable]

        order = np.lexsort((node, record))
        node, record = node[order], record[order]
        starts = np.flatnonzero(np.r_[True, record[1:] != record[:-1]])
        anchor = np.repeat(node[starts], np.diff(np.r_[starts, len(node)]))
        linked = anchor != node
        src, dst = anchor[linked], node[linked]
        if not len(src):
            return _empty_evidence()
        graph = coo_matrix((np.ones(len(src), np.int8), (src, dst)), shape=(n_nodes, n_nodes))
        _, label = connected_components(graph, directed=False)
        in_edges = np.zeros(n_nodes, dtype=bool)
        in_edges[src] = in_edges[dst] = True
        members = np.flatnonzero(in_edges)
        root = np.full(label.max() + 1, n_nodes, dtype=np.int64)
        np.minimum.at(root, label[members], members)  # lowest code = first seen in the chunk

        _, first = np.unique(np.asarray(encoded.indices, dtype=np.int64), return_index=True)
        take = pa.array(first[members])
        take_root = pa.array(first[root[label[members]]])
        result = pa.table(
            {
                "id_type": combined["id_type"].take(take),
                "id_value": combined["id_value"].take(take),
                "person_key": combined["person_key"].take(take),
                "linked_id_type": combined["id_type"].take(take_root),
                "linked_id_value": combined["id_value"].take(take_root),
            }
        )
        return result.sort_by(
            [("person_key", "ascending"), ("id_type", "ascending"), ("id_value", "ascending")]
        )


def _empty_identifier_person() -> pa.Table:
    return pa.table(
        {
            "id_type": pa.array([], pa.string()),
            "id_value": pa.array([], pa.string()),
            "person_key": pa.array([], pa.int64()),
        }
    )


def _empty_evidence() -> pa.Table:
    return pa.table(
        {
            "id_type": pa.array([], pa.string()),
            "id_value": pa.array([], pa.string()),
            "person_key": pa.array([], pa.int64()),
            "linked_id_type": pa.array([], pa.string()),
            "linked_id_value": pa.array([], pa.string()),
        }
    )


@dataclass
class ChunkContext:
    rng: np.random.Generator
    seed: int
    calendar: Calendar
    window_start: int  # activity is simulated in [window_start, window_end)
    window_end: int
    catalog: Catalog
    ids: IdAllocator
    # Visits are also simulated this long before window_start, so late events from then
    # arrive within the window (appends); zero for a fresh history.
    lookback_us: int = 0
    truth: TruthCollector = field(default_factory=TruthCollector)
