"""The adversarial generator mode, and today's identity rules on it (bench_adversarial_default
runs the same measures on the default generator, for the side-by-side the issue shows).

1. `tessera.datagen.adversarial.generate` at `scale` persons: seconds, raw rows.
2. `dbt run` of staging and identity (full build) on it, then `tessera identity evaluate`:
   pairwise precision, recall of linkable pairs, true persons wrongly merged, the largest
   cluster (identifiers and true persons) and clusters over 200 identifiers.
3. Incremental: `append` the next 30 days of the same world (late rows of every source
   included), `dbt run` incrementally, and compare the partition with a full rebuild of a
   copy: nodes whose cluster differs (0 when full == incremental).
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.common import BENCH_END_DATE, BENCH_SEED
from tessera.settings import Settings

SELECTION = ["--select", "staging", "identity"]


def _settings(path: Path) -> Settings:
    return dataclasses.replace(Settings.from_env({}), warehouse_path=path.resolve())


def _dbt_run(settings: Settings, target: Path, *extra: str) -> float:
    from tessera.dbt import dbt_command

    cmd = dbt_command(settings, ["run", *SELECTION, "--target-path", str(target), *extra])
    started = time.perf_counter()
    proc = subprocess.run(
        cmd, cwd=settings.dbt_project_dir, env=settings.dbt_env(), capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise RuntimeError(f"dbt run failed: {proc.stdout[-1500:]}")
    return time.perf_counter() - started


def _cluster_figures(settings: Settings) -> dict:
    from tessera.warehouse import Warehouse

    with Warehouse(settings).session(read_only=True) as session:
        row = session.df(
            """
            with single as (
                select id_type, id_value, min(person_key) as person_key
                from truth.identifier_person group by 1, 2 having count(distinct person_key) = 1
            ),
            clusters as (
                select g.person_id, count(*) as identifiers,
                    count(distinct s.person_key) as true_persons
                from identity.identity_graph g
                left join single s using (id_type, id_value)
                group by 1
            )
            select
                (select true_persons from clusters order by identifiers desc limit 1)
                    as largest_cluster_true_persons,
                (select max(true_persons) from clusters) as most_true_persons_in_a_cluster,
                (select count(*) from clusters where identifiers > 200) as clusters_over_200
            """
        ).iloc[0]
    return {k: int(v) for k, v in row.items()}


def _partition(settings: Settings) -> dict[str, str]:
    from tessera.warehouse import Warehouse

    with Warehouse(settings).session(read_only=True) as session:
        df = session.df("select node_key, person_id from identity.identity_graph")
    return dict(zip(df.node_key, df.person_id, strict=True))


def _differences(incremental: dict[str, str], full: dict[str, str]) -> int:
    """Nodes of the full build's clusters that the incremental build does not reproduce
    exactly (each cluster is one frozenset, so memory stays linear in the nodes)."""

    def clusters(p: dict[str, str]) -> set[frozenset[str]]:
        members: dict[str, list[str]] = {}
        for node, person in p.items():
            members.setdefault(person, []).append(node)
        return {frozenset(m) for m in members.values()}

    return sum(len(c) for c in clusters(full) - clusters(incremental))


def run(scale: int, workdir: Path) -> dict:
    return measure(scale, workdir, "adversarial")


def measure(scale: int, workdir: Path, mode: str) -> dict:
    from tessera.datagen import append_activity
    from tessera.datagen import generate as generate_default
    from tessera.datagen.adversarial import append, generate
    from tessera.identity.evaluate import evaluate
    from tessera.warehouse import Warehouse

    path = workdir / f"{mode}.duckdb"
    settings = _settings(path)
    make = generate if mode == "adversarial" else generate_default
    summary = make(
        Warehouse(settings),
        persons=scale,
        seed=BENCH_SEED,
        end_date=BENCH_END_DATE,
        progress=False,
    )
    raw_rows = sum(n for t, n in summary.rows_per_table.items() if t.startswith("raw."))
    identity_s = _dbt_run(settings, workdir / "target")
    result = evaluate(Warehouse(settings))
    metrics = {
        "generate_s": summary.seconds,
        "raw_rows": raw_rows,
        "identity_full_s": identity_s,
        "precision": result.precision,
        "recall_of_linkable": result.recall_of_linkable,
        "true_persons": result.true_persons,
        "true_persons_wrongly_joined": result.true_persons_wrongly_joined,
        "overmerged_clusters": result.overmerged_clusters,
        "largest_cluster_identifiers": result.largest_cluster_identifiers,
    }
    metrics |= _cluster_figures(settings)

    cutoff = datetime(BENCH_END_DATE.year, BENCH_END_DATE.month, BENCH_END_DATE.day, tzinfo=UTC)
    cutoff += timedelta(days=1)
    if mode == "adversarial":
        append(Warehouse(settings), until=cutoff + timedelta(days=30))
    else:
        start = cutoff.replace(tzinfo=None)
        append_activity(
            Warehouse(settings),
            seed=BENCH_SEED,
            start=start,
            end=start + timedelta(days=30),
            persons_fraction=0.3,
        )
    metrics["identity_incremental_s"] = _dbt_run(settings, workdir / "target")
    copy = workdir / "rebuilt.duckdb"
    shutil.copyfile(path, copy)
    _dbt_run(_settings(copy), workdir / "target_rebuild", "--full-refresh")
    metrics["nodes_incremental_differs_from_full"] = _differences(
        _partition(settings), _partition(_settings(copy))
    )
    after = evaluate(Warehouse(settings))
    metrics["precision_after_append"] = after.precision
    metrics["recall_of_linkable_after_append"] = after.recall_of_linkable
    return metrics
