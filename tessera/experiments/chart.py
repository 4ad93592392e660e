"""Lift with its 95% interval per experiment and metric, and revenue per person after entry
for treatment against holdout over time, as one PNG (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: no display on servers or in CI

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402


def plot_experiments(results: pd.DataFrame, revenue: pd.DataFrame, path: Path) -> Path:
    """Left: relative lift and interval per experiment and metric (0 marked). Right: weekly
    revenue per person of each experiment's arms. Raises ValueError when there is nothing."""
    if results.empty and revenue.empty:
        raise ValueError("no experiment results yet: build models/experiments after a sync")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure, (lift_axes, revenue_axes) = plt.subplots(1, 2, figsize=(13, 5), dpi=110)
    try:
        _plot_lift(lift_axes, results)
        _plot_revenue(revenue_axes, revenue)
        figure.tight_layout()
        figure.savefig(path, format="png")
    finally:
        plt.close(figure)
    return path


def _plot_lift(axes: plt.Axes, results: pd.DataFrame) -> None:
    rows = results.dropna(subset=["lift"]).reset_index(drop=True)
    labels = [f"{r.experiment}\n{r.metric} ({r.arm_treatment})" for r in rows.itertuples()]
    for i, row in enumerate(rows.itertuples()):
        low = row.ci_low if pd.notna(row.ci_low) else row.lift
        high = row.ci_high if pd.notna(row.ci_high) else row.lift
        color = "tab:green" if low > 0 else "tab:red" if high < 0 else "tab:gray"
        axes.plot([low * 100, high * 100], [i, i], color=color, linewidth=3, alpha=0.6)
        axes.plot(row.lift * 100, i, "o", color=color)
    axes.axvline(0, color="black", linewidth=1)
    axes.set_yticks(range(len(rows)), labels, fontsize="small")
    axes.invert_yaxis()
    axes.set_xlabel("relative lift against the holdout, % (95% interval)")
    axes.set_title("Lift per experiment" if len(rows) else "Lift: no holdout conversions yet")
    axes.grid(True, axis="x", alpha=0.3)


def _plot_revenue(axes: plt.Axes, revenue: pd.DataFrame) -> None:
    rows = revenue[revenue["experiment"] != "(none)"]
    for (experiment, arm), part in rows.groupby(["experiment", "arm"], sort=True):
        part = part.sort_values("week_start")
        axes.plot(
            pd.to_datetime(part["week_start"]),
            part["revenue_per_person"].cumsum(),
            marker="o",
            markersize=3,
            linestyle="--" if arm == "holdout" else "-",
            label=f"{experiment}: {arm}",
        )
    axes.set_title("Revenue per person after entry, cumulative by week")
    axes.set_ylabel("revenue per person")
    axes.grid(True, alpha=0.3)
    if not rows.empty:
        axes.legend(fontsize="small")
    for label in axes.get_xticklabels():
        label.set_rotation(30)
