"""Model and baseline evaluated on the same rows, side by side, plus the charts."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from ml.baseline import Baseline
from ml.metrics import evaluate_scores
from ml.plots import lift_gains_chart, reliability_chart

HEADLINE = ("roc_auc", "pr_auc", "log_loss", "top_decile_lift", "top_3_deciles_gain")


def compare_with_baseline(
    model_name: str,
    cutoff: date,
    y: np.ndarray,
    probability: np.ndarray,
    baseline: Baseline,
    frame: pd.DataFrame,
) -> dict:
    model = evaluate_scores(y, probability, probability)
    base = evaluate_scores(y, baseline.rank_score(frame), baseline.probability(frame))
    return {
        "model_name": model_name,
        "evaluated_on_cutoff": cutoff.isoformat(),
        "baseline_description": baseline.spec.describe(),
        "model": model,
        "baseline": base,
        "model_minus_baseline": {k: model[k] - base[k] for k in HEADLINE},
        "baseline_calibration": baseline.to_dict(),
    }


def write_charts(evaluation: dict, directory: Path) -> list[Path]:
    title = f"{evaluation['model_name']} on cutoff {evaluation['evaluated_on_cutoff']}"
    return [
        lift_gains_chart(evaluation, title, directory / "lift_gains.png"),
        reliability_chart(evaluation, title, directory / "reliability.png"),
    ]
