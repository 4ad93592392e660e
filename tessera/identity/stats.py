"""Read identity_stats (the health table dbt builds) for the CLI and the demo."""

from __future__ import annotations

from dataclasses import dataclass

from tessera.warehouse import Warehouse, WarehouseError


@dataclass(frozen=True)
class StatRow:
    metric: str
    dimension: str | None
    value: float | None


def read_stats(warehouse: Warehouse) -> list[StatRow]:
    with warehouse.session(read_only=warehouse.dialect == "duckdb") as session:
        if not session.table_exists("identity", "identity_stats"):
            raise WarehouseError(
                "identity.identity_stats does not exist: run "
                "`tessera build --select staging identity` first"
            )
        df = session.df(
            "select metric, dimension, value from identity.identity_stats "
            "order by metric, dimension"
        )
    return [
        StatRow(
            metric=str(r.metric),
            dimension=None
            if r.dimension is None or r.dimension != r.dimension
            else str(r.dimension),
            value=None if r.value is None or r.value != r.value else float(r.value),
        )
        for r in df.itertuples(index=False)
    ]
