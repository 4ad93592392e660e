"""On the demo's generated data: purchase tasks of 30, 90 and 273 days all train and score
through `tessera ml train | score`, say how, and use nothing from after their as-of date.

Two years of data; features as of 2026-07-01 leave 20 months of history, enough for the
273-day task to learn its own label (validated on 2025-10-01, trained on month starts a whole
horizon before it). Then orders dated after the as-of date are added for existing buyers
(their own identifiers, so identity cannot change), everything is rebuilt as of today and
`tessera ml train | score --as-of 2026-07-01` run: scores, BTYD traits and validation metrics
must come out identical.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import duckdb
import pandas as pd
import pytest

from tessera.datagen import generate
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
from tests.profiles.profile_helpers import insert_rows

pytestmark = pytest.mark.slow

AS_OF = date(2026, 7, 1)


def future_orders(warehouse) -> int:
    """Orders after AS_OF for buyers known by user_id and email, with those identifiers."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        buyers = con.execute(
            "select any_value(user_id), any_value(customer_email) from raw.orders "
            "where user_id is not null and customer_email is not null and ordered_at < ? "
            "group by user_id order by 1 limit 300",
            [datetime(2026, 6, 1)],
        ).fetchall()
    at = datetime.combine(AS_OF, datetime.min.time())
    rows = [
        {
            "order_id": f"future-{n}",
            "customer_email": email,
            "user_id": user_id,
            "ordered_at": at + timedelta(days=n % 90, hours=3),
            "status": "completed",
            "currency": "USD",
            "subtotal": 50.0,
            "total": 50.0,
            "item_count": 1,
            "updated_at": at + timedelta(days=n % 90, hours=3),
        }
        for n, (user_id, email) in enumerate(buyers)
    ]
    insert_rows(warehouse, "orders", rows)
    return len(rows)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    base = tmp_path_factory.mktemp("horizons_demo")
    project = project_with_tasks(base)
    warehouse = base / "warehouse.duckdb"
    results = {}
    config_file = fast_config_file(base)
    for run in ("before", "after"):
        directory = base / run
        directory.mkdir()
        settings = settings_for(directory, project, warehouse)
        if run == "before":
            generate(
                Warehouse(settings),
                persons=1200,
                seed=5,
                end_date=date(2026, 10, 31),
                progress=False,
            )
            build_features(settings, AS_OF, base / "target")
            results[run] = cli_train_and_score(settings, config_file)
        else:
            results["added"] = future_orders(warehouse)
            build_features(settings, None, base / "target")  # as of today: the later orders in
            results[run] = cli_train_and_score(settings, config_file, "--as-of", str(AS_OF))
    return results


def test_every_horizon_trains_on_its_own_label_and_scores(runs) -> None:
    before = runs["before"]
    for model, days in (("purchase_30d", 30), ("purchase_90d", 90), ("purchase_273d", 273)):
        manifest = before["trained"][model].manifest
        assert manifest["label_horizon_days"] == days, model
        assert manifest["horizon_mapping"] is None
        plan = "\n".join(manifest["plan"])
        assert f"label: {days}-day window" in plan and "history: " in plan
        said = printed_about(before["train_output"], model)
        assert f"{model}: label: {days}-day window" in said and "how:" not in said
        assert f"at cutoff {AS_OF}" in printed_about(before["score_output"], model)
        rows = before["scores"][before["scores"]["model"] == model]
        assert len(rows) > 1000 and rows["person_id"].is_unique
        assert (pd.to_datetime(rows["feature_cutoff_date"]).dt.date == AS_OF).all()
    # the 273-day model validates a whole horizon before the as-of date
    assert before["trained"]["purchase_273d"].manifest["validation_cutoff"] <= "2025-10-01"


def test_orders_after_the_as_of_date_change_nothing_with_as_of(runs) -> None:
    assert runs["added"] > 50  # buyers with both identifiers before June
    before, after = runs["before"], runs["after"]
    assert f"rebuilding the feature and label tables as of {AS_OF}" in after["train_output"]
    assert_frames_equal(before["scores"], after["scores"])
    assert_frames_equal(before["lifetime_values"], after["lifetime_values"])
    for model in before["trained"]:
        assert (
            before["trained"][model].evaluation["model"]
            == after["trained"][model].evaluation["model"]
        ), model
