"""Survivorship, RFM, lifecycle and consent rules of customer_profiles on hand-written raw rows.

One warehouse holds every case (each case is its own person), built once by a real dbt run with
a fixed as_of so relative traits are deterministic.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from profile_helpers import create_raw_tables, dbt, insert_rows, read_table

AS_OF = datetime(2026, 10, 31)

# lifecycle/RFM cohort: person -> days before as_of of each order (all at midnight), revenue each
ORDER_PLANS: dict[str, tuple[list[int], float]] = {
    "l1": ([30], 500.0),  # first order exactly lifecycle_new_days ago -> new
    "l2": ([31], 100.0),  # one day past new -> active
    "l3": ([90], 100.0),  # last order exactly lifecycle_active_days ago -> active
    "l4": ([91], 100.0),  # one day past active -> at_risk
    "l5": ([365], 100.0),  # exactly lifecycle_churn_days ago -> at_risk
    "l6": ([366], 100.0),  # one day past churn -> churned
    "l7": ([200, 150, 90], 100.0),  # 3 orders, recent -> loyal
    "l8": ([200, 90], 100.0),  # 2 orders, recent -> active, not loyal
    "l9": ([400, 300, 91], 100.0),  # 3 orders, not recent -> at_risk
}


def identify(message_id: str, user_id: str, at: str, **traits: object) -> dict:
    row = {
        "message_id": message_id,
        "type": "identify",
        "anonymous_id": f"anon-{user_id}",
        "user_id": user_id,
        "timestamp": datetime.fromisoformat(at),
        "received_at": datetime.fromisoformat(at),
        "context_channel": "web",
    }
    row.update({f"traits_{key}": value for key, value in traits.items()})
    return row


def consent(
    consent_id: str, subject_type: str, subject: str, purpose: str, status: str, at: str
) -> dict:
    return {
        "consent_id": consent_id,
        "subject_type": subject_type,
        "subject_id": subject,
        "purpose": purpose,
        "status": status,
        "recorded_at": datetime.fromisoformat(at),
        "source": "banner",
    }


def write_cases(warehouse: Path) -> None:
    create_raw_tables(warehouse)
    orders = []
    for person, (days_list, revenue) in ORDER_PLANS.items():
        for n, days in enumerate(days_list):
            at = AS_OF - timedelta(days=days)
            orders.append(
                {
                    "order_id": f"o-{person}-{n}",
                    "customer_email": f"{person}@example.org",
                    "user_id": f"u-{person}",
                    "anonymous_id": f"anon-u-{person}",
                    "ordered_at": at,
                    "status": "completed",
                    "currency": "USD",
                    "total": revenue,
                    "item_count": 1,
                    "shipping_country": "US",
                    "updated_at": at,
                }
            )
    insert_rows(warehouse, "orders", orders)
    insert_rows(
        warehouse,
        "crm_contacts",
        [
            {
                "contact_id": "crm-a",
                "email": "ann@example.org",
                "phone": "(415) 634-0100",
                "first_name": "Ann",
                "last_name": "Crm",
                "is_email_verified": True,
                "created_at": datetime(2026, 1, 1),
                "updated_at": datetime(2026, 5, 1),
            }
        ],
    )
    insert_rows(
        warehouse,
        "events",
        [
            # prospect: seen, never bought
            {**identify("e-l10", "u-l10", "2026-10-01T12:00:00"), "type": "page"},
            # A: verified CRM email beats a more recent web email; CRM name beats a newer web name
            identify(
                "e-a1",
                "u-a",
                "2026-09-01T10:00:00",
                email=" Ann@Example.org ",
                first_name="Annie",
                last_name="Web",
            ),
            identify("e-a2", "u-a", "2026-09-10T10:00:00", email="ann.new@example.org"),
            # B: no verification anywhere: the most recent email, phone and web name win
            identify(
                "e-b1",
                "u-b",
                "2026-03-01T10:00:00",
                email="b.old@example.org",
                phone="415-634-0111",
                first_name="Bob",
                last_name="Old",
            ),
            identify(
                "e-b2",
                "u-b",
                "2026-08-01T10:00:00",
                email="b.new@example.org",
                phone="415-634-0122",
                first_name="Bobby",
                last_name="New",
            ),
            # D: a placeholder email seen later never wins
            identify("e-d1", "u-d", "2026-02-01T10:00:00", email="dana@example.org"),
            identify("e-d2", "u-d", "2026-09-01T10:00:00", email="test@test.com"),
            # consent subjects
            identify(
                "e-c1",
                "u-c1",
                "2026-01-01T10:00:00",
                email="c1@example.org",
                phone="(415) 634-0131",
            ),
            identify("e-c2", "u-c2", "2026-01-01T10:00:00", email="c2@example.org"),
            identify("e-c3", "u-c3", "2026-01-01T10:00:00", email="c3@example.org"),
            # E: an older app sent the login email as the user id, the new one an account id
            identify("e-e1", "Eve@Example.org", "2026-02-01T10:00:00"),
            identify("e-e2", "u-e", "2026-06-01T10:00:00", email="eve@example.org"),
        ],
    )
    insert_rows(
        warehouse,
        "consents",
        [
            # C1: email granted via the email, later revoked via the user id -> false;
            #     sms granted via the phone (another format) -> true; ads never recorded -> false
            consent(
                "k-c1-1", "email", " C1@example.org", "email", "granted", "2026-01-05T00:00:00"
            ),
            consent("k-c1-2", "user_id", "u-c1", "email", "revoked", "2026-03-01T00:00:00"),
            consent("k-c1-3", "phone", "415.634.0131", "sms", "granted", "2026-02-01T00:00:00"),
            # C2: revoked then granted -> true; ads granted and revoked at the same instant -> false
            consent("k-c2-1", "email", "c2@example.org", "email", "revoked", "2026-01-01T00:00:00"),
            consent("k-c2-2", "user_id", "u-c2", "email", "granted", "2026-04-01T00:00:00"),
            consent("k-c2-3", "email", "c2@example.org", "ads", "granted", "2026-05-01T10:00:00"),
            consent("k-c2-4", "user_id", "u-c2", "ads", "revoked", "2026-05-01T10:00:00"),
            # E's consent recorded by the older app, under its user id
            consent("k-e-1", "user_id", "Eve@Example.org", "email", "granted", "2026-03-01"),
            # a placeholder subject belongs to nobody (D saw test@test.com on a record)
            consent("k-x-1", "email", "test@test.com", "email", "granted", "2026-10-01T00:00:00"),
        ],
    )


@pytest.fixture(scope="module")
def profiles(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    base = tmp_path_factory.mktemp("profile_rules")
    warehouse = base / "warehouse.duckdb"
    write_cases(warehouse)
    dbt(
        warehouse,
        base / "dbt_target",
        ["run", "--select", "+customer_profiles"],
        vars={"as_of": AS_OF.isoformat(sep=" ")},
    )
    frame = read_table(warehouse, "profiles.customer_profiles")
    return frame.set_index("user_id", drop=False)


def person(profiles: pd.DataFrame, user_id: str) -> pd.Series:
    assert user_id in profiles.index, f"no profile with user_id {user_id}"
    return profiles.loc[user_id]


def test_one_row_per_person(profiles: pd.DataFrame) -> None:
    assert profiles["person_id"].is_unique
    expected = {f"u-{p}" for p in ORDER_PLANS} | {
        "u-l10",
        "u-a",
        "u-b",
        "u-d",
        "u-c1",
        "u-c2",
        "u-c3",
    }
    assert expected <= set(profiles["user_id"].dropna())


def test_verified_crm_email_and_crm_name_win_over_newer_web_values(profiles) -> None:
    ann = person(profiles, "u-a")
    assert ann["email"] == "ann@example.org"
    assert bool(ann["email_is_verified"])
    assert (ann["first_name"], ann["last_name"], ann["name_source"]) == ("Ann", "Crm", "crm")
    assert ann["phone"] == "+14156340100"
    assert ann["crm_id"] == "crm-a"
    assert ann["emails_count"] == 2


def test_most_recent_values_win_without_verification(profiles) -> None:
    bob = person(profiles, "u-b")
    assert bob["email"] == "b.new@example.org"
    assert not bool(bob["email_is_verified"])
    assert bob["phone"] == "+14156340122"
    assert (bob["first_name"], bob["last_name"], bob["name_source"]) == ("Bobby", "New", "web")
    assert (bob["emails_count"], bob["phones_count"]) == (2, 2)


def test_placeholder_email_never_wins(profiles) -> None:
    dana = person(profiles, "u-d")
    assert dana["email"] == "dana@example.org"
    assert dana["emails_count"] == 1


@pytest.mark.parametrize(
    ("user_id", "stage"),
    [
        ("u-l1", "new"),
        ("u-l2", "active"),
        ("u-l3", "active"),
        ("u-l4", "at_risk"),
        ("u-l5", "at_risk"),
        ("u-l6", "churned"),
        ("u-l7", "loyal"),
        ("u-l8", "active"),
        ("u-l9", "at_risk"),
        ("u-l10", "prospect"),
    ],
)
def test_lifecycle_boundaries(profiles, user_id: str, stage: str) -> None:
    assert person(profiles, user_id)["lifecycle_stage"] == stage


def test_days_since_last_order_counts_calendar_days(profiles) -> None:
    for key, (days_list, _) in ORDER_PLANS.items():
        row = person(profiles, f"u-{key}")
        assert row["days_since_last_order"] == min(days_list), key
        assert row["orders_count"] == len(days_list), key
    assert pd.isna(person(profiles, "u-l10")["days_since_last_order"])


def test_rfm_quintiles_and_segments(profiles) -> None:
    # 9 buyers. Cut points (percentile_cont among buyers): days since last order 66.4, 90,
    # 90.8, 200.6; orders 1, 1, 1, 2.4; revenue 100, 100, 180, 300. A score is 1 + the cut
    # points a value is beyond (recency: below), so equal values share a score.
    expected = {
        #        R  F  M  segment
        "u-l1": (5, 1, 5, "new_customers"),
        "u-l2": (5, 1, 1, "new_customers"),
        "u-l3": (3, 1, 1, "about_to_sleep"),
        "u-l4": (2, 1, 1, "hibernating"),
        "u-l5": (1, 1, 1, "hibernating"),
        "u-l6": (1, 1, 1, "hibernating"),
        "u-l7": (3, 5, 4, "loyal_customers"),
        "u-l8": (3, 4, 4, "loyal_customers"),
        "u-l9": (2, 5, 4, "cant_lose_them"),
    }
    for user_id, (r, f, m, segment) in expected.items():
        row = person(profiles, user_id)
        got = (
            row["rfm_recency_score"],
            row["rfm_frequency_score"],
            row["rfm_monetary_score"],
            row["rfm_segment"],
        )
        assert got == (r, f, m, segment), user_id
        assert row["rfm_score"] == r + f + m
    buyers = profiles[profiles["orders_count"] > 0]
    assert sorted(buyers["rfm_recency_score"].value_counts().tolist()) == [2, 2, 2, 3]
    prospects = profiles[profiles["orders_count"] == 0]
    assert (prospects["rfm_segment"] == "prospect").all()
    assert prospects["rfm_recency_score"].isna().all()
    assert prospects["clv_quintile"].isna().all()


def test_rfm_scores_match_percentiles_computed_outside_the_warehouse(profiles) -> None:
    buyers = profiles[profiles["orders_count"] > 0]

    def scores(values: pd.Series, higher_is_better: bool) -> list[int]:
        cuts = np.percentile(values.astype(float), [20, 40, 60, 80])  # linear = percentile_cont
        beyond = (lambda v: (v > cuts).sum()) if higher_is_better else (lambda v: (v < cuts).sum())
        return [1 + int(beyond(v)) for v in values.astype(float)]

    assert buyers["rfm_recency_score"].tolist() == scores(buyers["days_since_last_order"], False)
    assert buyers["rfm_frequency_score"].tolist() == scores(buyers["orders_count"], True)
    assert buyers["rfm_monetary_score"].tolist() == scores(buyers["revenue_total"], True)


def test_clv_quintile_orders_buyers_by_clv_estimate(profiles) -> None:
    buyers = profiles[profiles["orders_count"] > 0].sort_values("clv_estimate")
    quintiles = buyers["clv_quintile"].tolist()
    assert quintiles == sorted(quintiles)  # never a lower quintile for a higher estimate
    assert quintiles[0] == 1 and quintiles[-1] == 5


def test_aov_and_revenue(profiles) -> None:
    l7 = person(profiles, "u-l7")
    assert l7["revenue_total"] == pytest.approx(300.0)
    assert l7["aov"] == pytest.approx(100.0)
    assert l7["country"] == "US"
    assert l7["clv_estimate"] >= l7["revenue_total"]


@pytest.mark.parametrize(
    ("user_id", "email", "sms", "ads"),
    [
        ("u-c1", False, True, False),
        ("u-c2", True, False, False),
        ("u-c3", False, False, False),
        ("u-d", False, False, False),
    ],
)
def test_consent_latest_record_per_purpose_wins(profiles, user_id, email, sms, ads) -> None:
    row = person(profiles, user_id)
    got = (bool(row["consent_email"]), bool(row["consent_sms"]), bool(row["consent_ads"]))
    assert got == (email, sms, ads)


def test_a_user_id_that_is_an_email_is_the_account_holders_alias(profiles) -> None:
    # one profile under the account id, with the consent the older app recorded
    assert "Eve@Example.org" not in profiles.index
    row = person(profiles, "u-e")
    assert row["email"] == "eve@example.org"
    assert bool(row["consent_email"])
