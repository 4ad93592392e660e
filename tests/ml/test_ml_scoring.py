"""Scoring: person_scores written back, deciles, reasons naming real columns, nulls,
streaming in batches, replacement of a model's previous scores, missing features."""

from __future__ import annotations

import json
import re

import pytest

from ml.errors import MLError
from ml.pipeline import score_registered
from ml.registry import Registry
from tessera.warehouse import Warehouse

REASON = re.compile(r"^(?P<column>[a-z0-9_]+) (?:high|low|missing|= .+)$")


def scores(settings, model: str):
    with Warehouse(settings).session(read_only=True) as session:
        return session.df(
            "select * from ml.person_scores where model = ? order by score desc", [model]
        )


def test_scores_every_person_at_the_latest_cutoff_in_batches(trained_copy, config_with) -> None:
    config = config_with(score_batch_rows=700)  # several batches for 3,000 persons
    batches: list[tuple[int, int]] = []
    outcome = score_registered(
        trained_copy, config, "purchase_30d", on_batch=lambda d, t: batches.append((d, t))
    )
    assert len(batches) >= 4 and batches[-1] == (outcome.rows, outcome.rows)
    with Warehouse(trained_copy).session(read_only=True) as session:
        latest = session.scalar("select max(cutoff_date) from features.ml_features")
        persons = session.scalar(
            "select count(*) from features.ml_features where cutoff_date = ?", [latest]
        )
    df = scores(trained_copy, "purchase_30d")
    assert outcome.cutoff == latest and outcome.rows == persons == len(df)
    assert df["person_id"].is_unique
    assert list(df.columns[:9]) == [
        "person_id", "model", "model_version", "score", "decile", "scored_at",
        "reason_1", "reason_2", "reason_3",
    ]  # fmt: skip
    assert df["score"].between(0, 1).all()
    champion = Registry(trained_copy.artifacts_dir).champion("purchase_30d")["version"]
    assert (df["model_version"] == champion).all()


def test_deciles_run_one_to_ten_with_ten_highest(trained_copy, config) -> None:
    score_registered(trained_copy, config, "churn_90d")
    df = scores(trained_copy, "churn_90d")
    assert sorted(df["decile"].unique()) == list(range(1, 11))
    by_decile = df.groupby("decile")["score"].agg(["min", "max", "size"])
    assert (by_decile["max"].shift(1).dropna() <= by_decile["min"].iloc[1:]).all()
    assert by_decile["size"].max() - by_decile["size"].min() <= 1
    assert df.iloc[0]["decile"] == 10


def test_churn_scores_only_the_population_its_label_is_defined_for(trained_copy, config) -> None:
    outcome = score_registered(trained_copy, config, "churn_90d")
    with Warehouse(trained_copy).session(read_only=True) as session:
        recency = session.df(
            "select f.recency_days from ml.person_scores s join features.ml_features f "
            "on f.person_id = s.person_id and f.cutoff_date = s.feature_cutoff_date "
            "where s.model = 'churn_90d'"
        )["recency_days"]
        persons = session.scalar(
            "select count(*) from features.ml_features "
            "where cutoff_date = (select max(cutoff_date) from features.ml_features)"
        )
    assert 0 < outcome.rows < persons
    assert len(recency) == outcome.rows and (recency <= 365).all()


def test_reasons_name_real_feature_columns(trained_copy, config) -> None:
    score_registered(trained_copy, config, "purchase_30d")
    df = scores(trained_copy, "purchase_30d")
    features = set(
        json.loads(
            (
                Registry(trained_copy.artifacts_dir).load("purchase_30d").path / "features.json"
            ).read_text()
        )["features"]
    )
    named = 0
    for column in ("reason_1", "reason_2", "reason_3"):
        for reason in df[column].dropna():
            match = REASON.match(reason)
            assert match, reason
            assert match["column"] in features, reason
            named += 1
    assert named >= 2 * len(df)
    # Behaviour drives purchases in the generated data: the top scores say so.
    top_reasons = set(df.head(50)[["reason_1", "reason_2", "reason_3"]].stack())
    assert "cart_adds_30d high" in top_reasons


def test_rescoring_replaces_the_previous_scores(trained_copy, config) -> None:
    first = score_registered(trained_copy, config, "purchase_30d")
    churn = score_registered(trained_copy, config, "churn_90d")
    second = score_registered(trained_copy, config, "purchase_30d")
    with Warehouse(trained_copy).session(read_only=True) as session:
        counts = dict(
            session.df(
                "select model, count(*) as n from ml.person_scores group by model"
            ).itertuples(index=False)
        )
        tables = session.df(
            "select table_name from information_schema.tables where table_schema = 'ml'"
        )
    assert counts == {"purchase_30d": second.rows, "churn_90d": churn.rows}
    assert second.rows == first.rows
    assert second.scored_at >= first.scored_at
    assert list(tables["table_name"]) == ["person_scores"]  # staging table cleaned up


def test_person_with_null_features_is_scored(trained_copy, config) -> None:
    with Warehouse(trained_copy).session() as session:
        latest = session.scalar("select max(cutoff_date) from features.ml_features")
        session.execute(
            "insert into features.ml_features (person_id, cutoff_date) values ('p_nulls', ?)",
            [latest],
        )
    score_registered(trained_copy, config, "purchase_30d")
    df = scores(trained_copy, "purchase_30d").set_index("person_id")
    row = df.loc["p_nulls"]
    assert 0 < row["score"] < 1
    assert 1 <= row["decile"] <= 10
    reasons = [r for r in row[["reason_1", "reason_2", "reason_3"]] if r is not None]
    assert reasons and all(r.endswith("missing") for r in reasons)


def test_missing_feature_at_scoring_time_names_the_feature(trained_copy, config) -> None:
    with Warehouse(trained_copy).session() as session:
        session.execute("alter table features.ml_features drop column cart_adds_30d")
    with pytest.raises(MLError, match=r"lacks feature\(s\) cart_adds_30d .*retrain"):
        score_registered(trained_copy, config, "purchase_30d")


def test_scoring_without_a_champion_says_to_train(synthetic_settings, config) -> None:
    with pytest.raises(MLError, match=r"no champion.*tessera ml train --model purchase_30d"):
        score_registered(synthetic_settings, config, "purchase_30d")
