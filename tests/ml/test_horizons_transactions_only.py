"""A transactions-only warehouse (raw.orders and nothing else, like a public purchase data
set): purchase tasks of 30, 90 and 273 days all train and score, say how, and use nothing
from after their as-of date.

Customers are drawn from BG/NBD with known parameters (a quarter's cohort, as in CDNOW), with
orders for 15 months. Features are built as of 2025-10-01, nine months after the first order:
a 273-day window cannot be labelled there, so that task learns 30-day windows and maps them
to 273 days. Then every order after the as-of date is deleted and everything rebuilt: scores
and BTYD traits must come out identical. Training and scoring go through `tessera ml train`
and `tessera ml score` (with `--as-of` for an earlier date), as a user runs them.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from ml import btyd
from ml.btyd_simulation import simulate
from tessera.warehouse import Warehouse
from tests.ml.horizons import (
    assert_frames_equal,
    build_features,
    cli_train_and_score,
    fast_config_file,
    printed_about,
    project_with_tasks,
    settings_for,
)
from tests.profiles.profile_helpers import create_raw_tables

pytestmark = pytest.mark.slow

START = date(2025, 1, 1)
AS_OF = date(2025, 10, 1)
EARLIER = date(2025, 9, 1)  # `--as-of`: a month before the features' as-of date
END = date(2026, 4, 1)
CUSTOMERS = 1500


def load_orders(warehouse: Path, transactions: pd.DataFrame) -> None:
    create_raw_tables(warehouse)
    at = [
        datetime.combine(START, datetime.min.time()) + timedelta(days=d)
        for d in transactions["day"]
    ]
    orders = pd.DataFrame(
        {
            "order_id": [f"o{i}" for i in range(len(transactions))],
            "user_id": [f"c{c:05d}" for c in transactions["customer"]],
            "ordered_at": at,
            "status": "completed",
            "currency": "USD",
            "subtotal": transactions["value"],
            "total": transactions["value"],
            "item_count": 1,
            "updated_at": at,
        }
    )
    with duckdb.connect(str(warehouse)) as con:
        con.register("incoming", orders)
        columns = ", ".join(orders.columns)
        con.execute(f"insert into raw.orders ({columns}) select {columns} from incoming")


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    base = tmp_path_factory.mktemp("horizons_transactions_only")
    project = project_with_tasks(base)
    rng = np.random.default_rng(3)
    simulated = simulate(
        btyd.BGNBDParams(r=0.6, alpha=40.0, a=0.7, b=2.5),
        btyd.GammaGammaParams(p=6.0, q=4.0, v=15.0),
        CUSTOMERS,
        rng.uniform(0, 90, CUSTOMERS),
        end_day=(END - START).days,
        seed=4,
    )
    results = {"config_file": fast_config_file(base)}
    for run in ("all_data", "truncated"):
        directory = base / run
        directory.mkdir()
        warehouse = directory / "warehouse.duckdb"
        transactions = simulated.transactions
        if run == "truncated":
            transactions = transactions[transactions["day"] < (AS_OF - START).days]
        load_orders(warehouse, transactions)
        settings = settings_for(directory, project, warehouse)
        build_features(settings, AS_OF, directory / "target")
        results[run] = cli_train_and_score(settings, results["config_file"])
        results[f"{run}_settings"] = settings
    return results


def buyers_before(runs: dict, day: date) -> int:
    """Customers with an order before `day`: on orders alone, every person is one."""
    with duckdb.connect(str(runs["all_data_settings"].warehouse_path), read_only=True) as con:
        return con.execute(
            "select count(distinct user_id) from raw.orders where ordered_at < ?", [day]
        ).fetchone()[0]


def test_every_horizon_trains_and_scores_every_buyer(runs) -> None:
    result = runs["all_data"]
    scores = result["scores"]
    assert set(scores["model"]) == {"purchase_30d", "purchase_90d", "purchase_273d"}
    buyers = buyers_before(runs, AS_OF)
    for model, rows in scores.groupby("model"):
        assert len(rows) == rows["person_id"].nunique() == buyers > 1000, model
        assert (pd.to_datetime(rows["feature_cutoff_date"]).dt.date == AS_OF).all()
        assert rows["score"].between(0, 1).all() and rows["score"].nunique() > 100


def test_the_long_horizon_says_how(runs) -> None:
    run = runs["all_data"]
    trained = run["trained"]
    plan_273 = "\n".join(trained["purchase_273d"].manifest["plan"])
    assert trained["purchase_273d"].manifest["label_horizon_days"] == 30
    assert "273-day label cannot be used" in plan_273
    assert "history: 2025-01-01 to 2025-10-01 (273 days" in plan_273
    mapping = trained["purchase_273d"].manifest["horizon_mapping"]
    assert mapping["method"] == "bgnbd_logit" and mapping["slope"] > 0
    # the CLI says it when training and when scoring
    said_training = printed_about(run["train_output"], "purchase_273d")
    assert "purchase_273d: label: 30-day window (task horizon 273 days)" in said_training
    assert "purchase_273d: how: the 273-day label cannot be used" in said_training
    assert "30-day probabilities mapped to 273 days by BG/NBD" in said_training
    said_scoring = printed_about(run["score_output"], "purchase_273d")
    assert f"at cutoff {AS_OF}" in said_scoring
    assert "how: 30-day probabilities mapped to 273 days by BG/NBD" in said_scoring
    # the shorter horizons label their own windows, and say so
    for model, days in (("purchase_30d", 30), ("purchase_90d", 90)):
        assert trained[model].manifest["label_horizon_days"] == days
        assert trained[model].manifest["horizon_mapping"] is None
        assert (
            f"{model}: label: {days}-day window\n"
            in printed_about(run["train_output"], model) + "\n"
        )
        assert "how:" not in printed_about(run["score_output"], model)


def test_longer_horizons_give_higher_probabilities(runs) -> None:
    scores = runs["all_data"]["scores"].pivot(index="person_id", columns="model", values="score")
    assert scores["purchase_90d"].mean() > scores["purchase_30d"].mean()
    assert scores["purchase_273d"].mean() > scores["purchase_90d"].mean()


def test_nothing_after_the_as_of_date_is_used(runs) -> None:
    full, truncated = runs["all_data"], runs["truncated"]
    assert_frames_equal(full["scores"], truncated["scores"])
    assert_frames_equal(full["lifetime_values"], truncated["lifetime_values"])
    for model in full["trained"]:
        assert (
            full["trained"][model].evaluation["model"]["roc_auc"]
            == truncated["trained"][model].evaluation["model"]["roc_auc"]
        )


def test_lifetime_values_cover_every_buyer(runs) -> None:
    values = runs["all_data"]["lifetime_values"]
    assert values["person_id"].is_unique and len(values) == buyers_before(runs, AS_OF) > 1000
    assert values["p_alive"].between(0, 1).all()
    assert (values["expected_purchases_273d"] >= values["expected_purchases_90d"]).all()
    assert (values["predicted_clv_365d"] > 0).all()


def test_as_of_an_earlier_date_uses_nothing_after_it(runs) -> None:
    """`ml train --as-of` and `ml score --as-of` a month earlier: on all the data, and on a
    warehouse holding only the orders before that date, every task comes out the same."""
    from ml.as_of import current_scoring_cutoff
    from ml.config import MLConfig

    full, cut = runs["all_data_settings"], runs["truncated_settings"]
    with Warehouse(full).session(read_only=True) as session:
        profiles_as_of = session.scalar("select as_of from profiles.profile_as_of")
    # the truncated warehouse loses its orders from EARLIER on and is rebuilt from raw
    with duckdb.connect(str(cut.warehouse_path)) as con:
        con.execute("delete from raw.orders where ordered_at >= ?", [EARLIER])
    build_features(cut, EARLIER, cut.warehouse_path.parent / "target_earlier")
    as_of = ("--as-of", EARLIER.isoformat())
    earlier = {}
    for name, settings in (("full", full), ("cut", cut)):
        earlier[name] = cli_train_and_score(settings, runs["config_file"], *as_of)
        config = MLConfig.load(runs["config_file"], settings.dbt_project_dir)
        assert current_scoring_cutoff(settings, config) == EARLIER
    assert (
        "rebuilding the feature and label tables as of 2025-09-01"
        in (earlier["full"]["train_output"])
    )
    assert "feature tables are already as of 2025-09-01" in earlier["full"]["score_output"]
    scores = earlier["full"]["scores"]
    assert set(scores["model"]) == {"purchase_30d", "purchase_90d", "purchase_273d"}
    assert (pd.to_datetime(scores["feature_cutoff_date"]).dt.date == EARLIER).all()
    assert (scores.groupby("model").size() == buyers_before(runs, EARLIER)).all()
    assert "mapped to 273 days" in printed_about(earlier["full"]["score_output"], "purchase_273d")
    assert_frames_equal(earlier["full"]["scores"], earlier["cut"]["scores"])
    assert_frames_equal(earlier["full"]["lifetime_values"], earlier["cut"]["lifetime_values"])
    for model, registered in earlier["full"]["trained"].items():
        assert registered.manifest["validation_cutoff"] < EARLIER.isoformat()
        assert (
            registered.evaluation["model"] == earlier["cut"]["trained"][model].evaluation["model"]
        ), model
    with Warehouse(full).session(read_only=True) as session:
        # profiles keep their own as_of; only the feature tables moved
        assert session.scalar("select as_of from profiles.profile_as_of") == profiles_as_of
        labelled = session.scalar(
            "select max(cutoff_date) from features.ml_labels where purchase_30d is not null"
        )
    # labels only from windows that end by the new as-of date
    assert labelled + timedelta(days=30) <= EARLIER
