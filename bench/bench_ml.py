"""ML benchmark: train purchase_30d and score the latest cutoff on synthetic feature tables.

The feature and label tables are synthetic (ml/synthetic.py, the features contract's shape)
rather than built by dbt, so the figures measure the ml layer alone: `scale` persons,
three monthly cutoffs (train on the oldest, validate on the next, score the latest), i.e.
`scale` training rows, `scale` validation rows and `scale` scored rows.
Each phase runs in a fresh process, so its peak RSS is its own.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import resource
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from tessera.settings import Settings


def _settings(workdir: Path) -> Settings:
    return dataclasses.replace(
        Settings.from_env({}),
        warehouse_path=workdir / "ml_bench.duckdb",
        artifacts_dir=workdir / "artifacts",
    )


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _generate(scale: int, workdir: Path) -> dict:
    from ml.synthetic import SyntheticSpec, write_synthetic_tables
    from tessera.warehouse import Warehouse

    settings = _settings(workdir)
    settings.warehouse_path.unlink(missing_ok=True)
    started = time.perf_counter()
    with Warehouse(settings).session() as session:
        write_synthetic_tables(session, SyntheticSpec.monthly(scale, n_cutoffs=3))
    return {"generate_s": time.perf_counter() - started}


def _train(scale: int, workdir: Path) -> dict:
    from ml.config import MLConfig
    from ml.pipeline import train_and_register

    settings, config = _settings(workdir), MLConfig()
    started = time.perf_counter()
    trained = train_and_register(settings, config, "purchase_30d")
    return {
        "threads": config.lightgbm.num_threads or settings.threads,
        "train_rows": trained.manifest["rows"]["train"],
        "validation_rows": trained.manifest["rows"]["validation"],
        "train_s": time.perf_counter() - started,
        "fit_s": trained.manifest["seconds"]["fit"],
        "trees": trained.manifest["best_iteration"],
        "train_peak_rss_mb": _peak_rss_mb(),
        "roc_auc_model": trained.evaluation["model"]["roc_auc"],
        "roc_auc_baseline": trained.evaluation["baseline"]["roc_auc"],
    }


def _score(scale: int, workdir: Path) -> dict:
    from ml.config import MLConfig
    from ml.pipeline import score_registered

    scored = score_registered(_settings(workdir), MLConfig(), "purchase_30d")
    return {
        "score_rows": scored.rows,
        "score_s": scored.seconds,
        "score_rows_per_s": scored.rows_per_second,
        "score_peak_rss_mb": _peak_rss_mb(),
    }


def _in_fresh_process(phase: Callable[[int, Path], dict], scale: int, workdir: Path) -> dict:
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(phase, scale, workdir).result()


def run(scale: int, workdir: Path) -> dict:
    metrics = {"data": "synthetic ml_features/ml_labels (ml/synthetic.py)"}
    for phase in (_generate, _train, _score):
        metrics.update(_in_fresh_process(phase, scale, workdir))
    return metrics
