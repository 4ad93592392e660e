"""Model, baseline and BG/NBD evaluated on the same rows, side by side, plus the charts.

Differences in the ranking metrics come with paired bootstrap confidence intervals
(ml/bootstrap.py): a model "beats" a reference only when the interval of the difference on
the champion metric lies above zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from ml.baseline import Baseline
from ml.bootstrap import paired_differences_to
from ml.metrics import evaluate_scores
from ml.plots import lift_gains_chart, reliability_chart

HEADLINE = ("roc_auc", "pr_auc", "log_loss", "top_decile_lift", "top_3_deciles_gain")
INTERVAL_METRICS = ("roc_auc", "pr_auc")


@dataclass(frozen=True)
class Reference:
    """Another ranker judged beside the baseline (BG/NBD): its ranking and probabilities."""

    description: str
    rank: np.ndarray
    probability: np.ndarray


def _intervals(
    y: np.ndarray, model: np.ndarray, references: dict[str, np.ndarray], rounds: int
) -> dict:
    """model - reference for each reference, from one pass of bootstrap rounds."""
    intervals = paired_differences_to(y, model, references, INTERVAL_METRICS, rounds, seed=17)
    return {
        f"model_vs_{name}": {metric: iv.to_dict() for metric, iv in by_metric.items()}
        for name, by_metric in intervals.items()
    }


def compare_with_baseline(
    model_name: str,
    cutoff: date,
    y: np.ndarray,
    probability: np.ndarray,
    baseline: Baseline,
    frame: pd.DataFrame,
    reference: Reference | None = None,
    bootstrap_rounds: int = 0,
    metric: str = "pr_auc",
) -> dict:
    model = evaluate_scores(y, probability, probability)
    base_rank = baseline.rank_score(frame)
    base = evaluate_scores(y, base_rank, baseline.probability(frame))
    evaluation = {
        "model_name": model_name,
        "evaluated_on_cutoff": cutoff.isoformat(),
        "baseline_description": baseline.spec.describe(),
        "model": model,
        "baseline": base,
        "model_minus_baseline": {k: model[k] - base[k] for k in HEADLINE},
        "baseline_calibration": baseline.to_dict(),
    }
    if reference is not None:
        btyd = evaluate_scores(y, reference.rank, reference.probability)
        evaluation["btyd_description"] = reference.description
        evaluation["btyd"] = btyd
        evaluation["model_minus_btyd"] = {k: model[k] - btyd[k] for k in HEADLINE}
    if bootstrap_rounds:
        references = {"baseline": base_rank}
        if reference is not None:
            references["btyd"] = reference.rank
        evaluation["intervals"] = {
            "metric": metric,
            "rounds": bootstrap_rounds,
            **_intervals(y, probability, references, bootstrap_rounds),
        }
        verdict = evaluation["intervals"]["model_vs_baseline"][metric]
        evaluation["beats_baseline"] = bool(verdict["low"] > 0)
    else:
        evaluation["beats_baseline"] = bool(model[metric] > base[metric])
    return evaluation


def write_charts(evaluation: dict, directory: Path) -> list[Path]:
    title = f"{evaluation['model_name']} on cutoff {evaluation['evaluated_on_cutoff']}"
    return [
        lift_gains_chart(evaluation, title, directory / "lift_gains.png"),
        reliability_chart(evaluation, title, directory / "reliability.png"),
    ]
