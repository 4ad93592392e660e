"""`tessera ml train | evaluate | score | cluster`: registered by tessera/cli.py via `register`."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import date
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ml.cli_output import (
    baseline_warning,
    cluster_table,
    interval_lines,
    metrics_table,
    verdict_line,
)
from ml.config import MLConfig
from ml.errors import MLError, NotEnoughDataError
from tessera.cli_args import iso_date, whole_number
from tessera.settings import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "ml",
        help="predictions: train, evaluate and score the prediction tasks; discover clusters",
    )
    sub = parser.add_subparsers(dest="ml_command", required=True)

    train = sub.add_parser("train", help="train, evaluate against the baselines, register")
    _common(train)
    _as_of(train, "train as if today were DATE: features, labels and BG/NBD from before it")
    train.set_defaults(func=cmd_train)

    evaluate = sub.add_parser(
        "evaluate", help="re-evaluate a registered model on a labelled cutoff"
    )
    _common(evaluate)
    evaluate.add_argument("--version", default=None, help="model version (default: champion)")
    evaluate.add_argument(
        "--cutoff",
        type=iso_date,
        default=None,
        help="labelled cutoff to evaluate on, YYYY-MM-DD (default: the latest)",
    )
    evaluate.set_defaults(func=cmd_evaluate)

    score = sub.add_parser(
        "score",
        help="score the scoring cutoff into ml.person_scores; BTYD traits into "
        "ml.person_lifetime_value",
    )
    _common(score)
    score.add_argument("--version", default=None, help="model version (default: champion)")
    _as_of(score, "score the persons as they were on DATE (features rebuilt as of it)")
    score.set_defaults(func=cmd_score)

    cluster = sub.add_parser(
        "cluster", help="discover customer segments (k-means) into ml.person_clusters"
    )
    cluster.add_argument("--config", type=Path, default=None, help="ml config YAML file")
    cluster.add_argument(
        "--k",
        type=whole_number(2, 1000, "clusters"),
        default=None,
        help="number of clusters (default: best silhouette)",
    )
    cluster.set_defaults(func=cmd_cluster)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        action="append",
        default=None,
        help="prediction task / model name (repeatable; default: every task)",
    )
    parser.add_argument("--config", type=Path, default=None, help="ml config YAML file")


def _as_of(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument("--as-of", dest="as_of", type=iso_date, default=None, help=help_text)


def _models(args: argparse.Namespace, config: MLConfig) -> list[str]:
    names = args.model or [m.name for m in config.models]
    for name in names:
        config.model(name)  # unknown names fail here, before any work
    return names


def learned(config: MLConfig, names: list[str], console: Console) -> list[str]:
    """The tasks a LightGBM model learns (purchase, churn); spend tasks are BTYD's."""
    keep = []
    for name in names:
        spec = config.model(name)
        if spec.outcome == "spend":
            console.print(
                f"{name}: a spend task is predicted by BG/NBD x Gamma-Gamma, not trained: "
                f"{config.lifetime_relation}.predicted_clv_{spec.horizon_days}d "
                "(written by `tessera ml score`)"
            )
        else:
            keep.append(name)
    return keep


def _each_model(
    names: list[str],
    verb: str,
    console: Console,
    fn: Callable[[str], None],
    skip_when_data_is_short: bool = False,
) -> int:
    """Run `fn` per model; one model's MLError does not stop the others. Failures count;
    with `skip_when_data_is_short`, a step the data cannot support yet is reported and
    skipped instead (BTYD traits beside scoring)."""
    failures = 0
    for name in names:
        try:
            fn(name)
        except NotEnoughDataError as exc:
            if skip_when_data_is_short:
                console.print(f"[yellow]ml {verb} {name} skipped (not enough data):[/yellow] {exc}")
            else:
                console.print(f"[red]ml {verb} {name} failed (not enough data):[/red] {exc}")
                failures += 1
        except MLError as exc:
            console.print(f"[red]ml {verb} {name} failed:[/red] {exc}")
            failures += 1
    return failures


def train_models(
    settings: Settings,
    config: MLConfig,
    names: list[str],
    console: Console,
) -> int:
    """Train each model; returns the number of models that failed (each explained)."""
    from ml.btyd_features import BTYDCache
    from ml.pipeline import train_and_register

    cache = BTYDCache()
    names = learned(config, names, console)

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
                cache=cache,
            )
        console.print(metrics_table(outcome.evaluation, f"{name} version {outcome.version}"))
        for line in interval_lines(outcome.evaluation):
            console.print(f"  {line}")
        warning = baseline_warning(name, outcome.evaluation)
        if warning:
            console.print(f"[bold red]{warning}[/bold red]")
        console.print(verdict_line(outcome))
        console.print(f"artifacts: {outcome.path}")

    return _each_model(names, "train", console, train_one)


def score_models(
    settings: Settings,
    config: MLConfig,
    names: list[str],
    console: Console,
    version: str | None = None,
) -> int:
    """Score each model's champion (or `version`), then publish the BTYD traits; returns
    the number of steps that failed."""
    from ml.btyd_features import BTYDCache
    from ml.pipeline import publish_lifetime, score_registered
    from ml.registry import Registry

    cache = BTYDCache()
    registry = Registry(settings.artifacts_dir)
    names = learned(config, names, Console(quiet=True))

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
                cache=cache,
            )
        console.print(
            f"{name} version {outcome.version}: scored {outcome.rows:,} persons at cutoff "
            f"{outcome.cutoff} in {outcome.seconds:.1f}s ({outcome.rows_per_second:,.0f} rows/s) "
            f"-> {config.scores_relation}"
        )
        if outcome.how:
            console.print(f"  how: {outcome.how}")
        pointer = registry.champion(name) or {}
        if version is None and pointer.get("beats_baseline") is False:
            console.print(
                f"[bold red]WARNING: the {name} champion does NOT beat its baseline; "
                "see `tessera ml evaluate --model " + name + "`[/bold red]"
            )

    failures = _each_model(names, "score", console, score_one)

    def lifetime(_name: str) -> None:
        outcome = publish_lifetime(settings, config, cache=cache)
        params = outcome.params.get("bgnbd") or {}
        fitted = ", ".join(f"{k}={v:.3g}" for k, v in params.items())
        console.print(
            f"BTYD: {outcome.buyers:,} buyers at cutoff {outcome.cutoff}: p_alive, expected "
            f"purchases and predicted CLV over {', '.join(f'{h}' for h in outcome.horizons)} "
            f"days -> {outcome.relation} (BG/NBD {fitted})"
        )

    # BTYD traits come with every scoring run when the data allows; never a failure of it
    return failures + _each_model(
        ["lifetime values"], "score", console, lifetime, skip_when_data_is_short=True
    )


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
        for line in interval_lines(outcome.evaluation):
            console.print(f"  {line}")
        warning = baseline_warning(name, outcome.evaluation)
        if warning:
            console.print(f"[bold red]{warning}[/bold red]")
        console.print(f"evaluation: {outcome.path}")

    return _each_model(names, "evaluate", console, evaluate_one)


def cluster_persons(
    settings: Settings,
    config: MLConfig,
    console: Console,
    k: int | None = None,
) -> int:
    from ml.pipeline import cluster_and_publish

    def run(_name: str) -> None:
        outcome = cluster_and_publish(settings, config, k=k, progress=console.print)
        console.print(cluster_table(outcome))
        console.print(f"chart: {outcome.chart}")

    return _each_model(["clusters"], "cluster", console, run)


def _prepare_as_of(
    settings: Settings, config: MLConfig, as_of: date | None, console: Console
) -> None:
    if as_of is None:
        return
    from ml.as_of import rebuild_features_as_of

    rebuild_features_as_of(settings, config, as_of, console.print)


def _run(
    verb: str, job: Callable[[Console, MLConfig], int], args: argparse.Namespace, settings: Settings
) -> int:
    from tessera.warehouse import require_warehouse

    # A warehouse that is missing, a directory or not a DuckDB file fails here, in the one
    # line every command gives, not once per model after each has loaded its artifacts.
    require_warehouse(settings)
    console = Console()
    try:
        config = MLConfig.load(args.config, settings.dbt_project_dir)
        from ml.registry import check_artifacts_dir

        # score only reads the registry; the others write models, evaluations or charts
        check_artifacts_dir(settings.artifacts_dir, writable=verb != "score")
        return 1 if job(console, config) else 0
    except MLError as exc:  # configuration problems, before any model ran
        console.print(f"[red]ml {verb} failed:[/red] {exc}")
        return 1


def cmd_train(args: argparse.Namespace, settings: Settings) -> int:
    def job(console: Console, config: MLConfig) -> int:
        names = _models(args, config)
        _prepare_as_of(settings, config, args.as_of, console)
        return train_models(settings, config, names, console)

    return _run("train", job, args, settings)


def cmd_evaluate(args: argparse.Namespace, settings: Settings) -> int:
    return _run(
        "evaluate",
        lambda console, config: evaluate_models(
            settings, config, _models(args, config), console, args.version, args.cutoff
        ),
        args,
        settings,
    )


def cmd_score(args: argparse.Namespace, settings: Settings) -> int:
    def job(console: Console, config: MLConfig) -> int:
        names = _models(args, config)
        _prepare_as_of(settings, config, args.as_of, console)
        return score_models(settings, config, names, console, args.version)

    return _run("score", job, args, settings)


def cmd_cluster(args: argparse.Namespace, settings: Settings) -> int:
    return _run(
        "cluster",
        lambda console, config: cluster_persons(settings, config, console, args.k),
        args,
        settings,
    )
