"""Metadata the UI shows on each asset: row counts, identity statistics, segment sizes."""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping
from typing import Any

import pandas as pd
from dagster import MetadataValue

from tessera.warehouse import Warehouse, WarehouseError

ROW_COUNT = "dagster/row_count"


def relation_metadata(warehouse: Warehouse, relations: Mapping[str, str]) -> dict[str, dict]:
    """Row count of each relation, plus the identity statistics table where it is built."""
    out: dict[str, dict] = {}
    try:
        with warehouse.session(read_only=True) as session:
            for uid, relation in relations.items():
                meta: dict[str, Any] = {
                    ROW_COUNT: int(session.scalar(f"select count(*) from {relation}"))
                }
                if _relation_name(relation) == "identity_stats":
                    stats = session.df(f"select * from {relation}")
                    meta["identity_stats"] = frame_markdown(stats)
                    meta.update(identity_stat_values(stats))
                    chart = cluster_size_chart(stats)
                    if chart is not None:
                        meta["cluster_sizes"] = chart
                out[uid] = meta
    except WarehouseError:
        return out  # metadata is best effort; the build itself succeeded
    return out


# Metrics whose dimension names one record (a person id), not a category: keyed by the metric
# alone, so the UI can plot it across materialisations, with the id beside it.
_DIMENSION_IS_AN_ID = {"largest_cluster_identifiers": "largest_cluster_person_id"}
CLUSTER_SIZE_METRIC = "cluster_size_persons"


def identity_stat_values(stats: pd.DataFrame, limit: int = 60) -> dict[str, float | str]:
    """`identity/<metric>[/<dimension>]` -> value, for identity_stats' (metric, dimension,
    value) rows, so the UI can plot them across materialisations."""
    if not {"metric", "value"} <= set(stats.columns):
        return {}
    values: dict[str, float | str] = {}
    for row in stats.head(limit).itertuples(index=False):
        value = pd.to_numeric(row.value, errors="coerce")
        if pd.isna(value):
            continue
        dimension = getattr(row, "dimension", None)
        has_dimension = isinstance(dimension, str) and bool(dimension)
        if row.metric in _DIMENSION_IS_AN_ID:
            values[f"identity/{row.metric}"] = float(value)
            if has_dimension:
                values[f"identity/{_DIMENSION_IS_AN_ID[row.metric]}"] = dimension
            continue
        suffix = f"/{dimension}" if has_dimension else ""
        values[f"identity/{row.metric}{suffix}"] = float(value)
    return values


def cluster_size_chart(stats: pd.DataFrame) -> MetadataValue | None:
    """Persons per cluster size (identifiers per person) as a bar chart, from identity_stats."""
    if not {"metric", "dimension", "value"} <= set(stats.columns):
        return None
    sizes = stats[stats["metric"] == CLUSTER_SIZE_METRIC].sort_values("dimension")
    if sizes.empty:
        return None
    # dimensions read "01: 1", "05: 11-50": the prefix only orders them
    labels = [str(d).split(": ", 1)[-1] for d in sizes["dimension"]]
    counts = [float(v) for v in sizes["value"]]
    return png_markdown(
        bar_chart_png(labels, counts, "identifiers per person", "persons", "Cluster sizes"),
        "cluster sizes",
    )


def bar_chart_png(
    labels: list[str], values: list[float], xlabel: str, ylabel: str, title: str
) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 3.6))
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    bars = ax.bar(labels, values, color="#1f6feb")
    ax.bar_label(bars, labels=[f"{v:,.0f}" for v in values], fontsize=8)
    ax.set_yscale(
        "log" if max(values, default=0) > 50 * max(min(values, default=1), 1) else "linear"
    )
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    fig.tight_layout()
    buffer = io.BytesIO()
    canvas.print_png(buffer)
    return buffer.getvalue()


def png_markdown(png: bytes, label: str) -> MetadataValue:
    """A PNG shown inline in the asset's metadata (the UI renders markdown images)."""
    encoded = base64.b64encode(png).decode("ascii")
    return MetadataValue.md(f"![{label}](data:image/png;base64,{encoded})")


def frame_markdown(df: pd.DataFrame, max_rows: int = 50) -> MetadataValue:
    return MetadataValue.md(df.head(max_rows).to_markdown(index=False))


def table_row_count(warehouse: Warehouse, relation: str) -> int:
    with warehouse.session(read_only=True) as session:
        return int(session.scalar(f"select count(*) from {relation}"))


def _relation_name(relation: str) -> str:
    return relation.split(".")[-1].strip('"').lower()
