"""Each starter segment holds exactly the persons its definition names.

The fixture is a fixed set of profiles and scores built from every combination of the values
each segment's filter reads, with the boundaries (exactly 24 hours, exactly 30 days, decile 8,
quintile 4 vs 5, a score of another model) and NULLs. The expected members are computed here in
Python from each segment's documented definition, independently of its SQL; the segments are
built with the real dbt CLI and compared row for row. Widening or narrowing any filter (say,
lapsed VIPs taking active and new customers too) changes a membership and fails a test.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pandas as pd
import pytest

from tessera.dbt import run_dbt
from tessera.settings import Settings
from tessera.warehouse import Warehouse

AS_OF = datetime(2026, 11, 22, 12, 0, 0)
DAY, HOUR = timedelta(days=1), timedelta(hours=1)
SECOND = timedelta(seconds=1)


@dataclass
class Person:
    person_id: str = ""
    lifecycle_stage: str | None = "active"
    rfm_segment: str | None = "champions"
    clv_quintile: int | None = 3
    orders_count: int | None = 2
    days_since_last_order: int | None = 200
    last_order_at: datetime | None = AS_OF - 200 * DAY
    last_abandoned_cart_at: datetime | None = None
    last_email_engaged_at: datetime | None = None
    # model -> decile (1-10, 10 the most likely); no entry: the person has no score
    deciles: dict[str, int] = field(default_factory=dict)


# -- expected membership, from each segment's definition (its YAML description) -------------


def cart_abandoners(p: Person) -> bool:
    """Added to cart in the last 24 hours before the build and have not bought since."""
    cart = p.last_abandoned_cart_at
    return (
        cart is not None
        and cart >= AS_OF - 24 * HOUR
        and (p.last_order_at is None or p.last_order_at < cart)
    )


def email_engaged_non_buyers(p: Person) -> bool:
    """Engaged with an email in the last 30 days before the build but have never bought."""
    engaged = p.last_email_engaged_at
    return engaged is not None and engaged >= AS_OF - 30 * DAY and not p.orders_count


def high_value_churn_risk(p: Person) -> bool:
    """Top CLV quintile whose churn_90d score is in decile 8 or above."""
    return p.clv_quintile == 5 and p.deciles.get("churn_90d", 0) >= 8


def lapsed_vips(p: Person) -> bool:
    """Top CLV quintile or RFM cant_lose_them, whose lifecycle stage is at_risk or churned."""
    high_value = p.clv_quintile == 5 or p.rfm_segment == "cant_lose_them"
    return high_value and p.lifecycle_stage in ("at_risk", "churned")


def likely_buyers_30d(p: Person) -> bool:
    """The top two deciles of the purchase_30d model."""
    return p.deciles.get("purchase_30d", 0) >= 9


def new_customers_onboarding(p: Person) -> bool:
    """Lifecycle stage new."""
    return p.lifecycle_stage == "new"


def recent_buyers_suppression(p: Person) -> bool:
    """Bought in the last 30 days."""
    return p.days_since_last_order is not None and p.days_since_last_order <= 30


DEFINITIONS: dict[str, Callable[[Person], bool]] = {
    f.__name__: f
    for f in (
        cart_abandoners,
        email_engaged_non_buyers,
        high_value_churn_risk,
        lapsed_vips,
        likely_buyers_30d,
        new_customers_onboarding,
        recent_buyers_suppression,
    )
}

# -- the fixture: every combination of what the filters read --------------------------------

LIFECYCLE = [None, "prospect", "new", "active", "loyal", "at_risk", "churned"]
RFM = [None, "champions", "loyal_customers", "cant_lose_them", "at_risk", "hibernating"]
QUINTILES = [None, 1, 2, 3, 4, 5]


def fixture_persons() -> list[Person]:
    people: list[Person] = []
    # value tiers x lifecycle: lapsed VIPs, onboarding
    for stage, rfm, quintile in itertools.product(LIFECYCLE, RFM, QUINTILES):
        people.append(Person(lifecycle_stage=stage, rfm_segment=rfm, clv_quintile=quintile))
    # recency of the last order: recent buyers (no order at all, and around 30 days)
    for days in (None, 0, 1, 29, 30, 31, 90, 400):
        people.append(
            Person(
                days_since_last_order=days,
                last_order_at=None if days is None else AS_OF - days * DAY,
                orders_count=0 if days is None else 1,
            )
        )
    # carts around 24 hours, and orders before, at and after the cart
    cart_ages = (None, HOUR, 24 * HOUR - 60 * SECOND, 24 * HOUR, 24 * HOUR + SECOND, 3 * DAY)
    order_vs_cart = (None, -HOUR, timedelta(0), 60 * SECOND)
    for age, order in itertools.product(cart_ages, order_vs_cart):
        cart = None if age is None else AS_OF - age
        ordered = None if order is None or cart is None else cart + order
        people.append(
            Person(
                last_abandoned_cart_at=cart,
                last_order_at=ordered,
                orders_count=0 if ordered is None else 1,
                days_since_last_order=None if ordered is None else (AS_OF - ordered).days,
            )
        )
    # email engagement around 30 days, with no, zero, one or several orders
    engaged_ages = (None, DAY, 29 * DAY, 30 * DAY, 30 * DAY + SECOND, 90 * DAY)
    for age, orders in itertools.product(engaged_ages, (None, 0, 1, 3)):
        people.append(
            Person(
                last_email_engaged_at=None if age is None else AS_OF - age,
                orders_count=orders,
                last_order_at=None if not orders else AS_OF - 100 * DAY,
                days_since_last_order=None if not orders else 100,
            )
        )
    # scores: value tier x churn decile (none, low, boundary, high); purchase deciles; and a
    # high decile of one model must not count for the other model's segment
    for quintile, churn in itertools.product(QUINTILES, (None, 1, 7, 8, 9, 10)):
        deciles = {"purchase_30d": 10} if churn is None else {"churn_90d": churn}
        people.append(Person(clv_quintile=quintile, deciles=deciles))
    for purchase in (None, 1, 8, 9, 10):
        deciles = {"churn_90d": 10, "next_best_offer": 10}
        if purchase is not None:
            deciles["purchase_30d"] = purchase
        people.append(Person(clv_quintile=5, deciles=deciles))
    return [dataclasses.replace(p, person_id=f"p{i:04d}") for i, p in enumerate(people)]


def profiles_frame(people: list[Person]) -> pd.DataFrame:
    rows = []
    for i, p in enumerate(people):
        rows.append(
            {
                "person_id": p.person_id,
                "is_known": True,
                "email": f"{p.person_id}@example.com",
                "phone": f"+1415555{i:04d}",
                "first_name": f"First{i}",
                "last_name": f"Last{i}",
                "country": ("US", "GB", "DE")[i % 3],
                "orders_count": p.orders_count,
                "revenue_total": float(p.orders_count or 0) * 40.0,
                "last_order_at": p.last_order_at,
                "days_since_last_order": p.days_since_last_order,
                "lifecycle_stage": p.lifecycle_stage,
                "rfm_segment": p.rfm_segment,
                "clv_quintile": p.clv_quintile,
                "consent_email": i % 2 == 0,
                "consent_sms": i % 3 == 0,
                "consent_ads": i % 4 == 0,
                "as_of": AS_OF,
                "last_abandoned_cart_at": p.last_abandoned_cart_at,
                "last_email_engaged_at": p.last_email_engaged_at,
            }
        )
    frame = pd.DataFrame(rows)
    for column in ("orders_count", "days_since_last_order", "clv_quintile"):
        frame[column] = frame[column].astype("Int64")
    for column in ("last_order_at", "last_abandoned_cart_at", "last_email_engaged_at"):
        frame[column] = pd.to_datetime(frame[column])
    return frame


def scores_frame(people: list[Person]) -> pd.DataFrame:
    rows = [
        {
            "person_id": p.person_id,
            "model": model,
            "model_version": "v1",
            "score": decile / 10 - 0.05,
            "decile": decile,
            "scored_at": AS_OF - HOUR,
            "reason_1": "recency",
            "reason_2": "frequency",
            "reason_3": "monetary",
        }
        for p in people
        for model, decile in p.deciles.items()
    ]
    return pd.DataFrame(rows)


# -- build the starter segments on the fixture with dbt, once -------------------------------


@pytest.fixture(scope="module")
def people() -> list[Person]:
    return fixture_persons()


@pytest.fixture(scope="module")
def built(people: list[Person], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    directory = tmp_path_factory.mktemp("starter_membership")
    settings = dataclasses.replace(
        Settings.from_env({}),
        warehouse_path=directory / "wh.duckdb",
        artifacts_dir=directory / "artifacts",
    )
    warehouse = Warehouse(settings)
    with warehouse.session() as session:
        session.write_df(profiles_frame(people), "profiles", "customer_profiles", mode="create")
        session.write_df(scores_frame(people), "ml", "person_scores", mode="create")
    run_dbt(
        settings,
        [
            "build",
            "--select",
            *sorted(DEFINITIONS),
            "--target-path",
            str(directory / "target"),
            "--log-path",
            str(directory / "logs"),
        ],
        stream=False,
    )
    yield warehouse


def members(warehouse: Warehouse, segment: str) -> set[str]:
    with warehouse.session(read_only=True) as session:
        frame = session.df(f"select person_id from segments.{segment}")
    return set(frame["person_id"])


def test_the_fixture_separates_every_segment(people: list[Person]) -> None:
    """Each segment has members and near misses in the fixture, so a changed filter shows."""
    for name, definition in DEFINITIONS.items():
        inside = sum(definition(p) for p in people)
        assert 0 < inside < len(people) / 2, (name, inside)


@pytest.mark.parametrize("segment", sorted(DEFINITIONS))
def test_starter_segment_holds_exactly_its_defined_members(
    built: Warehouse, people: list[Person], segment: str
) -> None:
    expected = {p.person_id for p in people if DEFINITIONS[segment](p)}
    actual = members(built, segment)
    by_id = {p.person_id: p for p in people}
    unexpected = sorted(actual - expected)
    missing = sorted(expected - actual)
    assert not unexpected and not missing, (
        f"{segment}: {len(unexpected)} unexpected, e.g. {[by_id[i] for i in unexpected[:3]]}; "
        f"{len(missing)} missing, e.g. {[by_id[i] for i in missing[:3]]}"
    )
