"""Identity resolution in dbt next to scipy's connected_components on the same edges.

1. `dbt run` of staging and identity on a generated warehouse (full build); per-model times
   come from run_results.json, connected-components figures from identity.identity_cc_runs.
2. The reference floor, timed from the edge table: read identity_edges (kept edges, string
   node keys), map strings to integers (pandas.factorize), build a sparse matrix, run
   scipy.sparse.csgraph.connected_components, map labels back to node keys.
3. Exactness: the partition of identity_graph equals scipy's (nodes without edges are
   singletons in both).
4. An incremental step: append a month of activity for 10% of persons and `dbt run` again.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from bench.common import BENCH_END_DATE, BENCH_SEED, generated_warehouse
from tessera.settings import Settings

SELECTION = ["--select", "staging", "identity"]


def _dbt_run(settings: Settings, target: Path, *extra: str) -> tuple[float, dict[str, float]]:
    from tessera.dbt import run_dbt

    started = time.perf_counter()
    run_dbt(settings, ["run", *SELECTION, "--target-path", str(target), *extra], stream=False)
    seconds = time.perf_counter() - started
    results = json.loads((target / "run_results.json").read_text())["results"]
    per_model = {
        r["unique_id"].rsplit(".", 1)[-1]: float(r.get("execution_time", 0.0)) for r in results
    }
    return seconds, per_model


def _latest_cc_run(settings: Settings, mode: str) -> dict:
    from tessera.warehouse import Warehouse

    with Warehouse(settings).session(read_only=True) as session:
        df = session.df(
            "select * from identity.identity_cc_runs where mode = ? "
            "order by run_started_at desc, iteration",
            [mode],
        )
    latest = df[df.invocation_id == df.invocation_id.iloc[0]]
    return latest.iloc[0].to_dict()


def scipy_components(edges: pd.DataFrame) -> tuple[pd.Series, dict[str, float]]:
    """Components of string-keyed edges; returns (label per node key, step timings)."""
    timings = {}
    started = time.perf_counter()
    codes, keys = pd.factorize(pd.concat([edges.src, edges.dst], ignore_index=True))
    timings["map_ids_s"] = time.perf_counter() - started
    n = len(edges)
    t = time.perf_counter()
    graph = coo_matrix(
        (np.ones(n, dtype=np.int8), (codes[:n], codes[n:])), shape=(len(keys), len(keys))
    ).tocsr()
    timings["matrix_s"] = time.perf_counter() - t
    t = time.perf_counter()
    _, labels = connected_components(graph, directed=False)
    timings["components_s"] = time.perf_counter() - t
    t = time.perf_counter()
    result = pd.Series(labels, index=pd.Index(keys, name="node_key"), name="component")
    timings["map_back_s"] = time.perf_counter() - t
    timings["compute_s"] = time.perf_counter() - started
    return result, timings


def _partition_matches(settings: Settings, scipy_labels: pd.Series) -> bool:
    from tessera.warehouse import Warehouse

    with Warehouse(settings).session(read_only=True) as session:
        graph = session.df("select node_key, person_id from identity.identity_graph")
    merged = graph.merge(scipy_labels.reset_index(), on="node_key", how="left")
    # nodes without edges are singletons: give each its own label
    missing = merged.component.isna()
    merged.loc[missing, "component"] = -np.arange(1, missing.sum() + 1)
    pairs = merged[["person_id", "component"]].drop_duplicates()
    # same partition <=> the person -> component relation is a bijection
    return len(pairs) == merged.person_id.nunique() == merged.component.nunique() and len(
        scipy_labels
    ) == int((~missing).sum())


def run(scale: int, workdir: Path) -> dict:
    from tessera.datagen import append_activity
    from tessera.warehouse import Warehouse

    settings = generated_warehouse(scale, workdir)
    target = workdir / "dbt_target"
    build_s, per_model = _dbt_run(settings, target)
    cc = _latest_cc_run(settings, "full")
    strong = _latest_cc_run(settings, "strong")

    started = time.perf_counter()
    with Warehouse(settings).session(read_only=True) as session:
        edges = session.df(
            "select src_key as src, dst_key as dst from identity.identity_edges "
            "where not is_dropped"
        )
    fetch_s = time.perf_counter() - started
    labels, scipy_t = scipy_components(edges)
    exact = _partition_matches(settings, labels)

    metrics: dict = {
        "nodes": int(cc["edge_nodes"]),
        "edges": int(cc["total_edges"]),
        "iterations": int(cc["total_iterations"]),
        "pointer_jumps": int(cc["total_jumps"]),
        "sql_cc_s": float(cc["cc_seconds"]),
        "scipy_s": fetch_s + scipy_t["compute_s"],
        "scipy_fetch_s": fetch_s,
        "scipy_compute_s": scipy_t["compute_s"],
        "scipy_components_s": scipy_t["components_s"],
        "sql_over_scipy": float(cc["cc_seconds"]) / (fetch_s + scipy_t["compute_s"]),
        "same_partition": exact,
        "strong_cc_s": float(strong["cc_seconds"]),
        "strong_iterations": int(strong["total_iterations"]),
        "graph_model_s": per_model.get("identity_graph", 0.0),
        "identity_models_s": sum(
            s for name, s in per_model.items() if name.startswith(("identity", "person"))
        ),
        "dbt_run_s": build_s,
    }

    start = datetime(BENCH_END_DATE.year, BENCH_END_DATE.month, BENCH_END_DATE.day)
    start += timedelta(days=1)
    try:
        append_activity(
            Warehouse(settings),
            seed=BENCH_SEED,
            start=start,
            end=start + timedelta(days=30),
            persons_fraction=0.1,
        )
    except Exception as exc:  # the generator's append path is optional for this benchmark
        return metrics | {"incremental": f"skipped, append_activity failed: {exc}"[:200]}
    incremental_s, incremental_models = _dbt_run(settings, target)
    incremental = _latest_cc_run(settings, "incremental")
    metrics |= {
        "incr_region_nodes": int(incremental["region_nodes"]),
        "incr_cc_s": float(incremental["cc_seconds"]),
        "incr_graph_model_s": incremental_models.get("identity_graph", 0.0),
        "incr_dbt_run_s": incremental_s,
    }
    return metrics
