"""Adversarial datagen throughput: persons and raw rows per second, written to a DuckDB file
(compare with bench_datagen, the default mode, on the same machine and window)."""

from __future__ import annotations

from pathlib import Path

from bench.common import BENCH_END_DATE, BENCH_SEED, bench_settings


def run(scale: int, workdir: Path) -> dict:
    from tessera.datagen.adversarial import generate
    from tessera.warehouse import Warehouse

    path = workdir / "warehouse.duckdb"
    summary = generate(
        Warehouse(bench_settings(path)),
        persons=scale,
        seed=BENCH_SEED,
        end_date=BENCH_END_DATE,
        progress=False,
    )
    raw_rows = sum(n for t, n in summary.rows_per_table.items() if t.startswith("raw."))
    return {
        "raw_rows": raw_rows,
        "seconds": summary.seconds,
        "persons_per_s": scale / summary.seconds,
        "rows_per_s": raw_rows / summary.seconds,
        "file_mb": path.stat().st_size / 1024**2,
    }
