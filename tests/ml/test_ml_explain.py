"""Path attributions: exact decomposition of the raw score, and close to TreeSHAP."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ml.data import arrow_to_features, arrow_to_matrix
from ml.explain import PathAttributor
from ml.reasons import ReasonVocabulary, top_reason_ids
from ml.registry import Registry
from tessera.warehouse import Warehouse


def test_path_contributions_sum_to_the_raw_score_and_agree_with_shap(trained_settings) -> None:
    registered = Registry(trained_settings.artifacts_dir).load("purchase_30d")
    with Warehouse(trained_settings).session(read_only=True) as session:
        table = session.arrow(
            "select * from features.ml_features "
            "where cutoff_date = (select max(cutoff_date) from features.ml_features) limit 300"
        )
    frame = arrow_to_features(table, registered.features.schema, registered.features.categories)
    booster = registered.booster
    path = PathAttributor.from_booster(booster).contributions(booster, frame)
    assert path.shape == (300, len(registered.features.schema.features) + 1)
    np.testing.assert_allclose(path.sum(axis=1), booster.predict(frame, raw_score=True), atol=1e-9)

    shap = booster.predict(frame, pred_contrib=True)
    top_path = np.argmax(np.abs(path[:, :-1]), axis=1)
    top_shap = np.argmax(np.abs(shap[:, :-1]), axis=1)
    assert (top_path == top_shap).mean() > 0.7
    assert np.corrcoef(path[:, :-1].ravel(), shap[:, :-1].ravel())[0, 1] > 0.9


def test_arrow_matrix_encodes_categories_exactly_like_pandas(trained_settings) -> None:
    registered = Registry(trained_settings.artifacts_dir).load("purchase_30d")
    info = registered.features
    with Warehouse(trained_settings).session(read_only=True) as session:
        table = session.arrow("select * from features.ml_features limit 500")
    table = table.set_column(
        table.schema.get_field_index("first_channel"),
        "first_channel",
        pa.array(["carrier_pigeon"] * 10 + table.column("first_channel").to_pylist()[10:]),
    )
    frame = arrow_to_features(table, info.schema, info.categories)
    matrix, unseen = arrow_to_matrix(table, info.schema, info.categories)
    booster = registered.booster
    np.testing.assert_allclose(booster.predict(matrix), booster.predict(frame))
    channel = info.schema.features.index("first_channel")
    assert unseen[:10, channel].all() and not unseen[10:, channel].any()
    country = info.schema.features.index("country")
    assert not unseen[:, country].any()  # nulls are missing, not unseen


def test_reasons_follow_the_direction_of_the_score() -> None:
    vocabulary = ReasonVocabulary.build(
        features=("cart_adds_30d", "country", "aov", "tickets_180d"),
        categorical=("country",),
        categories={"country": ["DE", "NL"]},
        medians={"cart_adds_30d": 1.0, "aov": 50.0, "tickets_180d": 0.0},
    )
    matrix = np.array(
        [
            [4.0, 1.0, np.nan, 0.0],  # high score: cart adds and NL pushed it up
            [0.0, np.nan, 20.0, 2.0],  # low score: no cart adds and tickets pulled it down
            [0.0, np.nan, 20.0, 2.0],  # unseen country value
        ]
    )
    unseen = np.zeros_like(matrix, dtype=bool)
    unseen[2, 1] = True
    contributions = np.array(
        [
            [1.5, 0.4, -0.2, 0.0, -1.0],
            [-0.8, 0.1, 0.0, -0.3, -1.0],
            [-0.8, -0.5, 0.0, 0.0, -1.0],
        ]
    )
    ids = top_reason_ids(contributions, matrix, unseen, vocabulary)
    texts = vocabulary.texts_of(ids)
    assert list(texts[0]) == ["cart_adds_30d high", "country = NL", None]
    assert list(texts[1]) == ["cart_adds_30d low", "tickets_180d high", None]
    assert list(texts[2]) == ["cart_adds_30d low", "country other", None]
