"""Prediction tasks as dbt_project.yml defines them (vars `prediction_tasks`), for Python.

dbt reads the same var (macros/features/prediction_tasks.sql) to build one label column per
task; ml/ trains a model per task and writes its scores under the task's name; segment
validation checks that a segment names tasks that exist. This module only reads and checks
the definitions: it lives in the core so that tessera/segments can use it without ml/.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

OUTCOMES = ("purchase", "churn", "spend")
POPULATIONS = ("all", "buyers", "active")
TASK_KEYS = ("name", "outcome", "horizon_days", "population", "description")
RESERVED = ("person_id", "cutoff_date", "observed_days", "days_to_next_purchase")
DEFAULT_FALLBACK_DAYS = 30
DEFAULT_ACTIVE_DAYS = 365
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


class TaskDefinitionError(ValueError):
    """A prediction task definition is invalid; the message names the file, line and task."""


@dataclass(frozen=True)
class PredictionTask:
    name: str
    outcome: str  # purchase | churn | spend
    horizon_days: int
    population: str = "all"  # all | buyers | active
    description: str = ""

    @property
    def is_binary(self) -> bool:
        return self.outcome in ("purchase", "churn")

    def population_sql(self, active_days: int = DEFAULT_ACTIVE_DAYS) -> str | None:
        """The population as a condition on ml_features columns (None: everyone), exactly as
        macros/features/prediction_tasks.sql writes it."""
        if self.population == "buyers":
            return "frequency_orders > 0"
        if self.population == "active":
            return f"recency_days <= {active_days}"
        return None


@dataclass(frozen=True)
class TaskDefinitions:
    tasks: tuple[PredictionTask, ...]
    fallback_days: int = DEFAULT_FALLBACK_DAYS
    active_days: int = DEFAULT_ACTIVE_DAYS
    source: str = "dbt_project.yml"

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.tasks)

    def get(self, name: str) -> PredictionTask:
        for task in self.tasks:
            if task.name == name:
                return task
        raise TaskDefinitionError(
            f"unknown prediction task {name!r}; tasks defined in {self.source}: "
            f"{', '.join(self.names)}"
        )


def _where(source: str, node: yaml.Node | None) -> str:
    if node is None:
        return source
    return f"{source}, line {node.start_mark.line + 1}, column {node.start_mark.column + 1}"


def _find(node: yaml.Node | None, key: str) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if getattr(key_node, "value", None) == key:
                return value_node
    return None


def parse_tasks(
    raw: Any, source: str = "dbt_project.yml", node: yaml.Node | None = None
) -> tuple[PredictionTask, ...]:
    """Check a `prediction_tasks` value (a list of mappings) the way the dbt macro does."""
    if not isinstance(raw, list) or not raw:
        raise TaskDefinitionError(
            f"{_where(source, node)}: prediction_tasks must be a non-empty list of tasks"
        )
    items = node.value if isinstance(node, yaml.SequenceNode) else [None] * len(raw)
    tasks: list[PredictionTask] = []
    for index, (item, item_node) in enumerate(zip(raw, items, strict=True), start=1):
        where = f"{_where(source, item_node)}: prediction task {index}"
        if not isinstance(item, dict):
            raise TaskDefinitionError(f"{where}: expected a mapping, got {item!r}")
        unknown = sorted(set(item) - set(TASK_KEYS))
        if unknown:
            raise TaskDefinitionError(
                f"{where}: unknown key(s) {', '.join(map(str, unknown))}; allowed: "
                f"{', '.join(TASK_KEYS)}"
            )
        name = str(item.get("name", ""))
        where = f"{where} ({name or 'no name'})"
        if not _NAME.match(name):
            raise TaskDefinitionError(
                f"{where}: name must be lower-case letters, digits and _ (it becomes a column "
                "name and a model name)"
            )
        if name in RESERVED or name in (t.name for t in tasks):
            raise TaskDefinitionError(f"{where}: name {name!r} is used twice or reserved")
        outcome = item.get("outcome")
        if outcome not in OUTCOMES:
            raise TaskDefinitionError(
                f"{where}: outcome {outcome!r} must be one of {', '.join(OUTCOMES)}"
            )
        horizon = item.get("horizon_days")
        if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1:
            raise TaskDefinitionError(
                f"{where}: horizon_days {horizon!r} must be a whole number of days >= 1"
            )
        population = item.get("population", "active" if outcome == "churn" else "all")
        if population not in POPULATIONS:
            raise TaskDefinitionError(
                f"{where}: population {population!r} must be one of {', '.join(POPULATIONS)}"
            )
        if outcome == "churn" and population == "all":
            raise TaskDefinitionError(
                f"{where}: churn needs population buyers or active (someone who never bought "
                "cannot stop buying)"
            )
        tasks.append(
            PredictionTask(name, outcome, horizon, population, str(item.get("description", "")))
        )
    return tuple(tasks)


def _int_var(value: Any, default: int, name: str, where: str) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise TaskDefinitionError(f"{where}: {name} {value!r} must be a whole number >= 1")
    return value


def load_task_definitions(dbt_project_dir: Path) -> TaskDefinitions:
    """The tasks of `dbt_project_dir/dbt_project.yml` (vars), validated."""
    path = Path(dbt_project_dir) / "dbt_project.yml"
    try:
        text = path.read_text()
        raw = yaml.safe_load(text) or {}
        root = yaml.compose(text)
    except OSError as exc:
        raise TaskDefinitionError(f"cannot read {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise TaskDefinitionError(f"{path} is not valid YAML: {exc}") from exc
    variables = raw.get("vars") or {}
    vars_node = _find(root, "vars")
    source = str(path)
    if "prediction_tasks" not in variables:
        raise TaskDefinitionError(
            f"{_where(source, vars_node)}: vars has no prediction_tasks (the tasks Tessera "
            "predicts; see macros/features/prediction_tasks.sql)"
        )
    tasks = parse_tasks(variables["prediction_tasks"], source, _find(vars_node, "prediction_tasks"))
    return TaskDefinitions(
        tasks=tasks,
        fallback_days=_int_var(
            variables.get("prediction_fallback_days"),
            DEFAULT_FALLBACK_DAYS,
            "prediction_fallback_days",
            _where(source, _find(vars_node, "prediction_fallback_days")),
        ),
        active_days=_int_var(
            variables.get("label_active_days"),
            DEFAULT_ACTIVE_DAYS,
            "label_active_days",
            _where(source, _find(vars_node, "label_active_days")),
        ),
        source=source,
    )
