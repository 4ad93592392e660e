"""Segment size over time as a PNG, SVG or PDF (matplotlib, headless Agg backend).

matplotlib is imported when a chart is drawn, so the command line can check an output name
(`chart_format`) without paying for it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

# File suffix -> matplotlib format: the ones its headless backends write without extras.
CHART_FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}


def chart_format(path: Path) -> str:
    """The format a chart file's suffix names (in any case); ValueError naming the suffix
    otherwise, so a chart is never written in a format its file name does not say."""
    suffix = path.suffix.lower()
    if suffix in CHART_FORMATS:
        return CHART_FORMATS[suffix]
    given = f"ends in {path.suffix!r}" if path.suffix else "has no suffix"
    accepted = " or ".join(", ".join(CHART_FORMATS).rsplit(", ", 1))
    raise ValueError(
        f"chart file {path.name!r} {given}: the chart's format follows the suffix, "
        f"so use {accepted}"
    )


def plot_segment_sizes(history: pd.DataFrame, path: Path, title: str = "Segment size") -> Path:
    """One line per segment from `size_history`, in the format `path`'s suffix names (.png,
    .svg or .pdf); raises ValueError, writing nothing, for another suffix or no history."""
    image_format = chart_format(path)
    if history.empty:
        raise ValueError(
            "no segment size history yet: run `tessera segments refresh` after building segments"
        )
    import matplotlib

    matplotlib.use("Agg")  # headless: no display on servers or in CI
    import matplotlib.pyplot as plt
    import pandas as pd

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
        figure.savefig(path, format=image_format)
    finally:
        plt.close(figure)
    return path
