"""Shared set-up for the horizon tests: a copy of the dbt project whose prediction tasks are
30, 90 and 273-day purchases (a user edits dbt_project.yml the same way), feature builds as
of a date, and train + score of every task with the real pipeline."""

from __future__ import annotations

import argparse
import dataclasses
import io
import os
import shutil
from contextlib import redirect_stdout
from datetime import date
from pathlib import Path

import pandas as pd
import yaml

from ml import cli as ml_cli
from ml.btyd_features import BTYDCache
from ml.config import LightGBMParams, MLConfig
from ml.pipeline import publish_lifetime, score_registered, train_and_register
from ml.registry import Registry
from tessera.dbt import run_dbt
from tessera.settings import DBT_PROJECT_DIR, Settings
from tessera.warehouse import Warehouse

TASKS = [
    {"name": "purchase_30d", "outcome": "purchase", "horizon_days": 30},
    {"name": "purchase_90d", "outcome": "purchase", "horizon_days": 90},
    {"name": "purchase_273d", "outcome": "purchase", "horizon_days": 273},
]
FEATURE_MODELS = ["+ml_features", "+ml_labels", "+ml_prediction_tasks"]


def project_with_tasks(directory: Path, tasks: list[dict] = TASKS) -> Path:
    """A copy of dbt_project/ whose dbt_project.yml defines `tasks`."""
    target = directory / "dbt_project"
    shutil.copytree(
        DBT_PROJECT_DIR,
        target,
        ignore=shutil.ignore_patterns("target", "logs", "dbt_packages", "warehouse", "*.duckdb"),
    )
    path = target / "dbt_project.yml"
    project = yaml.safe_load(path.read_text())
    project["vars"]["prediction_tasks"] = tasks
    path.write_text(yaml.safe_dump(project, sort_keys=False))
    return target


def settings_for(directory: Path, project: Path, warehouse: Path) -> Settings:
    return dataclasses.replace(
        Settings.from_env({}),
        warehouse_path=warehouse,
        artifacts_dir=directory / "artifacts",
        dbt_project_dir=project,
        dbt_profiles_dir=project,
        threads=1,
    )


def build_features(settings: Settings, as_of: date | None, target: Path) -> None:
    """The feature models and everything upstream, as of `as_of` (None: the data's own
    date, as `tessera build` does)."""
    run_dbt(
        settings,
        ["run", "--select", *FEATURE_MODELS, "--target-path", str(target)],
        vars={"features_as_of": as_of.isoformat()} if as_of else None,
        stream=False,
    )


def fast_config(project: Path) -> MLConfig:
    base = MLConfig.load(None, project)
    params = LightGBMParams(
        num_threads=1, num_boost_round=400, early_stopping_rounds=30, bagged_models=2
    )
    return base.model_copy(
        update={"lightgbm": params, "write_charts": False, "bootstrap_rounds": 50}
    )


FAST_YAML = """\
write_charts: false
bootstrap_rounds: 50
lightgbm: {num_threads: 1, num_boost_round: 400, early_stopping_rounds: 30, bagged_models: 2}
"""


def fast_config_file(directory: Path) -> Path:
    """fast_config as the YAML file a user passes with --config."""
    path = directory / "ml_fast.yml"
    path.write_text(FAST_YAML)
    return path


def run_cli(settings: Settings, *argv: str) -> str:
    """`tessera ml ARGV` with these settings (the dbt project copy included): the argument
    parser and command functions of the CLI; returns what it printed, failing on exit 1."""
    parser = argparse.ArgumentParser(prog="tessera")
    ml_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["ml", *argv])
    printed = io.StringIO()
    width = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "200"  # rich wraps at 80 columns without a terminal
    try:
        with redirect_stdout(printed):
            code = args.func(args, settings)
    finally:
        if width is None:
            os.environ.pop("COLUMNS")
        else:
            os.environ["COLUMNS"] = width
    assert code == 0, f"tessera ml {' '.join(argv)} failed:\n{printed.getvalue()}"
    return printed.getvalue()


@dataclasses.dataclass
class Registered:
    manifest: dict
    evaluation: dict


def cli_train_and_score(settings: Settings, config_file: Path, *as_of: str) -> dict:
    """`tessera ml train` then `tessera ml score` (each with `as_of`, e.g. "--as-of",
    "2025-09-01"); what they printed, the latest version of each task and the tables."""
    config = MLConfig.load(config_file, settings.dbt_project_dir)
    train_output = run_cli(settings, "train", "--config", str(config_file), *as_of)
    score_output = run_cli(settings, "score", "--config", str(config_file), *as_of)
    registry = Registry(settings.artifacts_dir)
    trained = {}
    for spec in config.models:
        model = registry.load(spec.name, registry.versions(spec.name)[-1])
        trained[spec.name] = Registered(model.manifest, model.metrics)
    return {
        "trained": trained,
        "train_output": train_output,
        "score_output": score_output,
        **_tables(settings, config),
    }


def _tables(settings: Settings, config: MLConfig) -> dict:
    with Warehouse(settings).session(read_only=True) as session:
        scores = session.df(
            "select model, person_id, score, decile, feature_cutoff_date from ml.person_scores "
            "order by model, person_id"
        )
        values = session.df(f"select * from {config.lifetime_relation} order by person_id")
    return {"scores": scores, "lifetime_values": values.drop(columns=["fitted_at"])}


def printed_about(output: str, model: str) -> str:
    """The lines a CLI run printed about `model`: those naming it, and the `how:` line
    under its scoring line."""
    lines = output.splitlines()
    found = []
    for index, line in enumerate(lines):
        if line.startswith(f"{model}:") or line.startswith(f"{model} version"):
            found.append(line)
            following = lines[index + 1] if index + 1 < len(lines) else ""
            if line.startswith(f"{model} version") and following.strip().startswith("how:"):
                found.append(following.strip())
    return "\n".join(found)


def train_and_score(settings: Settings, config: MLConfig) -> dict:
    """Train every task, score its champion, publish lifetime values; return what came out."""
    cache = BTYDCache()
    trained, scored = {}, {}
    for spec in config.models:
        trained[spec.name] = train_and_register(settings, config, spec.name, cache=cache)
        scored[spec.name] = score_registered(settings, config, spec.name, cache=cache)
    lifetime = publish_lifetime(settings, config, cache=cache)
    with Warehouse(settings).session(read_only=True) as session:
        scores = session.df(
            "select model, person_id, score, decile, feature_cutoff_date from ml.person_scores "
            "order by model, person_id"
        )
        values = session.df(f"select * from {config.lifetime_relation} order by person_id")
    return {
        "trained": trained,
        "scored": scored,
        "lifetime": lifetime,
        "scores": scores,
        "lifetime_values": values.drop(columns=["fitted_at"]),
    }


def assert_frames_equal(left: pd.DataFrame, right: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(
        left.reset_index(drop=True), right.reset_index(drop=True), check_exact=False, rtol=1e-9
    )
