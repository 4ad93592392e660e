"""What `tessera ml` prints: metric tables, intervals, verdicts and cluster tables."""

from __future__ import annotations

import math

from rich.table import Table


def _fmt(value: float | None) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.3f}"


METRIC_ROWS = (
    ("ROC AUC", "roc_auc"),
    ("PR AUC", "pr_auc"),
    ("log loss (lower is better)", "log_loss"),
    ("calibration error (ECE)", "expected_calibration_error"),
    ("lift, top decile", "top_decile_lift"),
    ("share of positives in top 30%", "top_3_deciles_gain"),
)


def metrics_table(evaluation: dict, title: str) -> Table:
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("model", justify="right")
    table.add_column(f"baseline: {evaluation['baseline_description']}", justify="right")
    has_btyd = "btyd" in evaluation
    if has_btyd:
        table.add_column(evaluation["btyd_description"], justify="right")
    table.add_column("model - baseline", justify="right")
    for label, key in METRIC_ROWS:
        model, base = evaluation["model"][key], evaluation["baseline"][key]
        row = [label, _fmt(model), _fmt(base)]
        if has_btyd:
            row.append(_fmt(evaluation["btyd"][key]))
        row.append(_fmt(model - base))
        table.add_row(*row)
    model = evaluation["model"]
    horizon = evaluation.get("label_horizon_days")
    table.caption = (
        f"{model['rows']:,} rows, {model['positives']:,} positive "
        f"({model['positive_rate']:.1%}) on cutoff {evaluation['evaluated_on_cutoff']}"
        + (f", {horizon}-day outcome window" if horizon else "")
    )
    return table


def interval_lines(evaluation: dict) -> list[str]:
    """The bootstrap intervals of the differences, one line each."""
    intervals = evaluation.get("intervals")
    if not intervals:
        return []
    lines = []
    for key, against in (("model_vs_baseline", "baseline"), ("model_vs_btyd", "BG/NBD")):
        for metric, label in (("roc_auc", "ROC AUC"), ("pr_auc", "PR AUC")):
            found = intervals.get(key, {}).get(metric)
            if found:
                lines.append(
                    f"model - {against}, {label}: {found['difference']:+.4f} "
                    f"(95% CI {found['low']:+.4f} to {found['high']:+.4f}, "
                    f"{intervals['rounds']} bootstrap rounds)"
                )
    return lines


def baseline_warning(name: str, evaluation: dict) -> str | None:
    """The loud flag for a model that does not beat its baseline (None when it does)."""
    if evaluation.get("beats_baseline", True):
        return None
    metric = evaluation.get("intervals", {}).get("metric", "pr_auc")
    return (
        f"WARNING: {name} does NOT beat its baseline ({evaluation['baseline_description']}) "
        f"on {metric} with 95% confidence. Its scores are no better than the baseline's "
        "ranking: check the features and the label before acting on them."
    )


def verdict_line(outcome) -> str:  # noqa: ANN001 - ml.pipeline.TrainOutcome
    decision = outcome.decision
    if decision["promoted"]:
        head = "now the champion" if decision["champion_version"] is None else "promoted"
    else:
        head = "registered, champion unchanged"
    detail = decision["reason"]
    if decision.get("champion_interval"):
        ci = decision["champion_interval"]
        detail += (
            f"; vs champion {decision['champion_version']} on {decision['metric']}: "
            f"{ci['difference']:+.4f} (95% CI {ci['low']:+.4f} to {ci['high']:+.4f})"
        )
    elif decision["champion_value"] is not None and not math.isnan(decision["champion_value"]):
        detail += (
            f"; {decision['metric']} {decision['challenger_value']:.4f} vs champion "
            f"{decision['champion_version']} {decision['champion_value']:.4f} "
            f"({decision['champion_measured_by']})"
        )
    return f"{outcome.model}: {head} ({detail})"


def cluster_table(outcome) -> Table:  # noqa: ANN001 - ml.clusters.ClusterOutcome
    table = Table(
        title=f"{outcome.k} discovered segments of {outcome.persons:,} persons -> "
        f"{outcome.relation} (silhouette {outcome.silhouette:.3f})"
    )
    table.add_column("cluster", justify="right")
    table.add_column("label")
    table.add_column("persons", justify="right")
    table.add_column("what sets it apart")
    for cluster in outcome.clusters:
        table.add_row(
            str(cluster["cluster_id"]),
            cluster["label"],
            f"{cluster['persons']:,}",
            "; ".join(cluster["traits"]),
        )
    table.caption = "k by silhouette: " + ", ".join(
        f"k={k}: {s:.3f}" for k, s in outcome.silhouette_by_k.items()
    )
    return table
