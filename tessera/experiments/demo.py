"""The experiments part of `tessera demo`: assign arms before the syncs, then measure lift.

1. `assign_experiments` (after the segments' membership is recorded, before the syncs): the
   experiments models assign the starter experiments' arms and write the holdouts the syncs
   keep out.
2. `measure_experiments` (after the syncs): simulated purchases in the 30 days after the
   sync with a known uplift for persons the win-back sync really sent (vip_winback) and
   none for the suppression audience (suppress_recent_buyers), then the lift, printed next
   to the truth.
"""

from __future__ import annotations

import pandas as pd
from rich.console import Console

from tessera.dbt import run_dbt
from tessera.experiments.chart import plot_experiments
from tessera.experiments.report import build_report
from tessera.experiments.simulate import SimulatedEffect, SimulationError, simulate_outcomes
from tessera.settings import Settings
from tessera.warehouse import Warehouse

EXPERIMENTS = "path:models/experiments"
DEMO_EFFECTS = (
    SimulatedEffect("vip_winback", uplift=0.2, base_rate=0.2),
    SimulatedEffect("suppress_recent_buyers", uplift=0.0, base_rate=0.2),
)


def _build(settings: Settings, console: Console, what: str, vars: dict | None = None) -> None:
    """dbt build of the experiments models, with a spinner on a terminal and one line after."""
    with console.status(f"dbt build: experiments models ({what})"):
        run = run_dbt(settings, ["build", "--select", EXPERIMENTS], vars=vars, stream=False)
    summary = run.summary
    console.print(
        f"experiments models ({what}): {summary.line()} in {run.seconds:.0f}s", soft_wrap=True
    )


def assign_experiments(settings: Settings, console: Console) -> None:
    _build(settings, console, "assign")
    with Warehouse(settings).session(read_only=True) as session:
        frame = session.df(
            "select experiment, arm, count(*) as persons from experiments.assignments "
            "group by 1, 2 order by 1, 2"
        )
        held = session.scalar("select count(distinct person_id) from experiments.sync_holdouts")
    for experiment, arm, persons in frame.itertuples(index=False, name=None):
        console.print(f"{experiment}: {persons:,} persons in {arm}")
    console.print(f"{held:,} persons are held out of the experiments' syncs.")


def measure_experiments(settings: Settings, console: Console) -> bool:
    """Simulate, measure and print; False when an interval misses the simulated truth."""
    try:
        truths = simulate_outcomes(Warehouse(settings), list(DEMO_EFFECTS))
    except SimulationError as exc:
        console.print(f"[yellow]experiments not measured:[/yellow] {exc}")
        return True
    until = max(t.measure_until for t in truths)
    console.print(
        f"Simulated purchases in the 30 days after the sync (raw.orders, ids sim-*), "
        f"measured until {until:%Y-%m-%d}."
    )
    _build(settings, console, "measure", {"experiments_as_of": f"{until:%Y-%m-%d %H:%M:%S}"})
    console.print("[bold]Measured lift next to the simulated truth[/bold] (conversion rate):")
    all_covered = True
    with Warehouse(settings).session(read_only=True) as session:
        for truth in truths:
            report = build_report(session, truth.experiment)
            rows = report.results[report.results.metric == "conversion_rate"]
            if rows.empty:
                console.print(f"{truth.experiment}: no result (an arm has no persons)")
                continue
            row = rows.iloc[0]
            if pd.isna(row.difference_ci_low):  # fewer than 2 persons in an arm
                verdict = "too few persons for an interval"
            else:
                covered = row.difference_ci_low <= truth.true_difference <= row.difference_ci_high
                all_covered &= bool(covered)
                verdict = "the interval covers the truth" if covered else "MISSED the truth"
            lift = "-" if pd.isna(row.lift) else f"{row.lift:+.0%}"
            console.print(
                f"  {truth.experiment} ({int(row.persons_treatment):,} treatment, "
                f"{int(row.persons_holdout):,} holdout; {truth.sent_persons:,} sent): "
                f"difference {_points(row.difference)}, 95% interval "
                f"{_points(row.difference_ci_low)} .. {_points(row.difference_ci_high)}; "
                f"true {_points(truth.true_difference)}: {verdict}. "
                f"Relative lift {lift} (true {truth.true_lift:+.0%}).",
                soft_wrap=True,
            )
    with Warehouse(settings).session(read_only=True) as session:
        results = session.df("select * from experiments.results")
        revenue = session.df("select * from experiments.segment_revenue")
    chart = plot_experiments(results, revenue, settings.artifacts_dir / "experiments" / "lift.png")
    console.print(f"Chart: {chart} (and asset experiments/lift_report in the Dagster UI)")
    console.print(
        "True difference: the uplift given to persons the sync sent "
        f"({', '.join(f'{t.experiment} {t.uplift:+.0%}' for t in truths)}) times the share "
        "of the treatment arm it sent (consent, failures). `tessera experiments report NAME` "
        "shows revenue too."
    )
    return all_covered


def _points(value: float) -> str:
    """A difference of two rates, in percentage points."""
    return "-" if pd.isna(value) else f"{value * 100:+.1f} pts"
