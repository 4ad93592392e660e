"""Real transactions through the whole pipeline: the CDNOW check of issue 17, reproducible.

    python -m bench.cdnow CDNOW_master.txt [workdir]     (or CDNOW_sample.txt)

The CDNOW files ship in the `lifetimes` wheel (lifetimes/datasets/); they are not in this
repository and nothing in CI needs them. Transactions before 1997-10-01 are loaded into
raw.orders of a fresh warehouse (every other raw table empty), `purchase_273d` ("buys in the
39 weeks after the cutoff") and `purchase_30d` are defined in a copy of the dbt project,
features and labels are built, both tasks trained and scored, and the scores are ranked
against who bought in the 39 weeks after 1997-10-01, next to BG/NBD fitted on the same
history and the RFM quintile sum, with paired bootstrap intervals.
"""

from __future__ import annotations

import sys
import tempfile
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

CUTOFF = pd.Timestamp("1997-10-01")
HORIZON = 273
TASKS = [
    {"name": "purchase_273d", "outcome": "purchase", "horizon_days": HORIZON},
    {"name": "purchase_30d", "outcome": "purchase", "horizon_days": 30},
]


def read_cdnow(path: Path) -> pd.DataFrame:
    """customer, date, amount from CDNOW_master.txt (4 columns) or CDNOW_sample.txt (5)."""
    raw = pd.read_csv(path, sep=r"\s+", header=None, dtype=str)
    if not raw.iloc[0, 0].isdigit():
        raw = raw.iloc[1:]
    date_col, amount_col = (1, 3) if raw.shape[1] == 4 else (2, 4)
    return pd.DataFrame(
        {
            "customer": raw[0].str.zfill(5).to_numpy(),
            "date": pd.to_datetime(raw[date_col], format="%Y%m%d").to_numpy(),
            "amount": raw[amount_col].astype(float).to_numpy(),
        }
    )


def quintiles(values: np.ndarray) -> np.ndarray:
    edges = np.quantile(values, [0.2, 0.4, 0.6, 0.8])
    return 1 + (values[:, None] > edges[None, :]).sum(axis=1)


def main(argv: list[str]) -> int:
    from ml import btyd
    from ml.bootstrap import paired_difference
    from ml.config import MLConfig
    from ml.metrics import roc_auc
    from tests.ml.horizons import (
        build_features,
        project_with_tasks,
        settings_for,
        train_and_score,
    )
    from tests.profiles.profile_helpers import create_raw_tables

    data = read_cdnow(Path(argv[0]))
    work = Path(argv[1]) if len(argv) > 1 else Path(tempfile.mkdtemp(prefix="cdnow-"))
    work.mkdir(parents=True, exist_ok=True)
    history = data[data["date"] < CUTOFF]
    warehouse = work / "warehouse.duckdb"
    warehouse.unlink(missing_ok=True)
    create_raw_tables(warehouse)
    at = history["date"] + pd.Timedelta(hours=12)
    orders = pd.DataFrame(
        {
            "order_id": [f"o{i}" for i in range(len(history))],
            "user_id": history["customer"].to_numpy(),
            "ordered_at": at.to_numpy(),
            "status": "completed",
            "currency": "USD",
            "subtotal": history["amount"].to_numpy(),
            "total": history["amount"].to_numpy(),
            "updated_at": at.to_numpy(),
        }
    )
    with duckdb.connect(str(warehouse)) as con:
        con.register("incoming", orders)
        cols = ", ".join(orders.columns)
        con.execute(f"insert into raw.orders ({cols}) select {cols} from incoming")
    project = project_with_tasks(work, TASKS)
    settings = settings_for(work, project, warehouse)
    build_features(settings, date(1997, 10, 1), work / "target")
    config = MLConfig.load(None, project).model_copy(update={"write_charts": False})
    result = train_and_score(settings, config)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        ids = con.execute(
            "select person_id, id_value as customer from identity.identity_graph "
            "where id_type = 'user_id'"
        ).df()
    scores = result["scores"].merge(ids, on="person_id")

    # BG/NBD and RFM on the same history
    days = history.groupby(["customer", "date"], as_index=False)["amount"].sum()
    grouped = days.groupby("customer")
    first, last, count = grouped["date"].min(), grouped["date"].max(), grouped["date"].count()
    x = (count - 1).to_numpy(float)
    t_x = (last - first).dt.days.to_numpy(float)
    T = (CUTOFF - first).dt.days.to_numpy(float)
    params = btyd.fit_bgnbd(x, t_x, T)
    customers = first.index
    bgnbd = btyd.expected_purchases(params, x, t_x, T, HORIZON)
    rfm = (
        quintiles(-(CUTOFF - last).dt.days.to_numpy(float))
        + quintiles(count.to_numpy(float))
        + quintiles(grouped["amount"].sum().to_numpy())
    )
    later = data[(data["date"] >= CUTOFF) & (data["date"] < CUTOFF + pd.Timedelta(days=HORIZON))]
    y = customers.isin(set(later["customer"]))
    print(
        f"{len(customers):,} customers, {y.mean():.1%} buy in the {HORIZON} days after "
        f"{CUTOFF.date()}"
    )
    print(f"BG/NBD expected purchases  ROC AUC {roc_auc(y, bgnbd):.4f}  ({params})")
    print(f"RFM quintile sum           ROC AUC {roc_auc(y, rfm):.4f}")
    for task in (t["name"] for t in TASKS):
        model = scores[scores["model"] == task].set_index("customer")["score"]
        model = model.reindex(customers).to_numpy()
        ci = paired_difference(y, model, bgnbd, "roc_auc", rounds=1000)
        print(
            f"Tessera {task:<14}     ROC AUC {roc_auc(y, model):.4f}  minus BG/NBD {ci.describe()}"
        )
        print("   " + "\n   ".join(result["trained"][task].manifest["plan"]))
        evaluation = result["trained"][task].evaluation
        inside = {k: evaluation[k]["roc_auc"] for k in ("model", "btyd") if k in evaluation}
        print(
            f"   validation cutoff {evaluation['evaluated_on_cutoff']} (what training sees): "
            + ", ".join(f"{k} ROC AUC {v:.4f}" for k, v in inside.items())
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
