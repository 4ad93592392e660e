"""PNG charts of an evaluation: lift and cumulative gains, and reliability (calibration).

Uses matplotlib's object API with the Agg canvas, so no display and no pyplot global state.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

MODEL_COLOUR = "#1f6feb"
BASELINE_COLOUR = "#d29922"


def _save(fig: Figure, path: Path) -> Path:
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=100)
    return path


def lift_gains_chart(evaluation: dict, title: str, path: Path) -> Path:
    model, baseline = evaluation["model"], evaluation["baseline"]
    fig = Figure(figsize=(11, 4.8))
    fig.subplots_adjust(left=0.06, right=0.98, bottom=0.12, top=0.86, wspace=0.2)
    gains, lift = fig.subplots(1, 2)
    for name, metrics, colour in (
        ("model", model, MODEL_COLOUR),
        (f"baseline ({evaluation['baseline_description']})", baseline, BASELINE_COLOUR),
    ):
        xs = [0.0] + [r["cumulative_share_of_rows"] for r in metrics["lift"]]
        ys = [0.0] + [r["cumulative_gain"] for r in metrics["lift"]]
        gains.plot(xs, ys, marker="o", color=colour, label=name)
    gains.plot([0, 1], [0, 1], linestyle="--", color="grey", label="random")
    gains.set_xlabel("share of persons targeted (highest scores first)")
    gains.set_ylabel("share of positives captured")
    gains.set_title("Cumulative gains")
    gains.legend(loc="lower right", fontsize=8)

    deciles = [r["decile"] for r in model["lift"]]
    positions = range(len(deciles))
    width = 0.4
    lift.bar(
        [p - width / 2 for p in positions],
        [r["lift"] for r in model["lift"]],
        width,
        color=MODEL_COLOUR,
        label="model",
    )
    lift.bar(
        [p + width / 2 for p in positions],
        [r["lift"] for r in baseline["lift"]],
        width,
        color=BASELINE_COLOUR,
        label="baseline",
    )
    lift.axhline(1.0, linestyle="--", color="grey")
    lift.set_xticks(list(positions), [str(d) for d in deciles])
    lift.set_xlabel("decile (10 = highest scores)")
    lift.set_ylabel("lift over average rate")
    lift.set_title("Lift by decile")
    lift.legend(fontsize=8)
    fig.suptitle(title)
    return _save(fig, path)


def reliability_chart(evaluation: dict, title: str, path: Path) -> Path:
    fig = Figure(figsize=(5.5, 5.5))
    fig.subplots_adjust(left=0.13, right=0.96, bottom=0.1, top=0.93)
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    for name, metrics, colour in (
        ("model", evaluation["model"], MODEL_COLOUR),
        ("baseline", evaluation["baseline"], BASELINE_COLOUR),
    ):
        points = [r for r in metrics["reliability"] if r["rows"]]
        ax.plot(
            [r["mean_predicted"] for r in points],
            [r["observed_rate"] for r in points],
            marker="o",
            color=colour,
            label=f"{name} (ECE {metrics['expected_calibration_error']:.3f})",
        )
        if name == "model":
            # how many rows each point stands on: a bin of 12 people says little
            for r in points:
                ax.annotate(
                    f"n={r['rows']:,}",
                    (r["mean_predicted"], r["observed_rate"]),
                    textcoords="offset points",
                    xytext=(4, -10),
                    fontsize=7,
                    color=colour,
                )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("mean predicted probability (10 bins; model points labelled with rows)")
    ax.set_ylabel("observed positive rate")
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8)
    return _save(fig, path)


def cluster_chart(
    clusters: list[dict], features: tuple[str, ...], silhouette: dict[int, float], path: Path
) -> Path:
    """Sizes (bars), profiles (standardised mean per feature, heat map) and the silhouette
    score of each k tried."""
    fig = Figure(figsize=(14, 5.4))
    fig.subplots_adjust(left=0.16, right=0.97, bottom=0.3, top=0.88, wspace=0.6)
    grid = fig.add_gridspec(1, 4)
    sizes = fig.add_subplot(grid[0, 0])
    heat = fig.add_subplot(grid[0, 1:3])
    scores = fig.add_subplot(grid[0, 3])
    ids = [f"{c['cluster_id']}: {c['label']}" for c in clusters]
    sizes.barh(ids, [c["persons"] for c in clusters], color=MODEL_COLOUR)
    sizes.tick_params(axis="y", labelsize=7)
    for y, c in enumerate(clusters):
        sizes.text(c["persons"], y, f" {c['share']:.0%}", va="center", fontsize=8)
    sizes.invert_yaxis()
    sizes.set_xlabel("persons")
    sizes.set_ylabel("cluster")
    sizes.set_title("Cluster sizes")
    matrix = [[c["profile"][f] for f in features] for c in clusters]
    image = heat.imshow(matrix, aspect="auto", cmap="RdBu_r", vmin=-2, vmax=2)
    heat.set_yticks(range(len(ids)), [str(c["cluster_id"]) for c in clusters])
    heat.set_xticks(range(len(features)), features, rotation=60, ha="right", fontsize=7)
    heat.set_title("Profile: mean in standard deviations from everyone")
    fig.colorbar(image, ax=heat, fraction=0.04)
    ks = sorted(silhouette)
    chosen = len(clusters)
    scores.plot(ks, [silhouette[k] for k in ks], marker="o", color=BASELINE_COLOUR)
    if chosen in silhouette:
        scores.plot([chosen], [silhouette[chosen]], marker="o", color=MODEL_COLOUR, markersize=10)
    scores.set_xlabel("k")
    scores.set_ylabel("silhouette (sample)")
    scores.set_title("Choosing k")
    fig.suptitle(f"Discovered segments: k = {chosen}")
    return _save(fig, path)
