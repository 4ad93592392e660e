"""Shared set-up for the profile tests: temp warehouses, raw rows, dbt runs, table comparison."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from pathlib import Path

import duckdb
import pandas as pd

from tessera.datagen import generate
from tessera.datagen.schema import RAW_TABLES
from tessera.dbt import DbtRun, run_dbt
from tessera.settings import Settings
from tessera.warehouse import Warehouse

RAW_COLUMNS = {table.name: table.column_names for table in RAW_TABLES}


def settings_for(warehouse: Path) -> Settings:
    return dataclasses.replace(Settings.from_env({}), warehouse_path=warehouse)


def generate_year(base: Path, persons: int, seed: int) -> Path:
    """base/warehouse.duckdb with a year of generated raw data ending 2026-10-31."""
    warehouse = base / "warehouse.duckdb"
    generate(
        Warehouse(settings_for(warehouse)),
        persons=persons,
        seed=seed,
        end_date=date(2026, 10, 31),
        days=365,
        progress=False,
    )
    return warehouse


def create_raw_tables(warehouse: Path) -> None:
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema if not exists raw")
        for table in RAW_TABLES:
            con.execute(table.ddl())


def insert_rows(warehouse: Path, table: str, rows: Iterable[Mapping[str, object]]) -> None:
    """Insert dicts into raw.<table>; columns not given are null."""
    rows = list(rows)
    if not rows:
        return
    unknown = {key for row in rows for key in row} - set(RAW_COLUMNS[table])
    if unknown:
        raise ValueError(f"raw.{table} has no column(s) {sorted(unknown)}")
    frame = pd.DataFrame([{col: row.get(col) for col in RAW_COLUMNS[table]} for row in rows])
    with duckdb.connect(str(warehouse)) as con:
        con.register("incoming", frame)
        cols = ", ".join(RAW_COLUMNS[table])
        con.execute(f"insert into raw.{table} ({cols}) select {cols} from incoming")


def dbt(warehouse: Path, target_path: Path, args: list[str], vars: dict | None = None) -> DbtRun:
    return run_dbt(
        settings_for(warehouse),
        [*args, "--target-path", str(target_path)],
        vars=vars,
        stream=False,
    )


def read_table(warehouse: Path, relation: str, order_by: str = "person_id") -> pd.DataFrame:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(f"select * from {relation} order by {order_by}").df()


def scalar(warehouse: Path, sql: str) -> object:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        row = con.execute(sql).fetchone()
        return None if row is None else row[0]


def copy_warehouse(source: Path, target: Path) -> Path:
    shutil.copyfile(source, target)
    return target


def assert_same_rows(left: pd.DataFrame, right: pd.DataFrame, keys: list[str]) -> None:
    """Equal as sets of rows (floats to 6 decimals), with a readable diff on failure."""
    assert list(left.columns) == list(right.columns), "column lists differ"
    a = _canonical(left, keys)
    b = _canonical(right, keys)
    if a.equals(b):
        return
    merged = a.merge(b, on=keys, how="outer", suffixes=("_left", "_right"), indicator=True)
    only = merged[merged["_merge"] != "both"]
    diffs = []
    for col in left.columns:
        if col in keys:
            continue
        both = merged[merged["_merge"] == "both"]
        differs = both[col + "_left"].astype(str) != both[col + "_right"].astype(str)
        if differs.any():
            sample = both.loc[differs, [*keys, col + "_left", col + "_right"]].head(3)
            diffs.append(f"{col}: {int(differs.sum())} rows, e.g.\n{sample.to_string()}")
    examples = only[[*keys, "_merge"]].head(3).to_dict("records")
    raise AssertionError(
        f"{len(only)} rows on one side only (e.g. {examples}); column differences:\n"
        + "\n".join(diffs)
    )


def _canonical(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    out = frame.copy()
    for col in out.columns:
        if pd.api.types.is_float_dtype(out[col]):
            out[col] = out[col].round(6)
    return out.sort_values(keys).reset_index(drop=True)


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text)
