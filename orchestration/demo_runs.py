"""The demo's training and scoring as Dagster runs, so `make ui` shows the models materialized.

`tessera demo` trains outside the UI; without a record the UI lists the training and scoring
assets as never materialized and warns before every launch of `incremental_refresh` (whose
scores read the champions the demo trained). `materialize_ml_assets` runs the very assets
the UI runs (orchestration.ml_assets) with `dagster.materialize` on the persistent instance
in `.dagster_home`, so the demo's training is the UI's latest materialization, with the same
metrics, lift and reliability charts.

The demo calls it in place of its own ML step:

    failed = materialize_ml_assets(settings, console)
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dagster import (
    AssetsDefinition,
    DagsterEventType,
    DagsterInstance,
    DagsterRunStatus,
    ExecuteInProcessResult,
    RunsFilter,
    materialize,
)
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from ml.config import MLConfig
from orchestration.ml_assets import build_ml_assets
from orchestration.resources import WarehouseResource
from orchestration.ui import dagster_home, prepare_dagster_home
from tessera.settings import Settings

DEMO_RUN_TAGS = {"tessera/trigger": "tessera demo"}
DEMO_RUN_ID_TAG = "tessera/demo_run"
# Dagster's console logger would print every event, and a failing step's traceback; the demo
# prints its own summary and each failure's message, and the full log stays on the run's page.
QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
_SHOWN_METRICS = {"roc_auc": "ROC AUC", "pr_auc": "PR AUC", "top_decile_lift": "top-decile lift"}


def materialize_ml_assets(
    settings: Settings,
    console: Console,
    config: MLConfig | None = None,
    home: Path | None = None,
) -> int:
    """Train every model, then score, as one Dagster run on the project's instance; print a
    summary. Returns the number of failed steps (0 when all went well)."""
    home = prepare_dagster_home(home or dagster_home())
    resources = {
        "warehouse": WarehouseResource(
            target=settings.target,
            duckdb_path=str(settings.warehouse_path) if settings.target == "duckdb" else "",
        )
    }
    # The assets read the rest of their settings (artifacts dir ...) from the environment, as
    # the demo's own `settings` were.
    # config None: the project's prediction tasks, as the UI's definitions load them
    assets = build_ml_assets(config, dbt_project_dir=settings.dbt_project_dir)
    with (
        DagsterInstance.from_config(str(home)) as instance,
        Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as bar,
    ):
        task = bar.add_task("Dagster run: starting", total=len(assets))

        def show(progress: StepProgress) -> None:
            running = ", ".join(progress.running) or "starting"
            bar.update(task, completed=progress.finished, description=f"Dagster run: {running}")

        result = materialize_interruptibly(
            assets,
            instance,
            resources=resources,
            run_config=QUIET_LOGS,
            tags=DEMO_RUN_TAGS,
            on_wait=show,
        )
    _print_summary(result, console)
    failures = [e for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE]
    for event in failures:
        data = event.step_failure_data
        reason = (
            data.user_failure_data.description
            if data.user_failure_data is not None
            else data.error.message.strip()
        )
        console.print(f"[red]{event.step_key} failed:[/red] {reason}", soft_wrap=True)
    console.print(
        f"Recorded as Dagster run {result.run_id[:8]} ({home}); `make ui` shows it.", soft_wrap=True
    )
    return len(failures)


def materialize_interruptibly(
    assets: Sequence[AssetsDefinition],
    instance: DagsterInstance,
    tags: dict[str, str] | None = None,
    on_wait: Callable[[StepProgress], None] | None = None,
    **kwargs: Any,
) -> ExecuteInProcessResult:
    """`dagster.materialize` that Ctrl-C stops at once, as every other step of the demo.

    An in-process run on the main thread captures SIGINT and only looks at it at checkpoints
    a running asset never reaches, so Ctrl-C during training went unnoticed until the end
    (measured: the run finished 15 s after the interrupt, and the demo went on). So the run
    goes on a worker thread and the main thread keeps Python's KeyboardInterrupt: on Ctrl-C
    the run is recorded as canceled (the UI must not show it running forever) and the
    interrupt goes on to the caller; the worker thread ends with the process.
    `on_wait` hears the run's step progress about twice a second."""
    run_tags = {**(tags or {}), DEMO_RUN_ID_TAG: uuid.uuid4().hex}
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["result"] = materialize(
                assets, instance=instance, tags=run_tags, raise_on_error=False, **kwargs
            )
        except BaseException as exc:  # handed to the main thread below
            outcome["error"] = exc

    worker = threading.Thread(target=work, name="tessera-materialize", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.5)
            if on_wait is not None and worker.is_alive():
                on_wait(step_progress(instance, run_tags[DEMO_RUN_ID_TAG]))
    except KeyboardInterrupt:
        _cancel_runs(instance, run_tags[DEMO_RUN_ID_TAG])
        raise
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


@dataclass(frozen=True)
class StepProgress:
    finished: int
    running: tuple[str, ...]


def step_progress(instance: DagsterInstance, demo_run_id: str) -> StepProgress:
    """Steps finished and running in the run tagged `demo_run_id` (none before it starts)."""
    runs = instance.get_runs(filters=RunsFilter(tags={DEMO_RUN_ID_TAG: demo_run_id}), limit=1)
    if not runs:
        return StepProgress(0, ())
    kinds = {
        DagsterEventType.STEP_START,
        DagsterEventType.STEP_SUCCESS,
        DagsterEventType.STEP_FAILURE,
    }
    started: list[str] = []
    ended: set[str] = set()
    for entry in instance.all_logs(runs[0].run_id, of_type=kinds):
        event = entry.dagster_event
        if event is None or event.step_key is None:
            continue
        if event.event_type == DagsterEventType.STEP_START:
            started.append(event.step_key)
        else:
            ended.add(event.step_key)
    return StepProgress(len(ended), tuple(k for k in started if k not in ended))


def _cancel_runs(instance: DagsterInstance, demo_run_id: str) -> None:
    unfinished = [
        DagsterRunStatus.QUEUED,
        DagsterRunStatus.NOT_STARTED,
        DagsterRunStatus.STARTING,
        DagsterRunStatus.STARTED,
    ]
    filters = RunsFilter(tags={DEMO_RUN_ID_TAG: demo_run_id}, statuses=unfinished)
    for dagster_run in instance.get_runs(filters=filters):
        instance.report_run_canceled(dagster_run, message="tessera demo interrupted (Ctrl-C)")


def _print_summary(result, console: Console) -> None:  # noqa: ANN001 - ExecuteInProcessResult
    table = Table(title="Models, each against its baseline (recorded in Dagster)")
    table.add_column("model")
    for label in _SHOWN_METRICS.values():
        table.add_column(label, justify="right")
    table.add_column("champion")
    scored: list[str] = []
    charts: list[str] = []
    for event in result.get_asset_materialization_events():
        meta = event.materialization.metadata
        name = event.asset_key.path[-1]
        if "skipped" in meta:
            scored.append(
                f"[yellow]{name} skipped (not enough data):[/yellow] {meta['skipped'].value}"
            )
            continue
        if "promoted_to_champion" not in meta:
            rows = meta.get("dagster/row_count")
            scored.append(f"{name}: {rows.value:,} rows" if rows is not None else name)
            scored += [
                f"[yellow]{v.value}[/yellow]" for k, v in meta.items() if k.endswith("_not_scored")
            ]
            continue
        cells = []
        for metric in _SHOWN_METRICS:
            model, baseline = meta.get(f"model_{metric}"), meta.get(f"baseline_{metric}")
            cells.append(f"{model.value:.3f} ({baseline.value:.3f})" if model and baseline else "-")
        promoted = "new" if meta["promoted_to_champion"].value else "kept previous"
        table.add_row(name, *cells, promoted)
        if "registry_path" in meta:
            charts.append(f"{name}: {meta['registry_path'].value}")
    if table.row_count:
        console.print(table)
    for line in _baseline_warnings(result):  # issue 17: flagged loudly in the demo too
        console.print(f"[bold red]WARNING: {line}[/bold red]", soft_wrap=True)
    for line in scored:
        console.print(line, soft_wrap=True)
    if charts:
        console.print("Lift and reliability charts (also on each model's page in the UI):")
        for line in charts:
            console.print(f"  {line}", soft_wrap=True)


def _baseline_warnings(result) -> list[str]:  # noqa: ANN001 - ExecuteInProcessResult
    """One line per trained model that does not beat its baseline (ml_assets' flag text)."""
    lines = []
    for event in result.get_asset_materialization_events():
        meta = event.materialization.metadata
        if "beats_baseline" in meta and meta["beats_baseline"].value is False:
            lines.append(f"{event.asset_key.path[-1]}: {meta['flag'].value}")
    return lines
