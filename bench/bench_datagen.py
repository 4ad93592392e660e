"""Datagen throughput: persons and raw rows per second, written to a DuckDB file."""

from __future__ import annotations

from pathlib import Path

from bench.common import BENCH_END_DATE, BENCH_SEED, bench_settings


def run(scale: int, workdir: Path) -> dict:
    from tessera.datagen import generate
    from tessera.warehouse import Warehouse

    summary = generate(
        Warehouse(bench_settings(workdir / "warehouse.duckdb")),
        persons=scale,
        seed=BENCH_SEED,
        end_date=BENCH_END_DATE,
        progress=False,
    )
    raw_rows = sum(n for t, n in summary.rows_per_table.items() if t.startswith("raw."))
    return {
        "raw_rows": raw_rows,
        "persons_per_s": scale / summary.seconds,
        "rows_per_s": raw_rows / summary.seconds,
        "file_mb": (workdir / "warehouse.duckdb").stat().st_size / 1024**2,
    }
