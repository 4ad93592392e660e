"""Score the latest feature cutoff with a registered model and write ml.person_scores.

Rows stream from the warehouse in batches (bounded memory). Each batch gets per-feature
contributions (ml/explain.py, pred_contrib layout) whose row sums are the raw scores, so
one pass gives both the score and the reasons. Batches land in a staging table; one
transaction then replaces the model's previous scores, computing deciles in SQL over the
whole population (ntile(10), 10 = highest score).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

import numpy as np
import pyarrow as pa

from ml import btyd_features, horizon
from ml.btyd_features import BTYDCache, CutoffFit, fit_cutoffs
from ml.config import MLConfig
from ml.data import (
    FeatureSchema,
    arrow_to_matrix,
    latest_feature_cutoff,
    placeholder,
    read_feature_schema,
    select_features_sql,
)
from ml.errors import MLError
from ml.explain import PathAttributor, ReasonMethod, contributions
from ml.reasons import N_REASONS, top_reason_ids
from ml.registry import FeatureInfo, RegisteredModel
from tessera.warehouse import Session

BatchProgress = Callable[[int, int], None]

SCORES_COLUMNS = (
    ("person_id", "varchar"),
    ("model", "varchar"),
    ("model_version", "varchar"),
    ("score", "double"),
    ("decile", "integer"),
    ("scored_at", "timestamp"),
    ("reason_1", "varchar"),
    ("reason_2", "varchar"),
    ("reason_3", "varchar"),
    ("feature_cutoff_date", "date"),
)


@dataclass(frozen=True)
class ScoreOutcome:
    model: str
    version: str
    cutoff: date
    rows: int
    seconds: float
    scored_at: datetime
    how: str = ""  # how the probabilities reach the task's horizon, when not directly

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else float("nan")


def check_features_available(
    model: str, version: str, trained: FeatureSchema, current: FeatureSchema, relation: str
) -> None:
    """Every feature the model was trained on must exist now, with the same kind (features
    ml/ derives itself need their inputs, which are table features of the model too)."""
    missing = [f for f in trained.table_features if f not in current.features]
    if missing:
        raise MLError(
            f"{relation} lacks feature(s) {', '.join(missing)} that model {model} version "
            f"{version} was trained on. Restore the column(s) in the feature model, or "
            f"retrain: `tessera ml train --model {model}`."
        )
    changed = [
        f"{f} ({'text' if f in trained.categorical else 'numeric'} in training, "
        f"{'text' if f in current.categorical else 'numeric'} now)"
        for f in trained.table_features
        if (f in trained.categorical) != (f in current.categorical)
    ]
    if changed:
        raise MLError(
            f"feature type changed since model {model} version {version} was trained: "
            f"{'; '.join(changed)}. Retrain: `tessera ml train --model {model}`."
        )


def score_batch(
    registered: RegisteredModel,
    batch: pa.RecordBatch | pa.Table,
    method: ReasonMethod = "path",
    attributor: PathAttributor | None = None,
    btyd_fit: CutoffFit | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities (over the task's horizon) and (n_rows, 3) reason ids for one batch of
    feature rows."""
    info: FeatureInfo = registered.features
    matrix, unseen = arrow_to_matrix(batch, info.schema, info.categories)
    if info.schema.derived:
        inputs = [
            batch.column(batch.schema.get_field_index(name))
            .cast(pa.float64())
            .to_numpy(zero_copy_only=False)
            for name in btyd_features.INPUT_COLUMNS
        ]
        derived = btyd_features.feature_columns(
            btyd_fit, *inputs, info.btyd_horizon_days or registered.manifest["horizon_days"]
        )
        for j, name in enumerate(info.schema.features):
            if name in derived:
                matrix[:, j] = derived[name]
    contribution = contributions(registered.booster, matrix, method, attributor)
    raw = contribution.sum(axis=1)  # contributions sum to the raw log-odds score
    score = horizon.apply_mapping(info.horizon_mapping, 1.0 / (1.0 + np.exp(-raw)))
    return score, top_reason_ids(contribution, matrix, unseen, info.vocabulary)


def _scratch_tables(config: MLConfig, model: str) -> tuple[str, str]:
    """Per-model scratch tables in the scores schema: staged scores, reason id -> text."""
    return f"{config.scores_table}_staging_{model}", f"{config.scores_table}_reasons_{model}"


def count_rows(session: Session, sql: str, params: list, population: str | None) -> int:
    try:
        return int(session.scalar(f"select count(*) from ({sql}) as rows_to_score", params))
    except Exception as exc:  # the population condition is user-written SQL
        if population is None:
            raise
        raise MLError(
            f"the score_population condition {population!r} failed on ml_features: {exc}"
        ) from exc


def ensure_scores_table(session: Session, config: MLConfig) -> None:
    session.execute(f"create schema if not exists {config.scores_schema}")
    columns = ", ".join(f"{name} {kind}" for name, kind in SCORES_COLUMNS)
    session.execute(f"create table if not exists {config.scores_relation} ({columns})")


def score_model(
    reader: Session,
    writer: Session,
    config: MLConfig,
    registered: RegisteredModel,
    on_batch: BatchProgress | None = None,
    as_of: date | None = None,
    cache: BTYDCache | None = None,
) -> ScoreOutcome:
    """Score every person at the latest cutoff of ml_features (or `as_of`, a cutoff of it);
    replace the model's scores.

    `reader` streams features while `writer` stages scores: two sessions, because a
    streaming result and writes cannot share one connection.
    """
    started = time.perf_counter()
    current = read_feature_schema(reader, config)
    check_features_available(
        registered.name,
        registered.version,
        registered.features.schema,
        current,
        config.features_relation,
    )
    cutoff = latest_feature_cutoff(reader, config) if as_of is None else as_of
    btyd_fit = None
    if registered.features.schema.derived:
        btyd_fit = fit_cutoffs(reader, config.features_relation, [cutoff], cache)[cutoff]
    ph = placeholder(reader)
    population = config.model(registered.name).score_population
    sql = select_features_sql(config, registered.features.schema, [cutoff], None, ph, population)
    total = count_rows(reader, sql, [cutoff.isoformat()], population)
    staging, reasons = _scratch_tables(config, registered.name)
    writer.execute(f"create schema if not exists {config.scores_schema}")
    writer.execute(f"drop table if exists {config.scores_schema}.{staging}")
    vocabulary = registered.features.vocabulary
    lookup = pa.table(
        {
            "reason_id": pa.array(range(len(vocabulary.texts)), pa.int32()),
            "reason": pa.array(vocabulary.texts, pa.string()),
        }
    )
    writer.write_df(lookup, config.scores_schema, reasons, mode="replace")
    attributor = PathAttributor.from_booster(registered.booster)
    done = 0
    for batch in reader.iter_batches(sql, config.score_batch_rows, [cutoff.isoformat()]):
        if batch.num_rows == 0:
            continue
        score, ids = score_batch(registered, batch, config.reason_method, attributor, btyd_fit)
        staged = pa.table(
            {
                "person_id": batch.column(batch.schema.get_field_index("person_id")),
                "score": pa.array(score, pa.float64()),
                **{f"reason_{k + 1}_id": pa.array(ids[:, k], pa.int32()) for k in range(N_REASONS)},
            }
        )
        mode = "create" if done == 0 else "append"
        writer.write_df(staged, config.scores_schema, staging, mode=mode)
        done += batch.num_rows
        if on_batch is not None:
            on_batch(done, total)
    if done == 0:
        who = f" matching score_population {population!r}" if population else ""
        raise MLError(f"{config.features_relation} has no rows{who} for cutoff {cutoff}")

    scored_at = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    publish_scores(writer, config, registered, staging, reasons, cutoff, scored_at)
    return ScoreOutcome(
        model=registered.name,
        version=registered.version,
        cutoff=cutoff,
        rows=done,
        seconds=time.perf_counter() - started,
        scored_at=scored_at,
        how=horizon.describe(registered.features.horizon_mapping)
        if registered.features.horizon_mapping
        else "",
    )


def publish_scores(
    writer: Session,
    config: MLConfig,
    registered: RegisteredModel,
    staging: str,
    reasons: str,
    cutoff: date,
    scored_at: datetime,
) -> None:
    """Replace the model's rows in person_scores with the staged ones, atomically."""
    ph = placeholder(writer)
    schema = config.scores_schema
    ensure_scores_table(writer, config)
    names = ", ".join(name for name, _ in SCORES_COLUMNS)
    with writer.transaction():
        writer.execute(
            f"delete from {config.scores_relation} where model = {ph}", [registered.name]
        )
        writer.execute(
            # Deciles on the narrow staged rows first: the sort then carries no reason text.
            f"insert into {config.scores_relation} ({names}) "
            f"with ranked as (select *, cast(ntile(10) over (order by score, person_id) "
            f"as integer) as decile from {schema}.{staging}) "
            f"select s.person_id, {ph}, {ph}, s.score, s.decile, "
            f"cast({ph} as timestamp), r1.reason, r2.reason, r3.reason, cast({ph} as date) "
            f"from ranked s "
            f"left join {schema}.{reasons} r1 on r1.reason_id = s.reason_1_id "
            f"left join {schema}.{reasons} r2 on r2.reason_id = s.reason_2_id "
            f"left join {schema}.{reasons} r3 on r3.reason_id = s.reason_3_id",
            [registered.name, registered.version, scored_at.isoformat(sep=" "), cutoff.isoformat()],
        )
    writer.execute(f"drop table if exists {schema}.{staging}")
    writer.execute(f"drop table if exists {schema}.{reasons}")
