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
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("mean predicted probability (10 bins)")
    ax.set_ylabel("observed positive rate")
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8)
    return _save(fig, path)
