"""Outcomes with a known uplift, so the measured lift can be checked against the truth.

The generator's uplift knob for experiments: after a sync has run, every person assigned to
an experiment buys in the window after assignment with probability `base_rate`, plus
`uplift` (absolute) when the sync really sent them (their key is in the sync's state table,
`tessera_sync.state_<sync>`). The purchases are appended to `raw.orders` under an identifier
identity already resolves to the person, so they reach the lift through the same staging,
identity and experiments models as real orders. The truth (the expected difference in
conversion rate between the arms, i.e. `uplift` times the share of the treatment arm that was
sent) is written to `truth.experiment_effects`, which no model reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pandas as pd

from tessera.warehouse import Session, Warehouse

ID_COLUMNS = {  # identity id type -> raw.orders column, in the order an order would carry them
    "email": "customer_email",
    "user_id": "user_id",
    "phone": "customer_phone",
    "anonymous_id": "anonymous_id",
}
TRUTH_TABLE = ("truth", "experiment_effects")


@dataclass(frozen=True)
class SimulatedEffect:
    experiment: str
    uplift: float  # absolute increase of the purchase probability for a person who was sent
    base_rate: float = 0.2


@dataclass(frozen=True)
class SimulatedTruth:
    experiment: str
    uplift: float
    base_rate: float
    treatment_persons: int
    sent_persons: int
    holdout_persons: int
    orders: int
    true_difference: float  # expected conversion-rate difference, treatment - holdout
    true_lift: float  # the same, relative to the base rate
    measure_until: pd.Timestamp  # every window has closed by then


class SimulationError(ValueError):
    """The experiment cannot be simulated (unknown, not built, nobody assigned)."""


def simulate_outcomes(
    warehouse: Warehouse, effects: list[SimulatedEffect], seed: int = 18
) -> list[SimulatedTruth]:
    rng = np.random.default_rng(seed)
    truths = []
    with warehouse.session() as session:
        for effect in effects:
            truths.append(_simulate_one(session, effect, rng))
        session.write_df(pd.DataFrame([t.__dict__ for t in truths]), *TRUTH_TABLE, mode="replace")
    return truths


def _simulate_one(
    session: Session, effect: SimulatedEffect, rng: np.random.Generator
) -> SimulatedTruth:
    p = "?" if session.dialect == "duckdb" else "%s"
    assigned = session.df(
        "select a.person_id, a.is_holdout, a.assigned_at, r.window_days "
        "from experiments.assignments a "
        "join (select distinct experiment, window_days from experiments.experiment_arms) r "
        f"on r.experiment = a.experiment where a.experiment = {p} order by a.person_id",
        [effect.experiment],
    )
    if assigned.empty:
        raise SimulationError(f"experiment {effect.experiment!r} has no assigned persons")
    syncs = session.df(
        f"select sync_name from experiments.experiment_syncs where experiment = {p}",
        [effect.experiment],
    ).iloc[:, 0]
    sent: set[str] = set()
    for sync in syncs:
        if session.table_exists("tessera_sync", f"state_{sync}"):
            sent |= set(session.df(f"select key from tessera_sync.state_{sync}").iloc[:, 0])
    assigned["sent"] = ~assigned.is_holdout & assigned.person_id.isin(sent)
    identifiers = _identifiers(session, list(assigned.person_id))

    rate = effect.base_rate + effect.uplift * assigned.sent.astype(float)
    buys = rng.random(len(assigned)) < rate.clip(0, 1)
    offsets = rng.random(len(assigned))
    totals = np.round(rng.lognormal(mean=4.0, sigma=0.5, size=len(assigned)), 2)
    rows = []
    for i, person in enumerate(assigned.itertuples(index=False)):
        if not buys[i] or person.person_id not in identifiers:
            continue
        id_type, value = identifiers[person.person_id]
        window = timedelta(days=int(person.window_days))
        ordered_at = pd.Timestamp(person.assigned_at) + window * (0.02 + 0.96 * offsets[i])
        row = dict.fromkeys(ID_COLUMNS.values())
        row[ID_COLUMNS[id_type]] = value
        rows.append(
            {
                "order_id": f"sim-{effect.experiment}-{i:06d}",
                **row,
                "ordered_at": ordered_at,
                "status": "completed",
                "currency": "USD",
                "subtotal": float(totals[i]),
                "discount": 0.0,
                "shipping": 0.0,
                "total": float(totals[i]),
                "item_count": 1,
                "updated_at": ordered_at,
            }
        )
    # a second simulation replaces the first one's orders instead of adding to them
    session.execute(f"delete from raw.orders where order_id like 'sim-{effect.experiment}-%'")
    if rows:
        session.write_df(pd.DataFrame(rows), "raw", "orders", mode="append")
    treatment = int((~assigned.is_holdout).sum())
    sent_persons = int(assigned.sent.sum())
    true_difference = effect.uplift * sent_persons / treatment if treatment else 0.0
    window_end = pd.Timestamp(assigned.assigned_at.max()) + timedelta(
        days=int(assigned.window_days.max()) + 1
    )
    return SimulatedTruth(
        experiment=effect.experiment,
        uplift=effect.uplift,
        base_rate=effect.base_rate,
        treatment_persons=treatment,
        sent_persons=sent_persons,
        holdout_persons=int(assigned.is_holdout.sum()),
        orders=len(rows),
        true_difference=true_difference,
        true_lift=true_difference / effect.base_rate,
        measure_until=window_end,
    )


def _identifiers(session: Session, persons: list[str]) -> dict[str, tuple[str, str]]:
    """One identifier per person that identity resolves to them, the strongest first."""
    frame = session.df(
        "select person_id, id_type, id_value from identity.identity_graph "
        f"where id_type in ({', '.join(repr(t) for t in ID_COLUMNS)})"
    )
    frame = frame[frame.person_id.isin(set(persons))]
    rank = {t: i for i, t in enumerate(ID_COLUMNS)}
    frame = frame.assign(rank=frame.id_type.map(rank)).sort_values(
        ["person_id", "rank", "id_value"]
    )
    first = frame.drop_duplicates("person_id")
    return {
        p: (t, v) for p, t, v in first[["person_id", "id_type", "id_value"]].itertuples(index=False)
    }
