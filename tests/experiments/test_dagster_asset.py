"""The Dagster asset experiments/lift_report: materialized on a real warehouse, its metadata
holds the results table and the chart (a PNG, embedded and on disk)."""

from __future__ import annotations

import base64

from dagster import materialize
from experiments_env import build_experiments

from orchestration.experiment_assets import REPORT_KEY, build_experiment_assets
from orchestration.resources import WarehouseResource
from tessera.settings import Settings


def test_lift_report_shows_results_and_a_chart(built: Settings, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("TESSERA_ARTIFACTS", str(built.artifacts_dir))
    build_experiments(built)
    result = materialize(
        build_experiment_assets(),
        resources={"warehouse": WarehouseResource(duckdb_path=str(built.warehouse_path))},
    )
    assert result.success
    (event,) = result.asset_materializations_for_node("experiments__lift_report")
    assert event.asset_key == REPORT_KEY
    meta = event.metadata
    assert meta["experiments"].value >= 1  # exp_split (exp_tiny_split when both arms have persons)
    table = meta["results"].value
    assert "| exp_split | conversion_rate | treatment |" in table
    chart = meta["chart"].value
    assert chart.startswith("![lift](data:image/png;base64,")
    png = base64.b64decode(chart.split(",", 1)[1].rstrip(")"))
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    path = meta["chart_path"].value
    assert path.endswith("experiments/lift.png") and path.startswith(str(built.artifacts_dir))
