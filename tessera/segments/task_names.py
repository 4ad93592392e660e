"""A segment that picks scores by a model name that is not a prediction task fails.

ml.person_scores holds one row per person and model, the model named after its prediction
task (dbt_project.yml, vars prediction_tasks). `where model = 'purchase_30d'` with a renamed
or misspelt task would silently select nobody; this check names the tasks that exist.
Hooked into validate.find_issues with one line; reads the tasks from the project file
(tessera.prediction_tasks), so the core never depends on the ML package.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Protocol

from sqlglot import exp

from tessera.prediction_tasks import TaskDefinitionError, load_task_definitions
from tessera.settings import DBT_PROJECT_DIR

SCORES_RELATION = "ml.person_scores"
MODEL_COLUMN = "model"


class _Reporter(Protocol):
    def add(self, code: str, message: str, where: exp.Expression | None = None) -> None: ...


@lru_cache(maxsize=8)
def _task_names(path: Path, mtime: float) -> tuple[str, ...] | None:
    try:
        tasks = load_task_definitions(path.parent).tasks
    except TaskDefinitionError:
        return None  # the task definitions report their own error where they are used
    # spend tasks are predicted by BTYD into ml.person_lifetime_value, not person_scores
    return tuple(t.name for t in tasks if t.outcome != "spend")


def task_names(dbt_project_dir: Path = DBT_PROJECT_DIR) -> tuple[str, ...] | None:
    path = Path(dbt_project_dir) / "dbt_project.yml"
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return None
    return _task_names(path, mtime)


def _model_literals(tree: exp.Expression) -> list[tuple[str, exp.Expression]]:
    """String literals compared with a column named `model` (=, IN)."""
    found = []
    for node in tree.find_all(exp.EQ, exp.In):
        if isinstance(node, exp.In):
            column, values = node.this, node.expressions
        else:
            column, values = node.this, [node.expression]
            if not isinstance(column, exp.Column):
                column, values = node.expression, [node.this]
        if not (isinstance(column, exp.Column) and column.name.lower() == MODEL_COLUMN):
            continue
        for value in values:
            if isinstance(value, exp.Literal) and value.is_string:
                found.append((value.this, value))
    return found


def check_task_names(
    reporter: _Reporter,
    tree: exp.Expression,
    relations: set[str],
    dbt_project_dir: Path = DBT_PROJECT_DIR,
) -> None:
    if SCORES_RELATION not in relations:
        return
    names = task_names(dbt_project_dir)
    if not names:
        return
    for value, node in _model_literals(tree):
        if value not in names:
            reporter.add(
                "unknown_task",
                f"model {value!r} is not a prediction task, so no score has that name and the "
                f"segment would select nobody; tasks: {', '.join(names)} (dbt_project.yml, "
                "vars prediction_tasks; spend tasks are columns of ml.person_lifetime_value)",
                node,
            )
