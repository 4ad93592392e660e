"""`tessera ml train | evaluate | score`: registered by tessera/cli.py via `register`."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from datetime import date
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ml.config import MLConfig
from ml.errors import MLError
from tessera.settings import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "ml", help="propensity models: train, evaluate and score (LightGBM)"
    )
    sub = parser.add_subparsers(dest="ml_command", required=True)

    train = sub.add_parser("train", help="train, evaluate against the baseline, register")
    _common(train)
    train.set_defaults(func=cmd_train)

    evaluate = sub.add_parser(
        "evaluate", help="re-evaluate a registered model on a labelled cutoff"
    )
    _common(evaluate)
    evaluate.add_argument("--version", default=None, help="model version (default: champion)")
    evaluate.add_argument(
        "--cutoff",
        type=date.fromisoformat,
        default=None,
        help="labelled cutoff to evaluate on (default: the latest)",
    )
    evaluate.set_defaults(func=cmd_evaluate)

    score = sub.add_parser("score", help="score the latest cutoff into ml.person_scores")
    _common(score)
    score.add_argument("--version", default=None, help="model version (default: champion)")
    score.set_defaults(func=cmd_score)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        action="append",
        default=None,
        help="model name (repeatable; default: every configured model)",
    )
    parser.add_argument("--config", type=Path, default=None, help="ml config YAML file")


def _models(args: argparse.Namespace, config: MLConfig) -> list[str]:
    names = args.model or [m.name for m in config.models]
    for name in names:
        config.model(name)  # unknown names fail here, before any work
    return names


def _fmt(value: float) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.3f}"


def metrics_table(evaluation: dict, title: str) -> Table:
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("model", justify="right")
    table.add_column(f"baseline: {evaluation['baseline_description']}", justify="right")
    table.add_column("model - baseline", justify="right")
    rows = (
        ("ROC AUC", "roc_auc"),
        ("PR AUC", "pr_auc"),
        ("log loss (lower is better)", "log_loss"),
        ("calibration error (ECE)", "expected_calibration_error"),
        ("lift, top decile", "top_decile_lift"),
        ("share of positives in top 30%", "top_3_deciles_gain"),
    )
    for label, key in rows:
        model, base = evaluation["model"][key], evaluation["baseline"][key]
        table.add_row(label, _fmt(model), _fmt(base), _fmt(model - base))
    model = evaluation["model"]
    table.caption = (
        f"{model['rows']:,} rows, {model['positives']:,} positive "
        f"({model['positive_rate']:.1%}) on cutoff {evaluation['evaluated_on_cutoff']}"
    )
    return table


def _each_model(names: list[str], verb: str, console: Console, fn: Callable[[str], None]) -> int:
    """Run `fn` per model; one model's MLError does not stop the others. Failures count."""
    failures = 0
    for name in names:
        try:
            fn(name)
        except MLError as exc:
            console.print(f"[red]ml {verb} {name} failed:[/red] {exc}")
            failures += 1
    return failures


def train_models(settings: Settings, config: MLConfig, names: list[str], console: Console) -> int:
    """Train each model; returns the number of models that failed (each explained)."""
    from ml.pipeline import train_and_register

    def train_one(name: str) -> None:
        with Progress(
            TextColumn(f"[bold]{name}[/bold] boosting"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as bar:
            task = bar.add_task("fit", total=config.lightgbm.num_boost_round)
            outcome = train_and_register(
                settings,
                config,
                name,
                progress=console.print,
                on_iteration=lambda done, _total: bar.update(task, completed=done),
            )
        console.print(metrics_table(outcome.evaluation, f"{name} version {outcome.version}"))
        decision = outcome.decision
        if decision["champion_version"] is None:
            verdict = "first model: now the champion"
        elif outcome.promoted:
            verdict = (
                f"beats champion {decision['champion_version']} on {decision['metric']} "
                f"({decision['challenger_value']:.4f} > {decision['champion_value']:.4f}, "
                f"{decision['champion_measured_by']}): promoted"
            )
        else:
            verdict = (
                f"does not beat champion {decision['champion_version']} on "
                f"{decision['metric']} ({decision['challenger_value']:.4f} <= "
                f"{decision['champion_value']:.4f}, {decision['champion_measured_by']}): "
                "registered, champion unchanged"
            )
        console.print(f"{name}: {verdict}")
        console.print(f"artifacts: {outcome.path}")

    return _each_model(names, "train", console, train_one)


def score_models(
    settings: Settings,
    config: MLConfig,
    names: list[str],
    console: Console,
    version: str | None = None,
) -> int:
    """Score each model's champion (or `version`); returns the number that failed."""
    from ml.pipeline import score_registered

    def score_one(name: str) -> None:
        with Progress(
            TextColumn(f"[bold]{name}[/bold] scoring"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as bar:
            task = bar.add_task("score", total=None)
            outcome = score_registered(
                settings,
                config,
                name,
                version,
                on_batch=lambda done, total: bar.update(task, completed=done, total=total),
            )
        console.print(
            f"{name} version {outcome.version}: scored {outcome.rows:,} persons at cutoff "
            f"{outcome.cutoff} in {outcome.seconds:.1f}s ({outcome.rows_per_second:,.0f} rows/s) "
            f"-> {config.scores_relation}"
        )

    return _each_model(names, "score", console, score_one)


def evaluate_models(
    settings: Settings,
    config: MLConfig,
    names: list[str],
    console: Console,
    version: str | None = None,
    cutoff: date | None = None,
) -> int:
    from ml.pipeline import evaluate_registered

    def evaluate_one(name: str) -> None:
        outcome = evaluate_registered(settings, config, name, version, cutoff)
        note = " (in-sample: trained on this cutoff)" if outcome.evaluation["in_sample"] else ""
        console.print(metrics_table(outcome.evaluation, f"{name} version {outcome.version}{note}"))
        console.print(f"evaluation: {outcome.path}")

    return _each_model(names, "evaluate", console, evaluate_one)


def _run(verb: str, job: Callable[[Console, MLConfig], int], args: argparse.Namespace) -> int:
    console = Console()
    try:
        config = MLConfig.load(args.config)
        return 1 if job(console, config) else 0
    except MLError as exc:  # configuration problems, before any model ran
        console.print(f"[red]ml {verb} failed:[/red] {exc}")
        return 1


def cmd_train(args: argparse.Namespace, settings: Settings) -> int:
    return _run(
        "train",
        lambda console, config: train_models(settings, config, _models(args, config), console),
        args,
    )


def cmd_evaluate(args: argparse.Namespace, settings: Settings) -> int:
    return _run(
        "evaluate",
        lambda console, config: evaluate_models(
            settings, config, _models(args, config), console, args.version, args.cutoff
        ),
        args,
    )


def cmd_score(args: argparse.Namespace, settings: Settings) -> int:
    return _run(
        "score",
        lambda console, config: score_models(
            settings, config, _models(args, config), console, args.version
        ),
        args,
    )


def demo_step(settings: Settings, console: Console, config: MLConfig | None = None) -> int:
    """The ml part of `tessera demo`: train every model (printing model vs baseline), then
    score every model that has a champion. Returns the number of failed steps."""
    config = config or MLConfig()
    names = [m.name for m in config.models]
    failures = train_models(settings, config, names, console)
    return failures + score_models(settings, config, names, console)
