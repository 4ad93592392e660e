"""How a training outcome reads in the Dagster UI: validation metrics beside the baseline
and BG/NBD with their intervals, the lift and reliability tables, the charts inlined as
images, and the champion / "does not beat its baseline" flag."""

import base64
from pathlib import Path

from dagster import MetadataValue

HEADLINE = ("roc_auc", "pr_auc", "log_loss", "top_decile_lift", "top_3_deciles_gain")


def interval_metadata(evaluation: dict) -> dict:
    intervals = evaluation.get("intervals", {})
    meta: dict = {}
    for group, label in (("model_vs_baseline", "baseline"), ("model_vs_btyd", "btyd")):
        for metric, found in intervals.get(group, {}).items():
            meta[f"model_minus_{label}_{metric}"] = float(found["difference"])
            meta[f"model_minus_{label}_{metric}_ci"] = (
                f"{found['low']:+.4f} to {found['high']:+.4f}"
            )
    return meta


def flag_text(outcome) -> str:  # noqa: ANN001 - ml.pipeline.TrainOutcome
    decision = outcome.decision
    parts = []
    if not outcome.evaluation.get("beats_baseline", True):
        parts.append(
            f"⚠ DOES NOT BEAT ITS BASELINE ({outcome.evaluation['baseline_description']}) "
            f"on {decision['metric']} with 95% confidence"
        )
    parts.append("champion" if decision["promoted"] else "not promoted")
    parts.append(decision.get("reason", ""))
    return " | ".join(p for p in parts if p)


def training_metadata(outcome) -> dict:  # noqa: ANN001 - ml.pipeline.TrainOutcome
    evaluation = outcome.evaluation
    manifest = outcome.manifest
    meta: dict = {
        "flag": MetadataValue.text(flag_text(outcome)),
        "champion": bool(outcome.promoted),
        "beats_baseline": bool(evaluation.get("beats_baseline", True)),
        "model_version": outcome.version,
        "promoted_to_champion": outcome.promoted,
        "evaluated_on_cutoff": evaluation.get("evaluated_on_cutoff", ""),
        "label_horizon_days": int(manifest.get("label_horizon_days", 0)),
        "task_horizon_days": int(manifest.get("horizon_days", 0)),
        "training_plan": MetadataValue.md("\n".join(f"- {line}" for line in manifest["plan"])),
        "baseline": evaluation.get("baseline_description", ""),
        "registry_path": MetadataValue.path(str(outcome.path)),
        "metrics": MetadataValue.md(metrics_markdown(evaluation)),
        "lift_by_decile": MetadataValue.md(_lift_markdown(evaluation["model"]["lift"])),
        "reliability_bins": MetadataValue.md(
            reliability_markdown(evaluation["model"]["reliability"])
        ),
        **interval_metadata(evaluation),
    }
    for name in HEADLINE:
        meta[f"model_{name}"] = float(evaluation["model"][name])
        meta[f"baseline_{name}"] = float(evaluation["baseline"][name])
        if "btyd" in evaluation:
            meta[f"btyd_{name}"] = float(evaluation["btyd"][name])
    for chart, label in (("lift_gains.png", "lift_chart"), ("reliability.png", "reliability")):
        image = markdown_image(outcome.path / chart, label)
        if image:
            meta[label] = MetadataValue.md(image)
    return meta


def metrics_markdown(evaluation: dict) -> str:
    has_btyd = "btyd" in evaluation
    head = "| metric | model | baseline |" + (" BG/NBD |" if has_btyd else "")
    rows = [head, "|---|---:|---:|" + ("---:|" if has_btyd else "")]
    for name in HEADLINE:
        row = f"| {name} | {evaluation['model'][name]:.4f} | {evaluation['baseline'][name]:.4f} |"
        if has_btyd:
            row += f" {evaluation['btyd'][name]:.4f} |"
        rows.append(row)
    return "\n".join(rows)


def reliability_markdown(reliability: list[dict]) -> str:
    rows = [
        "| bin | predicted range | rows | mean predicted | observed rate |",
        "|---:|---|---:|---:|---:|",
    ]
    for r in reliability:
        predicted = "-" if r["mean_predicted"] is None else f"{r['mean_predicted']:.3f}"
        observed = "-" if r["observed_rate"] is None else f"{r['observed_rate']:.3f}"
        rows.append(
            f"| {r['bin']} | {r['lower']:.1f}-{r['upper']:.1f} | {r['rows']:,} | {predicted} "
            f"| {observed} |"
        )
    return "\n".join(rows)


def _lift_markdown(lift: list[dict]) -> str:
    rows = [
        "| decile | rows | positive rate | lift | cumulative gain |",
        "|---:|---:|---:|---:|---:|",
    ]
    for r in lift:
        rows.append(
            f"| {r['decile']} | {r['rows']:,} | {r['positive_rate']:.3f} | {r['lift']:.2f} "
            f"| {r['cumulative_gain']:.2f} |"
        )
    return "\n".join(rows)


def markdown_image(path: Path | None, label: str) -> str | None:
    if path is None or not path.exists():
        return None
    encoded = base64.b64encode(path.read_bytes()).decode("ascii")
    return f"![{label}](data:image/png;base64,{encoded})"
