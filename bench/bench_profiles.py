"""Profiles: full build vs incremental refresh after ~1% new activity, and the feature build.

Staging and identity are built first and not timed here (their benchmarks time them). The new
activity comes from tessera.datagen.append_activity: 35 days after the data's end for a random
10% of persons (plus new persons), about 1% more events. Identity is then refreshed
incrementally (untimed) and the profile models incrementally (timed). Ratios compare the
profile models' own execution times (dbt's per-node timings), the same eight models in both
runs; wall times include dbt's start-up. replay_last_days is the heavier alternative (everyone
active in the last week comes back).

The incremental run rewrites the facts of the persons the new records touch, most of them by
combining their stored row with the new records (delta), the others (new persons, merges,
changed records, uncombinable changes) from their whole history (full):
persons_delta / persons_full count the rows this run wrote by path. profile_as_of,
int_profile_recent_activity and int_profile_score_cutoffs are rebuilt on every run (as_of
moves); customer_profiles and int_profile_measures are views. The incremental refresh is run
INCREMENTAL_TRIALS times from the same state and the median counts
(incremental_trials_s lists them all).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from bench.common import generated_warehouse
from tessera.settings import Settings

BENCH_APPEND_SEED = 17
INCREMENTAL_TRIALS = 3

PROFILE_MODELS = [
    "int_record_identifiers",
    "int_identifier_records",
    "profile_as_of",
    "int_profile_facts",
    "int_profile_recent_activity",
    "int_profile_measures",
    "int_profile_score_cutoffs",
    "customer_profiles",
]
FEATURE_MODELS = ["int_feature_cutoffs", "int_person_daily_activity", "ml_features", "ml_labels"]
FEATURE_INPUTS = [
    "int_events_persons",
    "int_orders_persons",
    "int_pos_purchases_persons",
    "int_email_events_persons",
    "int_tickets_persons",
    "int_ad_clicks_persons",
]

# (table, id column, timestamp columns moved forward together)
_REPLAYED = (
    ("events", "message_id", ("timestamp", "received_at")),
    ("orders", "order_id", ("ordered_at", "updated_at")),
    ("pos_purchases", "transaction_id", ("purchased_at",)),
    ("email_events", "event_id", ("occurred_at",)),
    ("support_tickets", "ticket_id", ("created_at", "updated_at")),
    ("ad_clicks", "click_id", ("clicked_at",)),
)


def replay_last_days(warehouse: Path, days: int, tag: str = "bench") -> dict[str, int]:
    """Copy the last `days` of each activity source `days` forward with new ids."""
    import duckdb

    added: dict[str, int] = {}
    with duckdb.connect(str(warehouse)) as con:
        end = con.execute("select max(timestamp) from raw.events").fetchone()[0]
        for table, id_col, ts_cols in _REPLAYED:
            cols = [r[0] for r in con.execute(f"describe raw.{table}").fetchall()]
            select = [
                f"'{tag}-' || {c}"
                if c == id_col
                else f"{c} + interval {days} day"
                if c in ts_cols
                else c
                for c in cols
            ]
            before = con.execute(f"select count(*) from raw.{table}").fetchone()[0]
            con.execute(
                f"insert into raw.{table} select {', '.join(select)} from raw.{table} "
                f"where {ts_cols[0]} > timestamp '{end}' - interval {days} day"
            )
            added[table] = con.execute(f"select count(*) from raw.{table}").fetchone()[0] - before
            added[f"{table}_before"] = before
    return added


def append_month(settings: Settings, persons_fraction: float, days: int) -> dict[str, int]:
    """New activity after the data's end from the project's generator; rows added per table."""
    from datetime import timedelta

    import duckdb

    from tessera.datagen import append_activity
    from tessera.datagen.sink import TABLES
    from tessera.warehouse import Warehouse

    with duckdb.connect(str(settings.warehouse_path)) as con:
        # a cached warehouse may predate a newer generator's truth tables: add them, empty, to
        # this private copy so the generator can append
        for qualified, table in TABLES.items():
            con.execute(table.ddl(qualified.split(".")[0]))
        end = con.execute("select max(timestamp) from raw.events").fetchone()[0]
        before = con.execute("select count(*) from raw.events").fetchone()[0]
    start = end.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    summary = append_activity(
        Warehouse(settings),
        seed=BENCH_APPEND_SEED,
        start=start,
        end=start + timedelta(days=days),
        persons_fraction=persons_fraction,
    )
    return {"events": summary.rows_per_table.get("raw.events", 0), "events_before": before}


def _rows_written_by_path(settings: Settings) -> dict[str, int]:
    """Rows of int_profile_facts the last run wrote, per refresh_path."""
    import duckdb

    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        rows = con.execute(
            "select refresh_path, count(*) from profiles.int_profile_facts "
            "where watermark_indexed = (select max(watermark_indexed) "
            "  from profiles.int_profile_facts) group by refresh_path"
        ).fetchall()
    return {path: count for path, count in rows}


def _model_seconds(run, names: list[str]) -> float:
    timings = run.node_timings()
    return sum(t for uid, t in timings.items() if uid.split(".")[-1] in names)


def run(scale: int, workdir: Path) -> dict:
    from tessera.dbt import run_dbt

    settings = generated_warehouse(scale, workdir)
    target = ["--target-path", str(workdir / "dbt_target")]

    def dbt(*args: str):
        return run_dbt(settings, [*args, *target], stream=False)

    dbt("run", "--select", "staging", "identity")
    full = dbt("run", "--full-refresh", "--select", *PROFILE_MODELS)
    features = dbt("run", "--select", *FEATURE_INPUTS, *FEATURE_MODELS)

    added = append_month(settings, persons_fraction=0.1, days=35)
    dbt("run", "--select", "identity")
    # the same incremental refresh, repeated from a copy of this state: one run of ~15 s on
    # 2 cores varies by 10% or more, so the ratio uses the median run
    before = settings.warehouse_path.with_suffix(".before-incremental")
    shutil.copyfile(settings.warehouse_path, before)
    trials = []
    for trial in range(INCREMENTAL_TRIALS):
        if trial:
            shutil.copyfile(before, settings.warehouse_path)
        trials.append(dbt("run", "--select", *PROFILE_MODELS))
    before.unlink()
    trials.sort(key=lambda run: _model_seconds(run, PROFILE_MODELS))
    incremental = trials[len(trials) // 2]

    full_models = _model_seconds(full, PROFILE_MODELS)
    incremental_models = _model_seconds(incremental, PROFILE_MODELS)
    paths = _rows_written_by_path(settings)
    return {
        "new_events_share": added["events"] / max(added["events_before"], 1),
        "profiles_full_s": full_models,
        "profiles_incremental_s": incremental_models,
        "incremental_over_full": incremental_models / full_models if full_models else 0.0,
        "incremental_trials_s": "/".join(
            f"{_model_seconds(run, PROFILE_MODELS):.2f}" for run in trials
        ),
        "facts_full_s": _model_seconds(full, ["int_profile_facts"]),
        "facts_incremental_s": _model_seconds(incremental, ["int_profile_facts"]),
        "index_full_s": _model_seconds(full, ["int_record_identifiers"]),
        "index_incremental_s": _model_seconds(incremental, ["int_record_identifiers"]),
        "lookup_full_s": _model_seconds(full, ["int_identifier_records"]),
        "lookup_incremental_s": _model_seconds(incremental, ["int_identifier_records"]),
        "recent_activity_s": _model_seconds(incremental, ["int_profile_recent_activity"]),
        "customer_profiles_full_s": _model_seconds(full, ["customer_profiles"]),
        "customer_profiles_s": _model_seconds(incremental, ["customer_profiles"]),
        "as_of_s": _model_seconds(incremental, ["profile_as_of"]),
        "persons_delta": paths.get("delta", 0),
        "persons_full": paths.get("full", 0),
        "profiles_full_wall_s": full.seconds,
        "profiles_incremental_wall_s": incremental.seconds,
        "features_s": _model_seconds(features, FEATURE_MODELS),
    }
