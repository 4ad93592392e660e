"""BG/NBD and Gamma-Gamma fitted per feature cutoff, as model features and customer traits.

Each cutoff gets its own fit on every buyer's history strictly before it (the columns of
ml_features at that cutoff), so a training row's BTYD features never see its own outcome
window, and the scoring cutoff's fit uses exactly what scoring may know. BTYD inputs come from
ml_features: x = purchase_days - 1, T = days_since_first_purchase, t_x = T - recency_days,
mean repeat order value = (monetary_total - first_purchase_revenue) / x.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from ml import btyd
from ml.errors import MLError
from tessera.warehouse import Session

INPUT_COLUMNS = ("purchase_days", "days_since_first_purchase", "recency_days")
SPEND_COLUMNS = ("monetary_total", "first_purchase_revenue")
FEATURES = ("btyd_p_alive", "btyd_expected_purchases", "btyd_purchase_probability")
# A little L2 on the log parameters: stable fits on small or odd data (nobody repeats yet),
# negligible on thousands of buyers (it moves CDNOW's parameters in the third digit).
PENALTY = 1e-4


@dataclass(frozen=True)
class CutoffFit:
    """BTYD parameters fitted on the buyers of one cutoff (None with the reason why not)."""

    cutoff: date
    buyers: int
    purchases: btyd.BGNBDParams | None
    spend: btyd.GammaGammaParams | None = None
    note: str = ""

    def to_dict(self) -> dict:
        return {
            "cutoff": self.cutoff.isoformat(),
            "buyers": self.buyers,
            "bgnbd": self.purchases.to_dict() if self.purchases else None,
            "gamma_gamma": self.spend.to_dict() if self.spend else None,
            "note": self.note,
        }

    @classmethod
    def from_dict(cls, raw: Mapping) -> CutoffFit:
        return cls(
            cutoff=date.fromisoformat(raw["cutoff"]),
            buyers=int(raw["buyers"]),
            purchases=btyd.BGNBDParams(**raw["bgnbd"]) if raw.get("bgnbd") else None,
            spend=btyd.GammaGammaParams(**raw["gamma_gamma"]) if raw.get("gamma_gamma") else None,
            note=raw.get("note", ""),
        )


@dataclass
class BTYDCache:
    """Fits per cutoff, shared by the models trained in one run (same data, same fits)."""

    fits: dict[date, CutoffFit] = field(default_factory=dict)


def has_inputs(columns: Sequence[str]) -> bool:
    return all(c in columns for c in INPUT_COLUMNS)


def btyd_inputs(
    purchase_days: np.ndarray, days_since_first_purchase: np.ndarray, recency_days: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x, t_x, T, is_buyer) from ml_features columns; non-buyers get zeros and False."""
    n_days = np.nan_to_num(np.asarray(purchase_days, dtype=np.float64))
    T = np.asarray(days_since_first_purchase, dtype=np.float64)
    recency = np.asarray(recency_days, dtype=np.float64)
    buyer = (n_days >= 1) & np.isfinite(T) & np.isfinite(recency)
    T = np.where(buyer, T, 0.0)
    x = np.where(buyer, n_days - 1, 0.0)
    t_x = np.where(buyer, np.clip(T - np.nan_to_num(recency), 0.0, T), 0.0)
    t_x = np.where(x > 0, t_x, 0.0)
    return x, t_x, T, buyer


def mean_repeat_value(
    x: np.ndarray, monetary_total: np.ndarray, first_purchase_revenue: np.ndarray
) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        value = (
            np.nan_to_num(np.asarray(monetary_total, dtype=np.float64))
            - np.nan_to_num(np.asarray(first_purchase_revenue, dtype=np.float64))
        ) / x
    return np.where(x > 0, value, np.nan)


def fit_one(cutoff: date, columns: Mapping[str, np.ndarray]) -> CutoffFit:
    x, t_x, T, buyer = btyd_inputs(*(columns[c] for c in INPUT_COLUMNS))
    x, t_x, T = x[buyer], t_x[buyer], T[buyer]
    buyers = int(buyer.sum())
    if buyers < btyd.MIN_BUYERS:
        return CutoffFit(
            cutoff, buyers, None, note=f"{buyers} buyers; BG/NBD needs {btyd.MIN_BUYERS}"
        )
    try:
        purchases = btyd.fit_bgnbd(x, t_x, T, penalty=PENALTY)
    except MLError as exc:
        return CutoffFit(cutoff, buyers, None, note=str(exc))
    spend, note = None, ""
    if all(c in columns for c in SPEND_COLUMNS):
        m = mean_repeat_value(
            x, columns["monetary_total"][buyer], columns["first_purchase_revenue"][buyer]
        )
        try:
            spend = btyd.fit_gamma_gamma(x, m, penalty=PENALTY)
        except MLError as exc:
            note = f"no spend model: {exc}"
        if spend is not None and spend.q <= 1:
            spend, note = None, "no spend model: Gamma-Gamma q <= 1 (mean order value unbounded)"
    return CutoffFit(cutoff, buyers, purchases, spend, note)


def fit_cutoffs(
    session: Session,
    features_relation: str,
    cutoffs: Sequence[date],
    cache: BTYDCache | None = None,
) -> dict[date, CutoffFit]:
    """BTYD fitted per cutoff on every buyer of ml_features at it (cached per run)."""
    cache = cache if cache is not None else BTYDCache()
    missing = sorted({c for c in cutoffs if c not in cache.fits})
    if missing:
        available = {name for name, _ in _columns(session, features_relation)}
        wanted = [c for c in (*INPUT_COLUMNS, *SPEND_COLUMNS) if c in available]
        ph = "?" if session.dialect == "duckdb" else "%s"
        for cutoff in missing:
            table = session.arrow(
                f"select {', '.join(wanted)} from {features_relation} "
                f"where cutoff_date = cast({ph} as date) and frequency_orders > 0",
                [cutoff.isoformat()],
            )
            columns = {
                name: table.column(name).to_numpy(zero_copy_only=False).astype(np.float64)
                for name in wanted
            }
            cache.fits[cutoff] = fit_one(cutoff, columns)
    return {c: cache.fits[c] for c in cutoffs}


def _columns(session: Session, relation: str) -> list[tuple[str, str]]:
    schema, table = relation.split(".", 1)
    return session.columns(schema, table)


def feature_columns(
    fit: CutoffFit | None,
    purchase_days: np.ndarray,
    days_since_first_purchase: np.ndarray,
    recency_days: np.ndarray,
    horizon_days: int,
) -> dict[str, np.ndarray]:
    """The BTYD features of rows at one cutoff (NaN for non-buyers or without a fit)."""
    n = len(purchase_days)
    out = {name: np.full(n, np.nan) for name in FEATURES}
    if fit is None or fit.purchases is None:
        return out
    x, t_x, T, buyer = btyd_inputs(purchase_days, days_since_first_purchase, recency_days)
    if not buyer.any():
        return out
    p = fit.purchases
    xb, txb, Tb = x[buyer], t_x[buyer], T[buyer]
    out["btyd_p_alive"][buyer] = btyd.probability_alive(p, xb, txb, Tb)
    out["btyd_expected_purchases"][buyer] = btyd.expected_purchases(p, xb, txb, Tb, horizon_days)
    out["btyd_purchase_probability"][buyer] = btyd.probability_of_purchase(
        p, xb, txb, Tb, horizon_days
    )
    return out


def add_features(
    columns: Mapping[str, np.ndarray],
    cutoff_per_row: np.ndarray,
    fits: Mapping[date, CutoffFit],
    horizon_days: int,
) -> dict[str, np.ndarray]:
    """BTYD features for rows of several cutoffs, each row with its own cutoff's fit."""
    n = len(cutoff_per_row)
    out = {name: np.full(n, np.nan) for name in FEATURES}
    days = np.asarray(cutoff_per_row).astype("datetime64[D]")
    for cutoff, fit in fits.items():
        rows = days == np.datetime64(cutoff, "D")
        if not rows.any():
            continue
        part = feature_columns(
            fit, *(np.asarray(columns[c])[rows] for c in INPUT_COLUMNS), horizon_days
        )
        for name in FEATURES:
            out[name][rows] = part[name]
    return out
