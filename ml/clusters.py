"""Discovered segments: k-means on standardised RFM, engagement and channel features.

Every person is clustered: those in ml_features at the scoring cutoff, and the persons of the
profiles (config.persons_relation, when it exists) with no feature row, i.e. no recorded
activity (a CRM contact never seen buying, browsing or emailed), with zero counts and no
purchase. Skewed counts and amounts are
log-transformed, then every numeric feature is standardised; the first channel is one-hot,
scaled so the channel group weighs like one feature. k is chosen by the silhouette score on
a sample (reported for every k tried); the final model is fitted on everyone (mini-batch
k-means above 20k persons). Each cluster is described by the features whose cluster mean
is furthest from the population's (in standard deviations), with medians in plain units.
Written to ml.person_clusters (one row per person, usable in segment SQL) and
ml.cluster_profiles; a PNG shows sizes and profiles.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.metrics import silhouette_score

from ml.config import MLConfig
from ml.data import latest_feature_cutoff, placeholder
from ml.errors import MLError, NotEnoughDataError
from tessera.warehouse import Session

# What analysts cluster customers on; whichever of these ml_features has are used.
RFM = ("recency_days", "frequency_orders", "monetary_total", "aov")
ENGAGEMENT = (
    "sessions_90d", "page_views_30d", "cart_adds_30d", "email_opens_90d", "email_clicks_90d",
    "days_since_last_activity", "tickets_180d", "ad_clicks_90d", "store_share",
)  # fmt: skip
CHANNEL = "first_channel"
LOG_SCALED = {
    "frequency_orders", "monetary_total", "aov", "sessions_90d", "page_views_30d",
    "cart_adds_30d", "email_opens_90d", "email_clicks_90d", "tickets_180d", "ad_clicks_90d",
    "recency_days", "days_since_last_activity",
}  # fmt: skip
MAX_CHANNELS = 8
# the channel one-hot group together weighs like half a numeric feature: binary columns are
# perfectly two-peaked, and at full weight k-means splits on them before anything else
CHANNEL_WEIGHT = 0.5
SILHOUETTE_SAMPLE = 4_000
SELECTION_SAMPLE = 50_000
MINI_BATCH_ABOVE = 20_000
MIN_PERSONS = 30
SEED = 7


@dataclass(frozen=True)
class ClusterOutcome:
    cutoff: date
    persons: int
    k: int
    silhouette: float
    silhouette_by_k: dict[int, float]
    clusters: list[dict]
    features: tuple[str, ...]
    relation: str
    chart: Path | None
    seconds: float
    seconds_by_step: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Design:
    """The clustering input: standardised matrix, and what each column means."""

    matrix: np.ndarray
    columns: tuple[str, ...]
    raw: dict[str, np.ndarray]  # untransformed values (for medians), numeric features


def build_design(table: pa.Table, numeric: list[str]) -> Design:
    columns: list[np.ndarray] = []
    names: list[str] = []
    raw: dict[str, np.ndarray] = {}
    n = table.num_rows
    for name in numeric:
        values = table.column(name).cast(pa.float64()).to_numpy(zero_copy_only=False)
        raw[name] = values
        missing = np.isnan(values)
        if name in ("recency_days", "aov", "store_share"):
            # only defined for buyers: the typical buyer's value, so that these columns
            # compare buyers; whether someone bought at all is the is_buyer column
            fill = float(np.nanmedian(values)) if (~missing).any() else 0.0
        else:
            fill = 0.0
        filled = np.where(missing, fill, values)
        if name in LOG_SCALED:
            filled = np.log1p(np.clip(filled, 0, None))
        std = filled.std()
        if not np.isfinite(std) or std == 0:
            continue  # a constant column separates nobody
        columns.append((filled - filled.mean()) / std)
        names.append(name)
    if "frequency_orders" in raw:
        buyer = (np.nan_to_num(raw["frequency_orders"]) > 0).astype(np.float64)
        if 0 < buyer.mean() < 1:
            columns.append((buyer - buyer.mean()) / buyer.std())
            names.append("is_buyer")
            raw["is_buyer"] = buyer
    if CHANNEL in table.column_names:
        text = table.column(CHANNEL).cast(pa.string())
        counts = pc.value_counts(pc.drop_null(text)).to_pylist()
        top = [c["values"] for c in sorted(counts, key=lambda c: -c["counts"])][:MAX_CHANNELS]
        if len(top) > 1:
            weight = CHANNEL_WEIGHT / np.sqrt(len(top))
            for value in top:
                hot = pc.fill_null(pc.equal(text, value), False)
                hot = hot.to_numpy(zero_copy_only=False).astype(np.float64)
                std = hot.std()
                if std > 0:
                    columns.append((hot - hot.mean()) / std * weight)
                    names.append(f"{CHANNEL}={value}")
                    raw[f"{CHANNEL}={value}"] = hot
    if not columns:
        raise NotEnoughDataError("no feature varies across persons: nothing to cluster on")
    matrix = np.column_stack(columns) if n else np.empty((0, len(columns)))
    return Design(matrix, tuple(names), raw)


def _fit(matrix: np.ndarray, k: int) -> KMeans | MiniBatchKMeans:
    if len(matrix) > MINI_BATCH_ABOVE:
        model = MiniBatchKMeans(
            n_clusters=k, random_state=SEED, n_init=3, batch_size=4096, max_no_improvement=20
        )
    else:
        model = KMeans(n_clusters=k, random_state=SEED, n_init=4)
    return model.fit(matrix)


def choose_k(matrix: np.ndarray, k_values: range) -> dict[int, float]:
    """Silhouette score for each k, fitted and scored on samples (fixed seed)."""
    rng = np.random.default_rng(SEED)
    sample = matrix
    if len(matrix) > SELECTION_SAMPLE:
        sample = matrix[rng.choice(len(matrix), SELECTION_SAMPLE, replace=False)]
    scores: dict[int, float] = {}
    for k in k_values:
        if k >= len(sample):
            break
        labels = _fit(sample, k).labels_
        if len(np.unique(labels)) < 2:
            continue
        size = min(SILHOUETTE_SAMPLE, len(sample))
        scores[k] = float(silhouette_score(sample, labels, sample_size=size, random_state=SEED))
    return scores


# Plain words for a cluster that stands out on a feature (high, low).
PHRASES = {
    "is_buyer": ("buyers", "not buying yet"),
    "recency_days": ("lapsed", "bought recently"),
    "frequency_orders": ("frequent buyers", "few purchases"),
    "monetary_total": ("big spenders", "small spenders"),
    "aov": ("large baskets", "small baskets"),
    "sessions_90d": ("active online", "quiet online"),
    "page_views_30d": ("browsing a lot", "rarely browsing"),
    "cart_adds_30d": ("filling carts", "no cart activity"),
    "email_opens_90d": ("email openers", "not opening emails"),
    "email_clicks_90d": ("email clickers", "not clicking emails"),
    "days_since_last_activity": ("dormant", "recently active"),
    "tickets_180d": ("contacting support", "no support contact"),
    "ad_clicks_90d": ("ad clickers", "no ad clicks"),
    "store_share": ("store shoppers", "online shoppers"),
}


def _phrase(name: str, high: bool) -> str:
    if name.startswith(f"{CHANNEL}="):
        value = name.split("=", 1)[1]
        return f"came via {value}" if high else f"not via {value}"
    words = PHRASES.get(name)
    if words is None:
        return f"{'high' if high else 'low'} {name}"
    return words[0] if high else words[1]


def _mean(values: np.ndarray) -> float:
    known = values[~np.isnan(values)]
    return float(known.mean()) if len(known) else float("nan")


def _number(value: float) -> str:
    return "n/a" if not np.isfinite(value) else f"{value:,.3g}"


def describe_clusters(design: Design, labels: np.ndarray, k: int) -> list[dict]:
    """Size and the three traits that set each cluster apart (largest |standardised
    difference of means|), with the cluster's mean vs everyone's in plain units."""
    described = []
    for cluster in range(k):
        members = labels == cluster
        diffs = (
            design.matrix[members].mean(axis=0) if members.any() else np.zeros(len(design.columns))
        )
        order = np.argsort(-np.abs(diffs))
        traits, phrases = [], []
        for j in order[:3]:
            name = design.columns[j]
            high = bool(diffs[j] > 0)
            values = design.raw.get(name)
            if values is not None and (name.startswith(f"{CHANNEL}=") or name == "is_buyer"):
                traits.append(
                    f"{name}: {_mean(values[members]):.0%} (everyone: {_mean(values):.0%})"
                )
            elif values is not None:
                traits.append(
                    f"{name} {'high' if high else 'low'} (mean {_number(_mean(values[members]))}"
                    f" vs {_number(_mean(values))})"
                )
            else:
                traits.append(f"{name} {'high' if high else 'low'}")
            phrases.append(_phrase(name, high))
        described.append(
            {
                "cluster_id": cluster + 1,
                "label": ", ".join(dict.fromkeys(phrases[:2])),
                "persons": int(members.sum()),
                "share": float(members.mean()) if len(labels) else 0.0,
                "traits": traits,
                "profile": {c: float(d) for c, d in zip(design.columns, diffs, strict=True)},
            }
        )
    return described


def discover(
    table: pa.Table, k: int | None, k_values: range, progress: Callable[[str], None]
) -> tuple[np.ndarray, np.ndarray, dict[int, float], list[dict], Design, dict[str, float]]:
    timings: dict[str, float] = {}
    started = time.perf_counter()
    numeric = [c for c in (*RFM, *ENGAGEMENT) if c in table.column_names]
    design = build_design(table, numeric)
    timings["prepare"] = time.perf_counter() - started
    started = time.perf_counter()
    scores = choose_k(design.matrix, k_values)
    timings["choose_k"] = time.perf_counter() - started
    if k is None:
        if not scores:
            raise NotEnoughDataError(f"{len(design.matrix)} persons: too few to compare any k")
        k = max(scores, key=lambda key: scores[key])
    progress(
        "silhouette by k: "
        + ", ".join(f"k={key}: {v:.3f}" for key, v in scores.items())
        + f" -> k={k}"
    )
    started = time.perf_counter()
    model = _fit(design.matrix, k)
    labels = model.predict(design.matrix)
    distance = np.sqrt(((design.matrix - model.cluster_centers_[labels]) ** 2).sum(axis=1))
    timings["fit_all"] = time.perf_counter() - started
    return labels, distance, scores, describe_clusters(design, labels, k), design, timings


def clustered_persons_sql(reader: Session, config: MLConfig, wanted: list[str]) -> str:
    """The persons at the scoring cutoff with their features; with the profiles, also every
    profile without a feature row (null features: no activity)."""
    features = (
        f"select person_id, {', '.join(wanted)} from {config.features_relation} "
        f"where cutoff_date = cast({placeholder(reader)} as date)"
    )
    relation = config.persons_relation
    if relation is None or not reader.table_exists(*relation.split(".", 1)):
        return f"{features} order by person_id"
    columns = ", ".join(f"f.{c}" for c in wanted)
    return (
        f"with features as ({features}), persons as (select person_id from {relation}) "
        f"select coalesce(f.person_id, p.person_id) as person_id, {columns} "
        "from features f full outer join persons p on p.person_id = f.person_id "
        "order by 1"
    )


def discover_and_publish(
    reader: Session,
    writer: Session,
    config: MLConfig,
    chart_dir: Path,
    k: int | None = None,
    progress: Callable[[str], None] = lambda _msg: None,
) -> ClusterOutcome:
    started = time.perf_counter()
    cutoff = latest_feature_cutoff(reader, config)
    available = {n for n, _ in reader.columns(config.features_schema, config.features_table)}
    wanted = [c for c in (*RFM, *ENGAGEMENT, CHANNEL) if c in available]
    if not wanted:
        raise MLError(f"{config.features_relation} has none of the clustering features {RFM}")
    table = reader.arrow(clustered_persons_sql(reader, config, wanted), [cutoff.isoformat()])
    if table.num_rows < MIN_PERSONS:
        raise NotEnoughDataError(
            f"{table.num_rows} persons at cutoff {cutoff}; clustering needs {MIN_PERSONS}"
        )
    if k is not None and not 2 <= k < table.num_rows:
        raise MLError(f"--k {k}: need 2 <= k < {table.num_rows} (persons)")
    labels, distance, scores, clusters, design, timings = discover(
        table, k, range(config.cluster_k_min, config.cluster_k_max + 1), progress
    )
    chosen = len(clusters)
    names = {c["cluster_id"]: c["label"] for c in clusters}
    clustered_at = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    n = table.num_rows
    ids = labels.astype(np.int32) + 1
    rows = pa.table(
        {
            "person_id": table.column("person_id"),
            "cluster_id": pa.array(ids, pa.int32()),
            "cluster_label": pa.array([names[int(i)] for i in ids], pa.string()),
            "distance_to_center": pa.array(distance, pa.float64()),
            "feature_cutoff_date": pa.array([cutoff] * n, pa.date32()),
            "clustered_at": pa.array([clustered_at] * n, pa.timestamp("us")),
        }
    )
    profiles = pa.table(
        {
            "cluster_id": pa.array([c["cluster_id"] for c in clusters], pa.int32()),
            "cluster_label": pa.array([c["label"] for c in clusters], pa.string()),
            "persons": pa.array([c["persons"] for c in clusters], pa.int64()),
            "share": pa.array([c["share"] for c in clusters], pa.float64()),
            "traits": pa.array(["; ".join(c["traits"]) for c in clusters], pa.string()),
            "silhouette": pa.array([scores.get(chosen, float("nan"))] * chosen, pa.float64()),
            "feature_cutoff_date": pa.array([cutoff] * chosen, pa.date32()),
        }
    )
    started_write = time.perf_counter()
    writer.write_df(rows, config.scores_schema, config.clusters_table, mode="replace")
    writer.write_df(profiles, config.scores_schema, "cluster_profiles", mode="replace")
    timings["write"] = time.perf_counter() - started_write
    chart = None
    if config.write_charts:
        from ml.plots import cluster_chart

        chart = cluster_chart(clusters, design.columns, scores, chart_dir / "clusters.png")
    return ClusterOutcome(
        cutoff=cutoff,
        persons=n,
        k=chosen,
        silhouette=scores.get(chosen, float("nan")),
        silhouette_by_k=scores,
        clusters=clusters,
        features=design.columns,
        relation=config.clusters_relation,
        chart=chart,
        seconds=time.perf_counter() - started,
        seconds_by_step=timings,
    )
