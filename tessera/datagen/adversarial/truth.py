"""Ground truth of the adversarial mode, collected from the identifiers the records carry.

Every identifier a builder writes onto a record is registered as a `Slot`: its normalised
value (what a correct normaliser reading that record produces), who owns it, and whether the
record determines it. Owners are honest about sharing:

- a person's own identifier (even a typo of it, even a second mailbox form) has that person
  as owner;
- a household's landline, tablet or family email and a company switchboard have no single
  owner (owner 0); they are *declared* for every member, so `truth.identifier_person` lists
  them once per member and the evaluation leaves them out of scoring (several persons);
- placeholders, ad macros, junk values, a store's own phone, a house loyalty card, a kiosk
  or library PC and a bot's cookie belong to nobody: they are not in identifier_person at
  all, only in `truth.identifier_classes` with their class.

A merge through any of them joins different persons' scored identifiers, so precision counts
it as wrong. Evidence (`truth.identifier_evidence`) links only identifiers of one person on
one record, where the record determines them (`resolvable`: a national phone number on a
record without a country does not), so recall never demands a link no record supports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


class Klass(IntEnum):
    PERSON = 0
    HOUSEHOLD = 1
    SWITCHBOARD = 2
    PUBLIC_DEVICE = 3
    PLACEHOLDER = 4
    JUNK = 5
    STORE_PHONE = 6
    HOUSE_CARD = 7
    BOT = 8


# Classes whose members are listed in identifier_person for every person they are declared for.
DECLARED_CLASSES = (Klass.HOUSEHOLD, Klass.SWITCHBOARD)
CLASS_NAMES = {int(k): k.name.lower() for k in Klass}
_MAX_IDS_PER_RECORD = 6


@dataclass
class Slot:
    """One identifier column of a block of records."""

    id_type: str
    value: pa.Array  # normalised value; null where the field holds no identifier
    owner: np.ndarray  # person key, 0 when no single person owns the value
    klass: np.ndarray  # Klass per row
    resolvable: np.ndarray  # the record itself determines the value

    @classmethod
    def of_person(
        cls, id_type: str, value: pa.Array, owner: np.ndarray, resolvable: np.ndarray | bool = True
    ) -> Slot:
        n = len(value)
        return cls(
            id_type,
            value,
            np.asarray(owner, dtype=np.int64),
            np.zeros(n, dtype=np.int8),
            np.broadcast_to(np.asarray(resolvable, dtype=bool), (n,)).copy(),
        )

    def replace(
        self,
        rows: np.ndarray,
        value: pa.Array,
        klass: Klass | np.ndarray,
        owner: np.ndarray | int = 0,
        resolvable: np.ndarray | bool = True,
    ) -> None:
        """Overwrite the rows where `rows` is true (value given for every row)."""
        from tessera.datagen import strings as s

        rows = np.asarray(rows, dtype=bool)
        self.value = s.where(rows, value, self.value)
        self.owner = np.where(rows, owner, self.owner)
        self.klass = np.where(rows, klass, self.klass).astype(np.int8)
        self.resolvable = np.where(rows, resolvable, self.resolvable)


@dataclass
class ChunkTruth:
    """Occurrences of identifiers on the records of one chunk, and declared sharing."""

    parts: list[pa.Table] = field(default_factory=list)
    declared: list[pa.Table] = field(default_factory=list)
    n_records: int = 0

    def new_records(self, n: int) -> np.ndarray:
        """Record numbers for a block of n records (unique within the chunk)."""
        start = self.n_records
        self.n_records += n
        return np.arange(start, start + n, dtype=np.int64)

    def add(self, slot: Slot, records: np.ndarray, load_us: np.ndarray) -> None:
        keep = ~np.asarray(slot.value.is_null(), dtype=bool)
        if not keep.any():
            return
        index = pa.array(np.flatnonzero(keep))
        n = int(keep.sum())
        self.parts.append(
            pa.table(
                {
                    "id_type": pa.array([slot.id_type] * n, pa.string()),
                    "id_value": slot.value.take(index),
                    "owner": pa.array(slot.owner[keep], pa.int64()),
                    "klass": pa.array(slot.klass[keep], pa.int8()),
                    "resolvable": pa.array(slot.resolvable[keep], pa.bool_()),
                    "record": pa.array(np.asarray(records)[keep], pa.int64()),
                    "load_us": pa.array(np.asarray(load_us)[keep], pa.int64()),
                }
            )
        )

    def declare(self, id_type: str, values: pa.Array, persons: np.ndarray, klass: Klass) -> None:
        """`values[i]` belongs to a group that includes person `persons[i]` (no single owner)."""
        keep = ~np.asarray(values.is_null(), dtype=bool)
        if not keep.any():
            return
        index = pa.array(np.flatnonzero(keep))
        n = int(keep.sum())
        self.declared.append(
            pa.table(
                {
                    "id_type": pa.array([id_type] * n, pa.string()),
                    "id_value": values.take(index),
                    "person_key": pa.array(np.asarray(persons)[keep], pa.int64()),
                    "klass": pa.array(np.full(n, int(klass)), pa.int8()),
                }
            )
        )

    def finalise(self, until_us: int) -> dict[str, pa.Table]:
        """Person rows, class rows and evidence edges of the records loaded before until_us."""
        if not self.parts:
            return {"person": _empty_person(), "klass": _empty_class(), "edges": _empty_edges()}
        occ = pa.concat_tables(self.parts)
        occ = occ.filter(pc.less(occ["load_us"], until_us))
        owned = occ.filter(pc.greater(occ["owner"], 0))
        person = (
            owned.select(["id_type", "id_value", "owner"])
            .rename_columns(["id_type", "id_value", "person_key"])
            .group_by(["id_type", "id_value", "person_key"])
            .aggregate([])
        )
        classed = occ.filter(pc.greater(occ["klass"], 0))
        klass = classed.group_by(["id_type", "id_value", "klass"]).aggregate(
            [("record", "count_distinct")]
        )
        klass = klass.rename_columns(["id_type", "id_value", "klass", "records"])
        if self.declared:
            declared = pa.concat_tables(self.declared)
            seen = klass.select(["id_type", "id_value"]).group_by(["id_type", "id_value"])
            seen = seen.aggregate([])
            declared = declared.join(seen, ["id_type", "id_value"], join_type="inner")
            person = (
                pa.concat_tables([person, declared.select(["id_type", "id_value", "person_key"])])
                .group_by(["id_type", "id_value", "person_key"])
                .aggregate([])
            )
        return {"person": person, "klass": klass, "edges": _edges(owned)}


def _edges(owned: pa.Table) -> pa.Table:
    """Pairs of one person's identifiers carried by one record the record determines."""
    owned = owned.filter(owned["resolvable"])
    if owned.num_rows == 0:
        return _empty_edges()
    key = pc.binary_join_element_wise(owned["id_type"], owned["id_value"], "\x1f")
    encoded = key.combine_chunks().dictionary_encode()
    node = np.asarray(encoded.indices, dtype=np.int64)
    record = owned["record"].to_numpy()
    owner = owned["owner"].to_numpy()
    order = np.lexsort((node, owner, record))
    node, record, owner = node[order], record[order], owner[order]
    src, dst, who = [], [], []
    for d in range(1, _MAX_IDS_PER_RECORD):
        same = (record[d:] == record[:-d]) & (owner[d:] == owner[:-d]) & (node[d:] != node[:-d])
        src.append(node[:-d][same])
        dst.append(node[d:][same])
        who.append(owner[d:][same])
    a, b, person = np.concatenate(src), np.concatenate(dst), np.concatenate(who)
    if not len(a):
        return _empty_edges()
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    n_nodes = len(encoded.dictionary)
    _, first = np.unique(lo * n_nodes + hi, return_index=True)
    lo, hi, person = lo[first], hi[first], person[first]
    # node code -> its first row in `owned`, to read the type and value back
    _, at = np.unique(np.asarray(encoded.indices), return_index=True)
    return pa.table(
        {
            "id_type": owned["id_type"].take(pa.array(at[lo])),
            "id_value": owned["id_value"].take(pa.array(at[lo])),
            "person_key": pa.array(person, pa.int64()),
            "linked_id_type": owned["id_type"].take(pa.array(at[hi])),
            "linked_id_value": owned["id_value"].take(pa.array(at[hi])),
        }
    )


def _empty_person() -> pa.Table:
    return pa.table(
        {
            "id_type": pa.array([], pa.string()),
            "id_value": pa.array([], pa.string()),
            "person_key": pa.array([], pa.int64()),
        }
    )


def _empty_class() -> pa.Table:
    return pa.table(
        {
            "id_type": pa.array([], pa.string()),
            "id_value": pa.array([], pa.string()),
            "klass": pa.array([], pa.int8()),
            "records": pa.array([], pa.int64()),
        }
    )


def _empty_edges() -> pa.Table:
    return pa.table(
        {
            "id_type": pa.array([], pa.string()),
            "id_value": pa.array([], pa.string()),
            "person_key": pa.array([], pa.int64()),
            "linked_id_type": pa.array([], pa.string()),
            "linked_id_value": pa.array([], pa.string()),
        }
    )
