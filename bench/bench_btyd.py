"""BTYD benchmark: BG/NBD + Gamma-Gamma fitted and applied to `scale` buyers.

Buyers are drawn from BG/NBD and Gamma-Gamma with CDNOW-like parameters
(ml/btyd_simulation.simulate_summaries), observed 30 to 730 days after their first purchase,
and written as one cutoff of features.ml_features (the columns BTYD reads). Measured: the
fits alone (in memory), scoring every buyer (p_alive, expected purchases, P(purchase), order
value, CLV over three horizons), and `publish_lifetime_values` end to end (read from the
warehouse, fit, score, write ml.person_lifetime_value), plus how close the fit is to the truth.
"""

from __future__ import annotations

import dataclasses
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from tessera.settings import Settings

CUTOFF = date(2026, 10, 1)


def run(scale: int, workdir: Path) -> dict:
    from ml import btyd
    from ml.btyd_features import BTYDCache
    from ml.btyd_simulation import simulate_summaries
    from ml.config import MLConfig
    from ml.lifetime import publish_lifetime_values
    from tessera.warehouse import Warehouse

    truth = btyd.BGNBDParams(r=0.25, alpha=30.0, a=0.8, b=2.5)
    spend = btyd.GammaGammaParams(p=6.0, q=4.0, v=15.0)
    rng = np.random.default_rng(1)
    started = time.perf_counter()
    buyers = simulate_summaries(truth, spend, rng.uniform(30, 730, scale), seed=2)
    simulate_s = time.perf_counter() - started
    x, t_x, T = (buyers[c].to_numpy() for c in ("x", "t_x", "T"))

    started = time.perf_counter()
    fitted = btyd.fit_bgnbd(x, t_x, T)
    fit_bgnbd_s = time.perf_counter() - started
    started = time.perf_counter()
    fitted_spend = btyd.fit_gamma_gamma(x, buyers["mean_repeat_value"].to_numpy())
    fit_gamma_gamma_s = time.perf_counter() - started
    started = time.perf_counter()
    btyd.probability_alive(fitted, x, t_x, T)
    for horizon in (30, 90, 365):
        btyd.expected_purchases(fitted, x, t_x, T, horizon)
        btyd.probability_of_purchase(fitted, x, t_x, T, horizon)
    btyd.expected_order_value(fitted_spend, x, buyers["mean_repeat_value"].to_numpy())
    score_s = time.perf_counter() - started

    settings = dataclasses.replace(
        Settings.from_env({}), warehouse_path=workdir / "btyd.duckdb", artifacts_dir=workdir
    )
    settings.warehouse_path.unlink(missing_ok=True)
    features = pd.DataFrame(
        {
            "person_id": [f"p{i:08d}" for i in range(scale)],
            "cutoff_date": CUTOFF,
            "frequency_orders": (x + 1).astype(np.int64),
            "purchase_days": (x + 1).astype(np.int64),
            "days_since_first_purchase": T.astype(np.int64),
            "recency_days": (T - t_x).astype(np.int64),
            "first_purchase_revenue": buyers["first_value"].round(2),
            "monetary_total": (
                buyers["first_value"] + np.nan_to_num(buyers["mean_repeat_value"]) * x
            ).round(2),
        }
    )
    with Warehouse(settings).session() as session:
        session.write_df(features, "features", "ml_features", mode="replace")
    config = MLConfig(write_charts=False)
    warehouse = Warehouse(settings)
    started = time.perf_counter()
    with warehouse.session() as reader, warehouse.session() as writer:
        outcome = publish_lifetime_values(reader, writer, config, cache=BTYDCache())
    publish_s = time.perf_counter() - started
    return {
        "buyers": scale,
        "unique_x_tx_T": int(len(np.unique(np.column_stack([x, t_x, T]), axis=0))),
        "simulate_s": simulate_s,
        "fit_bgnbd_s": fit_bgnbd_s,
        "fit_gamma_gamma_s": fit_gamma_gamma_s,
        "score_all_s": score_s,
        "publish_end_to_end_s": publish_s,
        "published_rows": outcome.buyers,
        "r": f"{fitted.r:.3f} (true {truth.r})",
        "alpha": f"{fitted.alpha:.2f} (true {truth.alpha})",
        "a": f"{fitted.a:.3f} (true {truth.a})",
        "b": f"{fitted.b:.3f} (true {truth.b})",
        "gg_mean": f"{fitted_spend.population_mean:.2f} (true {spend.population_mean:.2f})",
    }
