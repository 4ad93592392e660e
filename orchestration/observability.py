"""Metadata the UI shows on each asset: row counts, identity statistics, segment sizes."""

from __future__ import annotations

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
                out[uid] = meta
    except WarehouseError:
        return out  # metadata is best effort; the build itself succeeded
    return out


def identity_stat_values(stats: pd.DataFrame, limit: int = 40) -> dict[str, float]:
    """`identity/<metric>[/<dimension>]` -> value, for identity_stats' (metric, dimension,
    value) rows, so the UI can plot them across materialisations."""
    if not {"metric", "value"} <= set(stats.columns):
        return {}
    values: dict[str, float] = {}
    for row in stats.head(limit).itertuples(index=False):
        value = pd.to_numeric(row.value, errors="coerce")
        if pd.isna(value):
            continue
        dimension = getattr(row, "dimension", None)
        suffix = f"/{dimension}" if isinstance(dimension, str) and dimension else ""
        values[f"identity/{row.metric}{suffix}"] = float(value)
    return values


def frame_markdown(df: pd.DataFrame, max_rows: int = 50) -> MetadataValue:
    return MetadataValue.md(df.head(max_rows).to_markdown(index=False))


def table_row_count(warehouse: Warehouse, relation: str) -> int:
    with warehouse.session(read_only=True) as session:
        return int(session.scalar(f"select count(*) from {relation}"))


def _relation_name(relation: str) -> str:
    return relation.split(".")[-1].strip('"').lower()
