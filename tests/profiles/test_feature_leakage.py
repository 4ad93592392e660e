"""Point-in-time features use only rows strictly before each cutoff; cutoffs come from the data.

Records dated on and after a cutoff are added for one person; every feature row at that cutoff
and earlier must stay identical, while a later cutoff must see them (so the check can fail).
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from profile_helpers import assert_same_rows, dbt, generate_year, insert_rows, read_table

CUTOFF = date(2026, 9, 1)
VARS = {
    "as_of": "2026-11-01",
    "feature_cutoffs": ["2026-08-01", "2026-09-01", "2026-10-01"],
}
FEATURE_MODELS = ["+ml_features", "+ml_labels"]
KEYS = ["person_id", "cutoff_date"]


def features(warehouse: Path) -> pd.DataFrame:
    return read_table(warehouse, "features.ml_features", order_by="person_id, cutoff_date")


def pick_buyer(warehouse: Path) -> dict:
    """A person with a user_id, an email, an order before July and none since."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        row = con.execute(
            "select o.user_id, o.email, o.order_id, o.person_id "
            "from profiles.int_orders_persons o "
            "where o.user_id is not null and o.email is not null and o.ordered_at < ? "
            "and o.person_id in (select person_id from identity.identity_graph "
            "  where id_type = 'email' and id_value = o.email) "
            "and o.person_id not in (select person_id from profiles.int_orders_persons "
            "  where ordered_at >= ? and person_id is not null) "
            "order by o.ordered_at desc, o.order_id limit 1",
            [datetime(2026, 7, 1), datetime(2026, 7, 1)],
        ).fetchone()
    return dict(zip(["user_id", "email", "order_id", "person_id"], row, strict=True))


def future_records(warehouse: Path, buyer: dict) -> None:
    at_cutoff = datetime.combine(CUTOFF, datetime.min.time())
    later = datetime(2026, 9, 15, 12)
    insert_rows(
        warehouse,
        "orders",
        [
            {
                "order_id": f"future-{n}",
                "customer_email": buyer["email"],
                "user_id": buyer["user_id"],
                "ordered_at": at,
                "status": "completed",
                "currency": "USD",
                "total": 999.0,
                "item_count": 1,
                "shipping_country": "ZZ",
                "updated_at": at,
            }
            for n, at in enumerate([at_cutoff, later])
        ],
    )
    insert_rows(
        warehouse,
        "order_items",
        [
            {
                "order_id": "future-0",
                "line_number": 1,
                "product_id": "p-future",
                "category": "future_category",
                "quantity": 1,
                "unit_price": 999.0,
                "ordered_at": at_cutoff,
            },
        ],
    )
    insert_rows(
        warehouse,
        "returns",
        [
            {
                "return_id": "future-return",
                "order_id": buyer["order_id"],
                "returned_at": later,
                "amount": 10.0,
                "reason": "changed_mind",
            },
        ],
    )
    insert_rows(
        warehouse,
        "events",
        [
            {
                "message_id": f"future-e{n}",
                "type": type_,
                "event": event,
                "user_id": buyer["user_id"],
                "anonymous_id": None,
                "timestamp": at,
                "received_at": at,
                "context_channel": "ios",
            }
            for n, (type_, event, at) in enumerate(
                [
                    ("page", None, at_cutoff),
                    ("track", "Product Added", at_cutoff),
                    ("track", "Product Viewed", later),
                ]
            )
        ],
    )
    insert_rows(
        warehouse,
        "email_events",
        [
            {
                "event_id": "future-open",
                "email": buyer["email"],
                "campaign_id": "c",
                "event_type": "open",
                "occurred_at": at_cutoff,
            },
        ],
    )
    insert_rows(
        warehouse,
        "support_tickets",
        [
            {
                "ticket_id": "future-ticket",
                "requester_email": buyer["email"],
                "channel": "email",
                "status": "open",
                "sentiment": "negative",
                "created_at": later,
                "updated_at": later,
            },
        ],
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict:
    base = tmp_path_factory.mktemp("feature_leakage")
    warehouse = generate_year(base, persons=1500, seed=13)
    target = base / "dbt_target"
    dbt(warehouse, target, ["run", "--select", *FEATURE_MODELS, "int_orders_persons"])
    default_cutoffs = read_table(warehouse, "features.int_feature_cutoffs", order_by="cutoff_date")
    dbt(warehouse, target, ["run", "--select", *FEATURE_MODELS], vars=VARS)
    before = features(warehouse)
    buyer = pick_buyer(warehouse)
    future_records(warehouse, buyer)
    # a full refresh: ml_features keeps built training cutoffs on incremental runs
    # (tests/features/test_ml_features_incremental.py)
    dbt(warehouse, target, ["run", "--select", *FEATURE_MODELS, "--full-refresh"], vars=VARS)
    return {
        "warehouse": warehouse,
        "default_cutoffs": default_cutoffs,
        "before": before,
        "after": features(warehouse),
        "buyer": buyer,
    }


def test_features_at_and_before_the_cutoff_ignore_later_records(built) -> None:
    before, after = built["before"], built["after"]
    cutoff = pd.Timestamp(CUTOFF)
    early_before = before[pd.to_datetime(before["cutoff_date"]) <= cutoff]
    early_after = after[pd.to_datetime(after["cutoff_date"]) <= cutoff]
    assert built["buyer"]["person_id"] in set(early_before["person_id"])
    assert_same_rows(early_before, early_after, KEYS)


def test_a_later_cutoff_sees_the_new_records(built) -> None:
    before, after = built["before"], built["after"]
    person = built["buyer"]["person_id"]

    def row(frame: pd.DataFrame) -> pd.Series:
        match = frame[
            (frame["person_id"] == person)
            & (pd.to_datetime(frame["cutoff_date"]) == pd.Timestamp(2026, 10, 1))
        ]
        assert len(match) == 1
        return match.iloc[0]

    old, new = row(before), row(after)
    assert new["frequency_orders"] == old["frequency_orders"] + 2
    assert new["tickets_180d"] == old["tickets_180d"] + 1
    assert new["returns_365d"] == old["returns_365d"] + 1
    assert new["email_opens_90d"] == old["email_opens_90d"] + 1
    assert new["country"] == "ZZ"


def test_labels_see_the_future(built) -> None:
    labels = read_table(built["warehouse"], "features.ml_labels", order_by="person_id, cutoff_date")
    person = built["buyer"]["person_id"]
    row = labels[
        (labels["person_id"] == person)
        & (pd.to_datetime(labels["cutoff_date"]) == pd.Timestamp(CUTOFF))
    ]
    assert row["purchase_30d"].tolist() == [1]
    assert set(labels["purchase_30d"].unique()) <= {0, 1}
    assert set(pd.to_datetime(labels["cutoff_date"]).dt.date) == {
        date(2026, 8, 1),
        date(2026, 9, 1),
        date(2026, 10, 1),
    }


def test_default_cutoffs_are_complete_month_starts(built) -> None:
    # per label horizon of the default tasks (30 and 90 days; fallback 30): the latest month
    # start whose window is complete (validation) and the 8 before it whose window ends by it
    # (training), after the first record (2025-11-01): 30 -> October + February..September,
    # 90 -> August + December 2025..May 2026
    cutoffs = built["default_cutoffs"]
    scoring = cutoffs[cutoffs["is_scoring_cutoff"]]
    assert pd.to_datetime(scoring["cutoff_date"]).dt.date.tolist() == [date(2026, 11, 1)]
    training = cutoffs[~cutoffs["is_scoring_cutoff"]]
    days = pd.to_datetime(training["cutoff_date"]).dt.date
    assert days.tolist() == [date(2025, 12, 1)] + [date(2026, m, 1) for m in range(1, 11)]
    assert training["observed_days"].tolist() == [(date(2026, 11, 1) - d).days for d in days]
    assert training["has_history"].all()
    assert (pd.to_datetime(training["first_record_date"]).dt.date < days.min()).all()
    assert scoring["observed_days"].tolist() == [0]
