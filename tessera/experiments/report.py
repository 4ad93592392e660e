"""What an experiment measured, read from `experiments.*`, with a verdict a marketer can read.

Nothing is computed here: the arms, assignments and lift come from the dbt models. This
module reads them and says, in words, when an experiment is empty or too small to tell.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from tessera.warehouse import Session

SCHEMA = "experiments"
MIN_PERSONS_PER_ARM = 2  # a variance needs two persons; fewer gives no interval
FEW_PERSONS = 100  # below this per arm, intervals are wide: say so


class ExperimentReportError(ValueError):
    """The experiment cannot be reported (unknown name, models not built)."""


@dataclass(frozen=True)
class ExperimentReport:
    name: str
    segment: str
    start_date: str
    window_days: int
    arms: pd.DataFrame  # arm, share_percent, is_holdout, persons
    results: pd.DataFrame  # one row per treatment arm and metric
    merges: int
    arm_changes: int
    notes: list[str] = field(default_factory=list)

    @property
    def assigned(self) -> int:
        return int(self.arms["persons"].sum())


def _require_models(session: Session) -> None:
    missing = [
        t
        for t in ("experiment_arms", "assignments", "results")
        if not session.table_exists(SCHEMA, t)
    ]
    if missing:
        raise ExperimentReportError(
            f"{', '.join(f'{SCHEMA}.{t}' for t in missing)} not built yet: run `tessera build` "
            "(or `dbt build --select path:models/experiments`)"
        )


def list_experiments(session: Session) -> pd.DataFrame:
    """One row per experiment: segment, start, window, arms, persons assigned (any warehouse:
    the arms are joined into one string here, not with a dialect's string aggregate)."""
    _require_models(session)
    arms = session.df(
        f"""
        select
            a.experiment, a.segment, cast(a.start_date as varchar) as start_date,
            a.window_days, a.arm, a.share_percent, a.arm_order,
            coalesce(n.persons, 0) as persons
        from {SCHEMA}.experiment_arms a
        left join (
            select experiment, arm, count(*) as persons from {SCHEMA}.assignments group by 1, 2
        ) n on n.experiment = a.experiment and n.arm = a.arm
        """
    )
    arms.columns = [c.lower() for c in arms.columns]
    columns = ["experiment", "segment", "start_date", "window_days", "arms", "persons"]
    if arms.empty:
        return pd.DataFrame(columns=columns)
    arms = arms.sort_values(["experiment", "arm_order"])
    arms["label"] = [
        f"{a} {float(s):g}%" for a, s in zip(arms.arm, arms.share_percent, strict=True)
    ]
    grouped = arms.groupby(["experiment", "segment", "start_date", "window_days"], sort=True)
    frame = grouped.agg(arms=("label", ", ".join), persons=("persons", "sum")).reset_index()
    return frame[columns]


def build_report(session: Session, name: str) -> ExperimentReport:
    _require_models(session)
    p = "?" if session.dialect == "duckdb" else "%s"
    arms = session.df(
        f"""
        select a.arm, a.share_percent, a.is_holdout, a.segment,
               cast(a.start_date as varchar) as start_date, a.window_days,
               coalesce(n.persons, 0) as persons
        from {SCHEMA}.experiment_arms a
        left join (
            select arm, count(*) as persons from {SCHEMA}.assignments
            where experiment = {p} group by arm
        ) n on n.arm = a.arm
        where a.experiment = {p}
        order by a.arm_order
        """,
        [name, name],
    )
    arms.columns = [c.lower() for c in arms.columns]
    if arms.empty:
        known = session.df(f"select distinct experiment from {SCHEMA}.experiment_arms")
        names = ", ".join(sorted(known.iloc[:, 0].astype(str))) or "none declared"
        raise ExperimentReportError(f"no experiment named {name!r} (experiments: {names})")
    results = session.df(
        f"select * from {SCHEMA}.results where experiment = {p} order by arm_treatment, metric",
        [name],
    )
    results.columns = [c.lower() for c in results.columns]
    merges, changes = 0, 0
    if session.table_exists(SCHEMA, "assignment_merges"):
        row = session.df(
            f"select count(*) as merges, "
            f"coalesce(sum(case when arm_changed then 1 else 0 end), 0) as changes "
            f"from {SCHEMA}.assignment_merges where experiment = {p}",
            [name],
        )
        merges, changes = int(row.iloc[0, 0]), int(row.iloc[0, 1])
    first = arms.iloc[0]
    report = ExperimentReport(
        name=name,
        segment=str(first["segment"]),
        start_date=str(first["start_date"]),
        window_days=int(first["window_days"]),
        arms=arms[["arm", "share_percent", "is_holdout", "persons"]],
        results=results,
        merges=merges,
        arm_changes=changes,
    )
    report.notes.extend(verdict_notes(report))
    return report


def verdict_notes(report: ExperimentReport) -> list[str]:
    """Plain-language notes on what the numbers can and cannot say."""
    notes: list[str] = []
    if report.assigned == 0:
        return [
            f"No one is assigned yet. Persons are assigned when the segment "
            f"{report.segment!r} records members on or after {report.start_date}: build the "
            "segment, record its membership (`tessera segments refresh`, the demo or the "
            "Dagster asset segments/segment_membership), then build the experiments models."
        ]
    small = report.arms[report.arms["persons"] < MIN_PERSONS_PER_ARM]
    if not small.empty:
        arms = ", ".join(f"{a} ({n})" for a, n in zip(small["arm"], small["persons"], strict=True))
        notes.append(
            f"Too few persons for an interval: {arms}. Each arm needs at least "
            f"{MIN_PERSONS_PER_ARM}; wait for more members or widen the segment."
        )
    elif (report.arms["persons"] < FEW_PERSONS).any():
        notes.append(
            f"Fewer than {FEW_PERSONS} persons in an arm: the intervals are wide, and only a "
            "large lift can show (see the minimum detectable effect)."
        )
    for row in report.results.itertuples(index=False):
        if row.holdout_value is None or pd.isna(row.holdout_value) or row.holdout_value == 0:
            notes.append(
                f"{row.metric}: the holdout has no {row.metric.replace('_', ' ')} yet, so a "
                "relative lift cannot be computed (the difference is shown)."
            )
        elif not pd.isna(row.ci_low) and row.ci_low > 0:
            notes.append(f"{row.metric}: {row.arm_treatment} beats the holdout (interval above 0).")
        elif not pd.isna(row.ci_high) and row.ci_high < 0:
            notes.append(f"{row.metric}: {row.arm_treatment} does worse than the holdout.")
        elif not pd.isna(row.ci_low):
            notes.append(
                f"{row.metric}: no lift shown (the interval includes 0); the smallest lift this "
                f"size can detect is {row.mde:+.0%}."
                if not pd.isna(row.mde)
                else f"{row.metric}: no lift shown (the interval includes 0)."
            )
    if report.arm_changes:
        notes.append(
            f"{report.arm_changes} of {report.merges} merged persons changed arm with the merge "
            "(they keep the surviving id's arm; see experiments.assignment_merges)."
        )
    return notes
