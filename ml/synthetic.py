"""Synthetic feature and label tables shaped like the features contract, for tests and benches.

Rows look like features.ml_features / features.ml_labels: one row per (person_id,
cutoff_date), numeric behaviour features, VARCHAR categoricals, nulls where a real
pipeline has them (no orders -> no recency, no AOV). Purchases are driven mostly by recent
behaviour (cart adds, sessions, email clicks) and only weakly by RFM, so a model that sees
behaviour should beat the RFM-score baseline. The last cutoff is the scoring cutoff and
has no labels, as in the real pipeline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from tessera.warehouse import Session

COUNTRIES = np.array(["US", "GB", "DE", "FR", "NL", "CA"])
CHANNELS = np.array(["organic", "paid_search", "social", "email", "store", "referral"])
STAGES = np.array(["prospect", "new", "active", "at_risk", "lapsed"])


@dataclass(frozen=True)
class SyntheticSpec:
    persons: int
    cutoffs: tuple[date, ...]
    seed: int = 1
    features_schema: str = "features"

    @classmethod
    def monthly(
        cls, persons: int, n_cutoffs: int = 4, last: date = date(2026, 10, 1), seed: int = 1
    ):
        """`n_cutoffs` cutoffs one month apart (first of month), ending at `last`."""
        cutoffs = []
        year, month = last.year, last.month
        for _ in range(n_cutoffs):
            cutoffs.append(date(year, month, 1))
            year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        return cls(persons=persons, cutoffs=tuple(sorted(cutoffs)), seed=seed)


def person_ids(start: int, stop: int) -> np.ndarray:
    return np.char.add("p", np.char.zfill(np.arange(start, stop).astype(str), 8))


def _cutoff_frames(
    rng: np.random.Generator, ids: np.ndarray, latent: dict[str, np.ndarray], cutoff: date
) -> tuple[pd.DataFrame, pd.DataFrame]:
    n = len(ids)
    drift = rng.normal(0, 0.35, n)
    engagement = np.clip(latent["engagement"] + drift, 0.02, None)
    sessions = rng.poisson(engagement * 3)
    page_views = sessions * 3 + rng.poisson(1, n)
    product_views = rng.binomial(page_views, 0.4)
    cart_adds = rng.binomial(product_views, 0.12 + 0.2 * latent["intent"])
    abandoned = rng.binomial(cart_adds, 0.5)
    email_opens = rng.poisson(latent["email_affinity"] * 4)
    email_clicks = rng.binomial(email_opens, 0.25)
    frequency = rng.poisson(latent["loyalty"] * 4)
    has_orders = frequency > 0
    aov = np.where(has_orders, np.round(rng.gamma(4, latent["spend"] * 15), 2), np.nan)
    monetary = np.where(has_orders, np.round(aov * frequency, 2), 0.0)
    recency = np.where(has_orders, rng.integers(1, 720, n) / (1 + latent["loyalty"]), np.nan)
    orders_90d = np.where(
        has_orders, rng.binomial(frequency, np.clip(90 / (np.nan_to_num(recency) + 90), 0, 1)), 0
    )
    revenue_90d = np.round(np.nan_to_num(aov) * orders_90d, 2)
    tickets = rng.poisson(0.15, n)
    first_seen = latent["first_seen_days_before"] + (cutoff - date(2026, 1, 1)).days
    rec_score = np.where(has_orders, np.clip(5 - np.nan_to_num(recency) // 120, 1, 5), 1)
    freq_score = np.clip(1 + frequency, 1, 5)
    mon_score = np.clip(1 + monetary // 150, 1, 5)
    rfm = rec_score + freq_score + mon_score
    stage = np.where(
        ~has_orders,
        "prospect",
        np.where(
            np.nan_to_num(recency) < 90, "active", np.where(recency < 365, "at_risk", "lapsed")
        ),
    )
    store_share = np.where(has_orders, np.round(rng.beta(1, 3, n), 3), np.nan)

    # Behaviour (cart adds, sessions, clicks) drives purchases; RFM only a little.
    logit = (
        -3.2
        + 0.9 * np.minimum(cart_adds, 4)
        + 0.18 * np.minimum(sessions, 10)
        + 0.35 * np.minimum(email_clicks, 3)
        + 0.08 * rfm
        + 0.5 * (latent["country"] == "NL")
        - 0.4 * (tickets > 0)
    )
    purchase = rng.random(n) < 1 / (1 + np.exp(-logit))
    active = has_orders & (np.nan_to_num(recency, nan=9999) <= 365)
    churn_logit = (
        -1.0
        + 0.006 * np.nan_to_num(recency)
        - 0.5 * np.minimum(sessions, 6)
        - 0.6 * np.minimum(cart_adds, 3)
    )
    churn = np.where(active, (rng.random(n) < 1 / (1 + np.exp(-churn_logit))).astype(float), np.nan)

    features = pd.DataFrame(
        {
            "person_id": ids,
            "cutoff_date": pd.Timestamp(cutoff).date(),
            "recency_days": recency.round(0),
            "frequency_orders": frequency,
            "monetary_total": monetary,
            "aov": aov,
            "orders_90d": orders_90d,
            "revenue_90d": revenue_90d,
            "sessions_30d": sessions,
            "page_views_30d": page_views,
            "product_views_30d": product_views,
            "cart_adds_30d": cart_adds,
            "abandoned_carts_30d": abandoned,
            "email_opens_90d": email_opens,
            "email_clicks_90d": email_clicks,
            "tickets_180d": tickets,
            "days_since_first_seen": first_seen,
            "store_share": store_share,
            "rfm_recency_score": rec_score.astype(np.int32),
            "rfm_frequency_score": freq_score.astype(np.int32),
            "rfm_monetary_score": mon_score.astype(np.int32),
            "rfm_score": rfm.astype(np.int32),
            "lifecycle_stage": stage,
            "country": latent["country"],
            "first_channel": latent["channel"],
        }
    )
    labels = pd.DataFrame(
        {
            "person_id": ids,
            "cutoff_date": pd.Timestamp(cutoff).date(),
            "purchase_30d": purchase.astype(np.int32),
            "churn_90d": pd.array(np.where(np.isnan(churn), None, churn), dtype="Int32"),
        }
    )
    return features, labels


def _latent(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    country = COUNTRIES[rng.integers(0, len(COUNTRIES), n)].astype(object)
    country[rng.random(n) < 0.05] = None  # unknown country, as in real profiles
    return {
        "engagement": rng.gamma(1.5, 0.6, n),
        "intent": rng.beta(2, 5, n),
        "email_affinity": rng.gamma(1.2, 0.7, n),
        "loyalty": rng.gamma(1.0, 0.6, n),
        "spend": rng.gamma(3, 1.0, n),
        "first_seen_days_before": rng.integers(0, 700, n),
        "country": country,
        "channel": CHANNELS[rng.integers(0, len(CHANNELS), n)],
    }


def write_synthetic_tables(
    session: Session,
    spec: SyntheticSpec,
    chunk_persons: int = 250_000,
    label_cutoffs: Sequence[date] | None = None,
) -> dict[str, int]:
    """(Re)create <schema>.ml_features and <schema>.ml_labels; returns rows written per table.

    Labels are written for `label_cutoffs` (default: every cutoff but the last, whose
    outcome window is still open). Persons are generated in chunks to bound memory.
    """
    labelled = set(spec.cutoffs[:-1] if label_cutoffs is None else label_cutoffs)
    schema = spec.features_schema
    session.execute(f"drop table if exists {schema}.ml_features")
    session.execute(f"drop table if exists {schema}.ml_labels")
    rows = {"ml_features": 0, "ml_labels": 0}
    for chunk_index, start in enumerate(range(0, spec.persons, chunk_persons)):
        stop = min(start + chunk_persons, spec.persons)
        rng = np.random.default_rng([spec.seed, chunk_index])
        ids = person_ids(start, stop)
        latent = _latent(rng, len(ids))
        for cutoff in spec.cutoffs:
            features, labels = _cutoff_frames(rng, ids, latent, cutoff)
            mode = "create" if rows["ml_features"] == 0 else "append"
            rows["ml_features"] += session.write_df(features, schema, "ml_features", mode=mode)
            if cutoff in labelled:
                mode = "create" if rows["ml_labels"] == 0 else "append"
                rows["ml_labels"] += session.write_df(labels, schema, "ml_labels", mode=mode)
    return rows
