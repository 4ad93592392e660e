"""Clustering benchmark: k-means segments of `scale` persons (ml/clusters.py).

One cutoff of synthetic features (ml/synthetic.py: RFM, engagement, channel), then
`cluster_and_publish`: design matrix, k from 2 to 8 by silhouette on samples, the final fit
on everyone (mini-batch above 20k persons), ml.person_clusters written, chart drawn.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from tessera.settings import Settings


def run(scale: int, workdir: Path) -> dict:
    from ml.config import MLConfig
    from ml.pipeline import cluster_and_publish
    from ml.synthetic import SyntheticSpec, write_synthetic_tables
    from tessera.warehouse import Warehouse

    settings = dataclasses.replace(
        Settings.from_env({}),
        warehouse_path=workdir / "clusters.duckdb",
        artifacts_dir=workdir / "artifacts",
    )
    settings.warehouse_path.unlink(missing_ok=True)
    started = time.perf_counter()
    with Warehouse(settings).session() as session:
        write_synthetic_tables(session, SyntheticSpec.monthly(scale, n_cutoffs=1))
    generate_s = time.perf_counter() - started
    started = time.perf_counter()
    outcome = cluster_and_publish(settings, MLConfig())
    total_s = time.perf_counter() - started
    return {
        "persons": outcome.persons,
        "generate_s": generate_s,
        "cluster_total_s": total_s,
        **{f"{step}_s": seconds for step, seconds in outcome.seconds_by_step.items()},
        "k": outcome.k,
        "silhouette": outcome.silhouette,
        "features": len(outcome.features),
    }
