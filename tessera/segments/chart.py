"""Segment size over time as a PNG (matplotlib, headless Agg backend)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: no display on servers or in CI

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402


def plot_segment_sizes(history: pd.DataFrame, path: Path, title: str = "Segment size") -> Path:
    """One line per segment from `size_history`; raises ValueError when there is no history."""
    if history.empty:
        raise ValueError(
            "no segment size history yet: run `tessera segments refresh` after building segments"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    figure, axes = plt.subplots(figsize=(10, 5.5), dpi=110)
    try:
        for segment, rows in history.groupby("segment", sort=True):
            rows = rows.sort_values("measured_at")
            axes.plot(
                pd.to_datetime(rows["measured_at"]),
                rows["size"],
                marker="o",
                markersize=3,
                label=str(segment),
            )
        axes.set_title(title)
        axes.set_xlabel("measured at (UTC)")
        axes.set_ylabel("persons in segment")
        axes.grid(True, alpha=0.3)
        axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
        figure.autofmt_xdate()
        figure.tight_layout()
        figure.savefig(path, format="png")
    finally:
        plt.close(figure)
    return path
