"""Discovered segments: planted groups are found, k comes from the silhouette, every person
gets one row, and the clusters are described by what sets them apart."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from ml.config import MLConfig
from ml.errors import NotEnoughDataError
from ml.pipeline import cluster_and_publish
from tessera.warehouse import Warehouse

CUTOFF = date(2026, 10, 1)


def planted_features(n_per_group: int = 400, seed: int = 0) -> pd.DataFrame:
    """Three kinds of people: big repeat buyers, email-engaged non-buyers, idle visitors."""
    rng = np.random.default_rng(seed)
    groups = []
    for kind in ("buyers", "emailers", "idle"):
        n = n_per_group
        buyers = kind == "buyers"
        groups.append(
            pd.DataFrame(
                {
                    "kind": kind,
                    "recency_days": np.where(buyers, rng.integers(5, 60, n), np.nan),
                    "frequency_orders": np.where(buyers, rng.integers(4, 12, n), 0),
                    "monetary_total": np.where(buyers, rng.gamma(5, 80, n), 0.0),
                    "sessions_90d": rng.poisson(
                        {"buyers": 3, "emailers": 1.5, "idle": 0.1}[kind], n
                    ),
                    "email_opens_90d": rng.poisson(10 if kind == "emailers" else 0.2, n),
                    "email_clicks_90d": rng.poisson(4 if kind == "emailers" else 0.05, n),
                    "first_channel": rng.choice(["web", "store"], n),
                }
            )
        )
    frame = pd.concat(groups, ignore_index=True)
    frame.insert(0, "person_id", [f"p{i:05d}" for i in range(len(frame))])
    frame.insert(1, "cutoff_date", CUTOFF)
    return frame


@pytest.fixture
def planted(settings):
    frame = planted_features()
    with Warehouse(settings).session() as session:
        session.write_df(frame.drop(columns="kind"), "features", "ml_features", mode="replace")
    return settings, frame


def test_planted_groups_are_found_and_described(planted) -> None:
    settings, frame = planted
    outcome = cluster_and_publish(settings, MLConfig(write_charts=True))
    # three planted kinds; a fourth cluster may split one of them (by channel, say), but
    # no cluster may mix kinds
    assert outcome.k in (3, 4)
    assert set(outcome.silhouette_by_k) == set(range(2, 9))
    assert outcome.silhouette == max(outcome.silhouette_by_k.values())
    assert outcome.chart is not None and outcome.chart.stat().st_size > 10_000
    with Warehouse(settings).session(read_only=True) as session:
        rows = session.df("select * from ml.person_clusters order by person_id")
        profiles = session.df("select * from ml.cluster_profiles order by cluster_id")
    assert len(rows) == len(frame) and rows["person_id"].is_unique
    assert (pd.to_datetime(rows["feature_cutoff_date"]).dt.date == CUTOFF).all()
    merged = rows.merge(frame[["person_id", "kind"]], on="person_id")
    purity = merged.groupby("cluster_id")["kind"].agg(lambda s: s.value_counts().iloc[0] / len(s))
    assert (purity > 0.95).all(), purity
    labels = dict(zip(profiles["cluster_id"], profiles["cluster_label"], strict=True))
    buyers_cluster = merged[merged["kind"] == "buyers"]["cluster_id"].mode()[0]
    emailers_cluster = merged[merged["kind"] == "emailers"]["cluster_id"].mode()[0]
    assert "buyers" in labels[buyers_cluster] or "spenders" in labels[buyers_cluster]
    assert "email" in labels[emailers_cluster]
    assert profiles["persons"].sum() == len(frame)


def test_a_fixed_k_and_too_few_persons(planted) -> None:
    settings, frame = planted
    assert cluster_and_publish(settings, MLConfig(write_charts=False), k=5).k == 5
    with Warehouse(settings).session() as session:
        session.write_df(
            frame.drop(columns="kind").head(10), "features", "ml_features", mode="replace"
        )
    with pytest.raises(NotEnoughDataError, match="10 persons"):
        cluster_and_publish(settings, MLConfig(write_charts=False))
