"""The experiments report asset: lift per experiment with its interval, shown in the UI.

The experiments dbt models (assignments, holdouts, results) are dbt assets; this asset reads
`experiments.results` and `experiments.segment_revenue` after they are built and shows the
results table and a chart (lift with 95% intervals, revenue per person of each arm over
time) in the asset's metadata, with the PNG under <artifacts>/experiments/.
"""

import base64

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    MaterializeResult,
    MetadataValue,
    asset,
)

from orchestration.config import WAREHOUSE_POOL
from orchestration.resources import WarehouseResource

RESULTS = AssetKey(["experiments", "results"])
SEGMENT_REVENUE = AssetKey(["experiments", "segment_revenue"])
REPORT_KEY = AssetKey(["experiments", "lift_report"])


def results_markdown(results) -> str:  # type: ignore[no-untyped-def]
    lines = [
        "| experiment | metric | arm | treatment | holdout | lift | 95% interval | MDE | persons |",
        "|---|---|---|---|---|---|---|---|---|",
    ]

    def pct(v: object) -> str:
        return "-" if v is None or v != v else f"{float(v):+.1%}"  # type: ignore[arg-type]

    for r in results.itertuples(index=False):
        lines.append(
            f"| {r.experiment} | {r.metric} | {r.arm_treatment} | {r.treatment_value:.4g} | "
            f"{r.holdout_value:.4g} | {pct(r.lift)} | {pct(r.ci_low)} .. {pct(r.ci_high)} | "
            f"{pct(r.mde)} | {int(r.persons_treatment):,} / {int(r.persons_holdout):,} |"
        )
    return "\n".join(lines)


def build_experiment_assets() -> list[AssetsDefinition]:
    @asset(
        key=REPORT_KEY,
        deps=[RESULTS, SEGMENT_REVENUE],
        group_name="experiments",
        kinds={"matplotlib", "duckdb"},
        description="Lift of each experiment against its holdout (95% interval, minimum "
        "detectable effect) and revenue per person of each arm over time, as a chart.",
        pool=WAREHOUSE_POOL,
    )
    def lift_report(
        context: AssetExecutionContext, warehouse: WarehouseResource
    ) -> MaterializeResult:
        from tessera.experiments.chart import plot_experiments

        settings = warehouse.settings()
        with warehouse.warehouse().session(read_only=True) as session:
            if not session.table_exists("experiments", "results"):
                context.log.warning("experiments.results is not built yet")
                return MaterializeResult(metadata={"experiments": 0})
            results = session.df("select * from experiments.results order by 1, 2, 3")
            revenue = session.df("select * from experiments.segment_revenue")
        results.columns = [c.lower() for c in results.columns]
        revenue.columns = [c.lower() for c in revenue.columns]
        metadata: dict[str, object] = {
            "experiments": int(results["experiment"].nunique()) if not results.empty else 0,
            "results": MetadataValue.md(results_markdown(results)),
            "dagster/row_count": len(results),
        }
        if results.empty and revenue.empty:
            return MaterializeResult(metadata=metadata)
        path = plot_experiments(
            results, revenue, settings.artifacts_dir / "experiments" / "lift.png"
        )
        encoded = base64.b64encode(path.read_bytes()).decode("ascii")
        metadata["chart"] = MetadataValue.md(f"![lift](data:image/png;base64,{encoded})")
        metadata["chart_path"] = MetadataValue.path(str(path))
        return MaterializeResult(metadata=metadata)

    return [lift_report]
