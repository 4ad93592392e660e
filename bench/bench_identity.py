"""Identity resolution in dbt next to scipy's connected_components on the same edges.

1. `dbt run` of staging and identity on a generated warehouse (full build); per-model times
   come from run_results.json, connected-components figures from identity.identity_cc_runs.
   DuckDB runs with a bounded `memory_limit` (DUCKDB_MEMORY_LIMIT, passed to the profile's
   `settings` as TESSERA_DUCKDB_MEMORY_LIMIT), and the dbt process's own peak RSS is
   measured (its VmHWM, polled).
2. The reference floor, in a child process of its own so its memory is measured apart from
   the SQL path: read identity_edges (kept edges, string node keys), map strings to integers
   (pandas.factorize), build a sparse matrix, run scipy.sparse.csgraph.connected_components,
   map labels back to node keys. Its peak RSS is taken once the components are mapped back.
3. Exactness (in that child, after its peak is taken): the partition of identity_graph
   equals scipy's (nodes without edges are singletons in both).
4. Accuracy against ground truth (`tessera identity evaluate`) when the warehouse has the
   generator's evidence table (truth.identifier_evidence); older cached warehouses skip it.
5. An incremental step: append a month of activity for 10% of persons and `dbt run` again.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from bench.common import BENCH_END_DATE, BENCH_SEED, generated_warehouse
from tessera.settings import Settings

SELECTION = ["--select", "staging", "identity"]
DUCKDB_MEMORY_LIMIT = "6GB"  # 4GB ran the 5M full build but not its incremental step


def _memory_limit() -> str:
    """DuckDB's memory_limit for the dbt run; env TESSERA_DUCKDB_MEMORY_LIMIT overrides."""
    return os.environ.get("TESSERA_DUCKDB_MEMORY_LIMIT", DUCKDB_MEMORY_LIMIT)


@dataclass(frozen=True)
class ChildRun:
    seconds: float
    peak_rss_mb: float


def _high_water_mb(pid: int | str) -> float:
    """VmHWM, the peak RSS of the process's current image: unlike ru_maxrss it starts afresh
    at exec, so a child does not inherit the parent's size (Linux only; 0 when unknown)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except (OSError, ValueError):
        pass
    return 0.0


def _run_child(cmd: list[str], env: dict[str, str], cwd: Path, log: Path) -> ChildRun:
    """Run a command to completion, polling its peak RSS (VmHWM is a high-water mark, so
    polling only misses growth in the last interval before it exits)."""
    started = time.perf_counter()
    peak = 0.0
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        while proc.poll() is None:
            peak = max(peak, _high_water_mb(proc.pid))
            time.sleep(0.2)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        tail = " | ".join(log.read_text().strip().splitlines()[-8:])
        raise RuntimeError(f"{cmd[0]} {cmd[1]} failed (exit {proc.returncode}): {tail}")
    return ChildRun(seconds, peak)


def _dbt_run(settings: Settings, target: Path, name: str) -> tuple[ChildRun, dict[str, float]]:
    from tessera.dbt import dbt_command

    target.mkdir(parents=True, exist_ok=True)
    cmd = dbt_command(settings, ["run", *SELECTION, "--target-path", str(target)])
    env = settings.dbt_env() | {"TESSERA_DUCKDB_MEMORY_LIMIT": _memory_limit()}
    run = _run_child(cmd, env, settings.dbt_project_dir, target / f"{name}.log")
    results = json.loads((target / "run_results.json").read_text())["results"]
    per_model = {
        r["unique_id"].rsplit(".", 1)[-1]: float(r.get("execution_time", 0.0)) for r in results
    }
    return run, per_model


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


def _partition_matches(graph: pd.DataFrame, scipy_labels: pd.Series) -> bool:
    """Same partition <=> the person -> component relation is a bijection."""
    component = scipy_labels.reindex(graph.node_key).to_numpy(dtype=float)
    missing = np.isnan(component)
    # nodes without edges are singletons: give each its own label
    component[missing] = -np.arange(1, missing.sum() + 1)
    person = pd.factorize(graph.person_id)[0]
    pairs = pd.DataFrame({"person": person, "component": component}).drop_duplicates()
    return len(pairs) == len(np.unique(person)) == len(np.unique(component)) and len(
        scipy_labels
    ) == int((~missing).sum())


def scipy_reference(warehouse: Path, out: Path) -> None:
    """Child process: the scipy floor on identity_edges, its peak RSS, then exactness."""
    import duckdb

    started = time.perf_counter()
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        edges = conn.execute(
            "select src_key as src, dst_key as dst from identity.identity_edges "
            "where not is_dropped"
        ).df()
    fetch_s = time.perf_counter() - started
    labels, timings = scipy_components(edges)
    del edges
    peak_mb = _high_water_mb("self")
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        graph = conn.execute("select node_key, person_id from identity.identity_graph").df()
    result = timings | {
        "fetch_s": fetch_s,
        "peak_rss_mb": peak_mb,
        "same_partition": _partition_matches(graph, labels),
    }
    out.write_text(json.dumps(result))


def _scipy_in_child(settings: Settings, workdir: Path) -> tuple[ChildRun, dict]:
    out = workdir / "scipy_reference.json"
    out.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "bench.bench_identity", str(settings.warehouse_path), str(out)]
    root = Path(__file__).resolve().parent.parent
    run = _run_child(cmd, dict(os.environ), root, workdir / "scipy_reference.log")
    return run, json.loads(out.read_text())


def _accuracy(settings: Settings) -> dict:
    from tessera.identity.evaluate import evaluate
    from tessera.warehouse import Warehouse

    with Warehouse(settings).session(read_only=True) as session:
        if not session.table_exists("truth", "identifier_evidence"):
            return {"accuracy": "skipped: cached warehouse predates truth.identifier_evidence"}
    result = evaluate(Warehouse(settings))
    missed = result.missed_linkable_pairs_by_reason
    return {
        "precision": result.precision,
        "recall_raw": result.recall,
        "recall_of_linkable": result.recall_of_linkable,
        "unlinkable_pair_share": result.unlinkable_pair_share,
        "missed_linkable_pairs": result.linkable_pairs - result.correct_linkable_pairs,
        "missed_by_reason": ", ".join(f"{k}:{v}" for k, v in sorted(missed.items())) or "none",
        "true_persons_wrongly_joined": result.true_persons_wrongly_joined,
        "largest_cluster": result.largest_cluster_identifiers,
        "accuracy_ok": not result.failures(),
    }


def run(scale: int, workdir: Path) -> dict:
    from tessera.datagen import append_activity
    from tessera.warehouse import Warehouse

    settings = generated_warehouse(scale, workdir)
    target = workdir / "dbt_target"
    build, per_model = _dbt_run(settings, target, "full")
    cc = _latest_cc_run(settings, "full")
    strong = _latest_cc_run(settings, "strong")
    scipy_run, ref = _scipy_in_child(settings, workdir)
    scipy_s = ref["fetch_s"] + ref["compute_s"]

    metrics: dict = {
        "nodes": int(cc["edge_nodes"]),
        "edges": int(cc["total_edges"]),
        "iterations": int(cc["total_iterations"]),
        "pointer_jumps": int(cc["total_jumps"]),
        "sql_cc_s": float(cc["cc_seconds"]),
        "scipy_s": scipy_s,
        "scipy_fetch_s": ref["fetch_s"],
        "scipy_compute_s": ref["compute_s"],
        "scipy_components_s": ref["components_s"],
        "sql_over_scipy": float(cc["cc_seconds"]) / scipy_s,
        "same_partition": ref["same_partition"],
        "strong_cc_s": float(strong["cc_seconds"]),
        "strong_iterations": int(strong["total_iterations"]),
        "graph_model_s": per_model.get("identity_graph", 0.0),
        "identity_models_s": sum(
            s for name, s in per_model.items() if name.startswith(("identity", "person"))
        ),
        "dbt_run_s": build.seconds,
        "duckdb_memory_limit": _memory_limit(),
        "sql_peak_rss_mb": build.peak_rss_mb,
        "scipy_peak_rss_mb": ref["peak_rss_mb"],
        "scipy_child_peak_rss_mb": scipy_run.peak_rss_mb,
    }
    metrics |= _accuracy(settings)

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
    incremental_run, incremental_models = _dbt_run(settings, target, "incremental")
    incremental = _latest_cc_run(settings, "incremental")
    metrics |= {
        "incr_region_nodes": int(incremental["region_nodes"]),
        "incr_cc_s": float(incremental["cc_seconds"]),
        "incr_graph_model_s": incremental_models.get("identity_graph", 0.0),
        "incr_dbt_run_s": incremental_run.seconds,
        "incr_sql_peak_rss_mb": incremental_run.peak_rss_mb,
    }
    return metrics


if __name__ == "__main__":  # the scipy reference's child process
    scipy_reference(Path(sys.argv[1]), Path(sys.argv[2]))
