"""The whole Tessera pipeline as the Snowflake suite runs it, the same way on either target:
generate -> dbt build (all but segments) -> ml train/score -> dbt build segments.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from ml.config import LightGBMParams, MLConfig
from ml.pipeline import score_registered, train_and_register
from tessera.datagen import GenerationSummary, append_activity, generate
from tessera.datagen.sink import TABLES
from tessera.dbt import run_dbt
from tessera.settings import Settings
from tessera.warehouse import Warehouse

PERSONS = 800
SEED = 20261
END_DATE = date(2026, 10, 31)
SEGMENTS = "path:models/segments"
# dbt unit tests cannot run on fakesnow: see README "Running on Snowflake".
NO_UNIT_TESTS = ["--exclude-resource-type", "unit_test"]
MODELS = ("purchase_30d", "churn_90d")


def ml_config() -> MLConfig:
    """Small data: lower the sample-size guards, one thread, no charts."""
    return MLConfig(
        lightgbm=LightGBMParams(num_threads=1, num_boost_round=100, early_stopping_rounds=10),
        write_charts=False,
        min_positives=5,
        min_negatives=5,
        min_validation_positives=2,
    )


@dataclass
class PipelineRun:
    settings: Settings
    generated: GenerationSummary | None = None
    builds: dict[str, list[dict]] = field(default_factory=dict)  # step -> dbt run results
    trained: dict[str, object] = field(default_factory=dict)
    scored: dict[str, object] = field(default_factory=dict)


def dbt_build(settings: Settings, step: str, args: list[str], target_path: Path) -> list[dict]:
    run_dbt(
        settings,
        ["build", *args, *NO_UNIT_TESTS, "--target-path", str(target_path / step)],
        stream=False,
    )
    return json.loads((target_path / step / "run_results.json").read_text())["results"]


def generate_raw(settings: Settings) -> GenerationSummary:
    return generate(
        Warehouse(settings), persons=PERSONS, seed=SEED, end_date=END_DATE, progress=False
    )


def build_until_segments(run: PipelineRun, target_path: Path, step: str = "core") -> None:
    run.builds[step] = dbt_build(run.settings, step, ["--exclude", SEGMENTS], target_path)


def train(run: PipelineRun) -> None:
    for model in MODELS:
        run.trained[model] = train_and_register(run.settings, ml_config(), model)


def score(run: PipelineRun, registry_settings: Settings | None = None) -> None:
    """Score every model; `registry_settings` points at another run's registry so two
    warehouses can be scored by the very same model files."""
    settings = run.settings
    if registry_settings is not None:
        settings = dataclasses.replace(settings, artifacts_dir=registry_settings.artifacts_dir)
    for model in MODELS:
        run.scored[model] = score_registered(settings, ml_config(), model)


def build_segments(run: PipelineRun, target_path: Path, step: str = "segments") -> None:
    run.builds[step] = dbt_build(run.settings, step, ["--select", SEGMENTS], target_path)


def append_on_duckdb_and_copy(duck: Settings, snowflake: Settings) -> None:
    """New activity after END_DATE (append_activity runs on DuckDB only), then the raw and
    truth tables copied whole to Snowflake, as a loader would land them."""
    append_activity(
        Warehouse(duck),
        seed=SEED,
        start=datetime.combine(END_DATE, time(), UTC),
        end=datetime.combine(END_DATE + timedelta(days=10), time(), UTC),
        persons_fraction=0.2,
        new_persons=40,
    )
    with Warehouse(duck).session(read_only=True) as source, Warehouse(snowflake).session() as sf:
        for qualified in TABLES:
            schema, table = qualified.split(".")
            sf.write_df(source.arrow(f"select * from {qualified}"), schema, table, "replace")


def identity_partition(settings: Settings) -> set[frozenset[tuple[str, str]]]:
    """The identity graph as a partition of identifiers, whatever the person ids are."""
    with Warehouse(settings).session(read_only=True) as session:
        graph = session.df("select id_type, id_value, person_id from identity.identity_graph")
    return {
        frozenset(zip(group.id_type, group.id_value, strict=True))
        for _, group in graph.groupby("person_id")
    }


def segment_members(settings: Settings, segment: str) -> set[frozenset[tuple[str, str]]]:
    """A segment's members, each as its set of identifiers: person ids are hashes, and
    DuckDB's hash() and Snowflake's HASH() differ, so ids are compared by what they hold."""
    with Warehouse(settings).session(read_only=True) as session:
        rows = session.df(
            "select s.person_id, g.id_type, g.id_value "
            f"from segments.{segment} s join identity.identity_graph g "
            "on g.person_id = s.person_id"
        )
        members = session.scalar(f"select count(distinct person_id) from segments.{segment}")
    clusters = {
        frozenset(zip(group.id_type, group.id_value, strict=True))
        for _, group in rows.groupby("person_id")
    }
    if len(clusters) != members:
        raise AssertionError(f"segments.{segment}: some members have no identity cluster")
    return clusters
