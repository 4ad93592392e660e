"""ml_features is incremental by cutoff: each run recomputes the scoring cutoff and adds new
cutoffs, keeps built training cutoffs until a full refresh, and drops cutoffs no longer wanted.

A late order dated before a training cutoff arrives between runs: the incremental run must
show it at the scoring cutoff but not at the kept training cutoff, and the full refresh must
then show it at both (so each assertion can fail).
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest

from tests.profiles.profile_helpers import (
    assert_same_rows,
    dbt,
    generate_year,
    insert_rows,
    read_table,
)

TRAINING = date(2026, 9, 1)
KEYS = ["person_id", "cutoff_date"]


def cutoff_vars(as_of: str) -> dict:
    return {"as_of": as_of, "feature_cutoffs": ["2026-08-01", TRAINING.isoformat()]}


def features(warehouse: Path) -> pd.DataFrame:
    frame = read_table(warehouse, "features.ml_features", order_by="person_id, cutoff_date")
    frame["cutoff_date"] = pd.to_datetime(frame["cutoff_date"]).dt.date
    return frame


def at(frame: pd.DataFrame, cutoff: date) -> pd.DataFrame:
    return frame[frame["cutoff_date"] == cutoff].reset_index(drop=True)


def a_buyer(warehouse: Path) -> dict:
    """A person known by email with an order before the training cutoff."""
    rows = read_table(
        warehouse,
        "(select o.person_id, o.email, o.user_id from profiles.int_orders_persons o "
        f"where o.email is not null and o.ordered_at < date '{TRAINING}' "
        "and o.person_id is not null) as o",
        order_by="person_id limit 1",
    )
    return rows.iloc[0].to_dict()


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    base = tmp_path_factory.mktemp("ml_features_incremental")
    warehouse = generate_year(base, persons=800, seed=21)
    target = base / "dbt_target"
    select = ["run", "--select", "+ml_features"]
    dbt(warehouse, target, select, vars=cutoff_vars("2026-11-01"))
    first = features(warehouse)
    buyer = a_buyer(warehouse)
    late_order = datetime(2026, 8, 20, 12)  # before the training cutoff, loaded late
    insert_rows(
        warehouse,
        "orders",
        [
            {
                "order_id": "late-order",
                "customer_email": buyer["email"],
                "user_id": buyer["user_id"],
                "ordered_at": late_order,
                "status": "completed",
                "currency": "USD",
                "total": 500.0,
                "item_count": 1,
                "updated_at": datetime(2026, 11, 1, 9),
            }
        ],
    )
    dbt(warehouse, target, select, vars=cutoff_vars("2026-11-02"))
    incremental = features(warehouse)
    dbt(warehouse, target, [*select, "--full-refresh"], vars=cutoff_vars("2026-11-02"))
    full = features(warehouse)
    return {"first": first, "incremental": incremental, "full": full, "buyer": buyer}


def orders_of(frame: pd.DataFrame, person: str) -> int:
    return int(frame.loc[frame["person_id"] == person, "frequency_orders"].iloc[0])


def test_cutoffs_follow_the_scoring_date(runs) -> None:
    assert set(runs["first"]["cutoff_date"]) == {date(2026, 8, 1), TRAINING, date(2026, 11, 1)}
    # yesterday's scoring cutoff is gone, today's is there
    assert set(runs["incremental"]["cutoff_date"]) == {
        date(2026, 8, 1),
        TRAINING,
        date(2026, 11, 2),
    }


def test_the_scoring_cutoff_equals_a_full_rebuild(runs) -> None:
    scoring = date(2026, 11, 2)
    assert_same_rows(at(runs["incremental"], scoring), at(runs["full"], scoring), KEYS)
    person = runs["buyer"]["person_id"]
    before = orders_of(at(runs["first"], date(2026, 11, 1)), person)
    assert orders_of(at(runs["incremental"], scoring), person) == before + 1


def test_built_training_cutoffs_are_kept_until_a_full_refresh(runs) -> None:
    person = runs["buyer"]["person_id"]
    kept = at(runs["incremental"], TRAINING)
    assert_same_rows(at(runs["first"], TRAINING), kept, KEYS)
    assert orders_of(at(runs["full"], TRAINING), person) == orders_of(kept, person) + 1
