"""Per-buyer BTYD traits in the warehouse: ml.person_lifetime_value.

At the scoring cutoff, BG/NBD and Gamma-Gamma are fitted on every buyer's history before it
(ml/btyd_features.py) and each buyer gets: purchase days so far, the probability of being
alive, expected purchases and the probability of at least one over each task horizon and the
CLV horizon, the expected value of an order, and predicted spend (CLV) over those horizons.
Segments read it like ml.person_scores (one row per buyer, key person_id).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, date, datetime

import numpy as np
import pyarrow as pa

from ml import btyd, btyd_features
from ml.btyd_features import BTYDCache
from ml.config import MLConfig
from ml.data import latest_feature_cutoff, placeholder
from ml.errors import MLError, NotEnoughDataError
from tessera.warehouse import Session


@dataclass(frozen=True)
class LifetimeOutcome:
    cutoff: date
    buyers: int
    horizons: tuple[int, ...]
    params: dict
    seconds: float
    relation: str


def horizons(config: MLConfig) -> tuple[int, ...]:
    return tuple(sorted({m.horizon_days for m in config.models} | {config.clv_horizon_days}))


def lifetime_table(
    fit: btyd_features.CutoffFit, columns: dict[str, np.ndarray], horizon_days: tuple[int, ...]
) -> dict[str, np.ndarray]:
    """The trait columns for buyers (rows with purchase_days >= 1)."""
    x, t_x, T, buyer = btyd_features.btyd_inputs(*(columns[c] for c in btyd_features.INPUT_COLUMNS))
    if fit.purchases is None:
        raise NotEnoughDataError(f"no BG/NBD fit at {fit.cutoff}: {fit.note}")
    p = fit.purchases
    out: dict[str, np.ndarray] = {
        "purchase_days": columns["purchase_days"].astype(np.int64),
        "p_alive": btyd.probability_alive(p, x, t_x, T),
    }
    if fit.spend is not None and "monetary_total" in columns:
        m = btyd_features.mean_repeat_value(
            x, columns["monetary_total"], columns["first_purchase_revenue"]
        )
        value = btyd.expected_order_value(fit.spend, x, m)
    else:
        value = np.full(len(x), np.nan)
    out["expected_order_value"] = value
    for h in horizon_days:
        expected = btyd.expected_purchases(p, x, t_x, T, h)
        out[f"expected_purchases_{h}d"] = expected
        out[f"purchase_probability_{h}d"] = btyd.probability_of_purchase(p, x, t_x, T, h)
        out[f"predicted_clv_{h}d"] = expected * value
    return out


def publish_lifetime_values(
    reader: Session,
    writer: Session,
    config: MLConfig,
    as_of: date | None = None,
    cache: BTYDCache | None = None,
) -> LifetimeOutcome:
    """Fit at the scoring cutoff and replace ml.person_lifetime_value."""
    started = time.perf_counter()
    available = {n for n, _ in reader.columns(config.features_schema, config.features_table)}
    if not btyd_features.has_inputs(tuple(available)):
        missing = [c for c in btyd_features.INPUT_COLUMNS if c not in available]
        raise NotEnoughDataError(
            f"{config.features_relation} lacks {', '.join(missing)}: no BTYD traits "
            f"({config.lifetime_relation} not written)"
        )
    cutoff = as_of or latest_feature_cutoff(reader, config)
    fit = btyd_features.fit_cutoffs(reader, config.features_relation, [cutoff], cache)[cutoff]
    if fit.purchases is None:
        raise NotEnoughDataError(
            f"BG/NBD cannot be fitted at {cutoff}: {fit.note} (ml.person_lifetime_value "
            "not written)"
        )
    wanted = [
        c for c in (*btyd_features.INPUT_COLUMNS, *btyd_features.SPEND_COLUMNS) if c in available
    ]
    ph = placeholder(reader)
    table = reader.arrow(
        f"select person_id, {', '.join(wanted)} from {config.features_relation} "
        f"where cutoff_date = cast({ph} as date) and frequency_orders > 0 "
        "and purchase_days > 0 order by person_id",
        [cutoff.isoformat()],
    )
    if table.num_rows == 0:
        raise NotEnoughDataError(f"no buyers at cutoff {cutoff}")
    columns = {
        name: table.column(name).to_numpy(zero_copy_only=False).astype(np.float64)
        for name in wanted
    }
    hs = horizons(config)
    traits = lifetime_table(fit, columns, hs)
    fitted_at = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    out = pa.table(
        {
            "person_id": table.column("person_id"),
            "feature_cutoff_date": pa.array([cutoff] * table.num_rows, pa.date32()),
            **{name: pa.array(values) for name, values in traits.items()},
            "fitted_at": pa.array([fitted_at] * table.num_rows, pa.timestamp("us")),
        }
    )
    writer.execute(f"create schema if not exists {config.scores_schema}")
    try:
        writer.write_df(out, config.scores_schema, config.lifetime_table, mode="replace")
    except Exception as exc:  # the warehouse's own message says what went wrong
        raise MLError(f"cannot write {config.lifetime_relation}: {exc}") from exc
    params = fit.to_dict()
    return LifetimeOutcome(
        cutoff, table.num_rows, hs, params, time.perf_counter() - started, config.lifetime_relation
    )
