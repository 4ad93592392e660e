"""Training, evaluation, scoring, BTYD traits and clusters on the Snowflake dialect, against
a local fakesnow server: catalog types (TEXT, NUMBER, FLOAT), %s placeholders, upper-case
identifiers, results written through Session.write_df (Parquet PUT / COPY).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from datetime import date

import duckdb
import pytest

from ml.pipeline import (
    cluster_and_publish,
    evaluate_registered,
    publish_lifetime,
    score_registered,
    train_and_register,
)
from ml.synthetic import SyntheticSpec, write_synthetic_tables
from tessera.settings import Settings, SnowflakeSettings
from tessera.warehouse import Session, Warehouse

pytestmark = pytest.mark.snowflake


def sql_literal(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "null"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, date):
        return f"'{value.isoformat()}'::date"
    return repr(value)


def copy_table(source: duckdb.DuckDBPyConnection, target: Session, table: str) -> None:
    """Recreate features.<table> on the target from the local DuckDB copy, via SQL only."""
    columns = source.execute(f"describe features.{table}").fetchall()
    ddl = ", ".join(f"{name} {kind.replace('BIGINT', 'integer')}" for name, kind, *_ in columns)
    target.execute(f"create or replace table features.{table} ({ddl})")
    rows = source.execute(f"select * from features.{table}").fetchall()
    for start in range(0, len(rows), 2000):
        values = ", ".join(
            "(" + ", ".join(sql_literal(v) for v in row) + ")" for row in rows[start : start + 2000]
        )
        target.execute(f"insert into features.{table} values {values}")


@pytest.fixture(scope="module")
def snowflake_settings(
    tmp_path_factory: pytest.TempPathFactory, fakesnow_snowflake: SnowflakeSettings
) -> Iterator[Settings]:
    local = duckdb.connect()
    write_synthetic_tables(Session(local, "duckdb"), SyntheticSpec.monthly(600, n_cutoffs=4))
    # the BTYD inputs the dbt feature models carry (purchase days, first purchase)
    local.execute(
        "create or replace table features.ml_features as select *, "
        "case when frequency_orders > 0 then frequency_orders end as purchase_days, "
        "case when frequency_orders > 0 then greatest(days_since_first_seen, recency_days) "
        "end as days_since_first_purchase, "
        "case when frequency_orders > 0 then aov end as first_purchase_revenue "
        "from features.ml_features"
    )
    snowflake = fakesnow_snowflake
    settings = dataclasses.replace(
        Settings.from_env({}),
        target="snowflake",
        snowflake=snowflake,
        artifacts_dir=tmp_path_factory.mktemp("ml_snowflake"),
        threads=1,
    )
    with Warehouse(settings).session() as session:
        session.execute("create schema if not exists features")
        for table in ("ml_features", "ml_labels"):
            copy_table(local, session, table)
    yield settings


def test_train_and_evaluate_on_snowflake(snowflake_settings, config_with) -> None:
    config = config_with(min_positives=20, min_validation_positives=5)
    outcome = train_and_register(snowflake_settings, config, "purchase_30d")
    features = outcome.evaluation["feature_importance_gain"].keys()
    assert "cart_adds_30d" in features and "country" in features
    assert outcome.manifest["rows"]["train"] == 1200  # two training cutoffs of 600 persons
    assert outcome.evaluation["model"]["roc_auc"] > outcome.evaluation["baseline"]["roc_auc"]
    evaluated = evaluate_registered(snowflake_settings, config, "purchase_30d")
    assert evaluated.cutoff.isoformat() == outcome.manifest["validation_cutoff"]


def test_score_lifetime_values_and_clusters_on_snowflake(snowflake_settings, config_with) -> None:
    config = config_with(min_positives=20, min_validation_positives=5)
    if not (snowflake_settings.artifacts_dir / "models" / "purchase_30d").exists():
        train_and_register(snowflake_settings, config, "purchase_30d")
    scored = score_registered(snowflake_settings, config, "purchase_30d")
    lifetime = publish_lifetime(snowflake_settings, config)
    clusters = cluster_and_publish(
        snowflake_settings, config.model_copy(update={"cluster_k_max": 4})
    )
    with Warehouse(snowflake_settings).session(read_only=True) as session:
        latest = "(select max(cutoff_date) from features.ml_features)"
        persons = session.scalar(
            f"select count(*) from features.ml_features where cutoff_date = {latest}"
        )
        buyers = session.scalar(
            "select count(*) from features.ml_features "
            f"where cutoff_date = {latest} and frequency_orders > 0"
        )
        counts = {
            relation: session.scalar(f"select count(*) from {relation}")
            for relation in ("ml.person_scores", "ml.person_lifetime_value", "ml.person_clusters")
        }
        distinct = {
            relation: session.scalar(f"select count(distinct person_id) from {relation}")
            for relation in counts
        }
        alive = session.df("select p_alive from ml.person_lifetime_value")
    assert counts == distinct
    assert alive.iloc[:, 0].between(0, 1).all()
    assert scored.rows == persons == counts["ml.person_scores"] == 600
    assert lifetime.buyers == buyers == counts["ml.person_lifetime_value"] > 100
    assert clusters.persons == persons == counts["ml.person_clusters"]
