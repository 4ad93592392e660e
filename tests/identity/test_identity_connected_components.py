"""The connected_components macro against scipy on synthetic graphs, run by the real dbt CLI
on a private DuckDB file."""

from __future__ import annotations

import json
import math
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from identity_dbt import dbt, settings_for
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components


def write_edges(path: Path, table: str, edges: pd.DataFrame) -> None:
    con = duckdb.connect(str(path))
    try:
        con.register("incoming", edges)
        con.execute(f"create or replace table main.{table} as select src, dst from incoming")
    finally:
        con.close()


def run_cc(
    path: Path,
    tmp: Path,
    table: str,
    max_iterations: int | None = None,
    check: bool = True,
    dense_ids: bool = False,
):
    args = {
        "edges_table": f"main.{table}",
        "output_table": f"main.{table}_components",
        "dense_ids": dense_ids,
    }
    if max_iterations is not None:
        args["max_iterations"] = max_iterations
    result = dbt(
        settings_for(path),
        tmp / "target",
        "run-operation",
        "run_connected_components",
        "--args",
        json.dumps(args),
        check=check,
    )
    stats_lines = [ln for ln in result.output.splitlines() if "CC_STATS " in ln]
    stats = json.loads(stats_lines[-1].split("CC_STATS ", 1)[1]) if stats_lines else None
    return result, stats


def scipy_partition(edges: pd.DataFrame) -> set[frozenset[str]]:
    codes, keys = pd.factorize(pd.concat([edges.src, edges.dst], ignore_index=True))
    n = len(edges)
    graph = coo_matrix((np.ones(n), (codes[:n], codes[n:])), shape=(len(keys), len(keys)))
    _, labels = connected_components(graph, directed=False)
    groups = pd.Series(keys).groupby(labels).apply(frozenset)
    return set(groups)


def sql_partition(path: Path, table: str) -> set[frozenset[str]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        df = con.execute(f"select node_key, component_key from main.{table}_components").df()
    finally:
        con.close()
    return set(df.groupby("component_key")["node_key"].apply(frozenset))


def chain(prefix: str, length: int) -> pd.DataFrame:
    ids = [f"{prefix}{i}" for i in range(length + 1)]
    return pd.DataFrame({"src": ids[:-1], "dst": ids[1:]})


def star(prefix: str, leaves: int) -> pd.DataFrame:
    return pd.DataFrame(
        {"src": [f"{prefix}hub"] * leaves, "dst": [f"{prefix}{i}" for i in range(leaves)]}
    )


def random_graph(prefix: str, nodes: int, edges: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, nodes, edges), rng.integers(0, nodes, edges)
    return pd.DataFrame({"src": [f"{prefix}{i}" for i in a], "dst": [f"{prefix}{i}" for i in b]})


@pytest.mark.parametrize("dense_ids", [False, True], ids=["hash-ids", "dense-ids"])
def test_same_partition_as_scipy_on_chains_stars_and_random_graphs(
    tmp_path: Path, dense_ids: bool
) -> None:
    parts = [
        chain("c1_", 1500),
        chain("c2_", 1)[::-1].rename(columns={"src": "dst", "dst": "src"}),  # reversed edge
        star("s1_", 400),
        random_graph("r1_", 3000, 2400, seed=1),  # below the giant-component threshold
        random_graph("r2_", 2000, 3000, seed=2),  # above it
        pd.DataFrame({"src": ["loop", "dup", "dup", "x"], "dst": ["loop", "y", "y", "dup"]}),
    ]
    edges = pd.concat(parts, ignore_index=True)
    # a star joined to a chain's far end: one component
    edges = pd.concat([edges, pd.DataFrame({"src": ["s1_hub"], "dst": ["c1_1500"]})])
    path = tmp_path / "cc.duckdb"
    write_edges(path, "edges", edges)
    _, stats = run_cc(path, tmp_path, "edges", dense_ids=dense_ids)

    expected = scipy_partition(edges[edges.src != edges.dst])
    assert sql_partition(path, "edges") == expected
    assert stats["nodes"] == sum(len(c) for c in expected)
    assert stats["iterations"] >= 1


def test_passes_grow_like_log_of_chain_length(tmp_path: Path) -> None:
    path = tmp_path / "chains.duckdb"
    iterations = {}
    for length in (2**6, 2**16):
        write_edges(path, f"chain_{length}", chain("n", length))
        _, stats = run_cc(path, tmp_path, f"chain_{length}")
        assert len(sql_partition(path, f"chain_{length}")) == 1
        iterations[length] = stats["iterations"]
    # naive label propagation needs `length` passes; this needs about log3(length)
    assert iterations[2**16] <= 2 * math.log2(2**16)
    assert iterations[2**16] - iterations[2**6] <= 2 * (16 - 6)
    assert iterations[2**16] < 2**6


def test_iteration_cap_fails_the_run_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "cap.duckdb"
    write_edges(path, "long_chain", chain("n", 5000))
    result, _ = run_cc(path, tmp_path, "long_chain", max_iterations=2, check=False)
    assert result.returncode != 0
    assert "no convergence after 2 iterations" in result.output
    assert "identity_max_iterations" in result.output


def test_empty_edge_table_gives_no_components(tmp_path: Path) -> None:
    path = tmp_path / "empty.duckdb"
    write_edges(
        path,
        "none",
        pd.DataFrame({"src": pd.Series([], dtype=str), "dst": pd.Series([], dtype=str)}),
    )
    _, stats = run_cc(path, tmp_path, "none")
    assert stats["iterations"] == 0
    assert sql_partition(path, "none") == set()
