"""Render a segment model's dbt Jinja to plain SQL, safely, before the SQL is validated.

dbt renders a model with its full context (`run_query`, `env_var`, `adapter`, `modules` ...),
so a segment file could read secrets or run statements at compile time. A segment may use
only `ref`, `source`, `var`, `config`, `is_incremental`, `target` and `this`; anything else
is rejected from the template's syntax tree, including names in branches that would not be
taken on this target.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jinja2
import jinja2.meta
import jinja2.nodes
import yaml
from jinja2.sandbox import SandboxedEnvironment

ALLOWED_JINJA_NAMES = frozenset(
    {"ref", "source", "var", "config", "is_incremental", "target", "this"}
)
ALLOWED_TARGET_ATTRIBUTES = frozenset({"type", "name", "schema"})

# Where relations live when the dbt project does not (yet) define them: the data contracts.
CONTRACT_MODELS: dict[str, str] = {
    "customer_profiles": "profiles",
    "persons": "identity",
    "identity_graph": "identity",
    "person_merges": "identity",
    "person_scores": "ml",
}

_JINJA_BLOCK = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)


class JinjaError(ValueError):
    """The segment's Jinja is not allowed or does not render; carries a line when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


@dataclass(frozen=True)
class RelationResolver:
    """Maps `ref('model')` and `source('src', 'table')` to `schema.table` names."""

    models: Mapping[str, str] = field(default_factory=lambda: dict(CONTRACT_MODELS))
    sources: Mapping[tuple[str, str], str] = field(default_factory=dict)
    vars: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_project(cls, project_dir: Path) -> RelationResolver:
        """Model schemas follow their top folder under models/ (generate_schema_name)."""
        models = dict(CONTRACT_MODELS)
        sources: dict[tuple[str, str], str] = {}
        models_dir = project_dir / "models"
        if models_dir.is_dir():
            for sql_file in models_dir.rglob("*.sql"):
                relative = sql_file.relative_to(models_dir)
                if len(relative.parts) > 1:
                    models[sql_file.stem] = relative.parts[0]
            for yml_file in [*models_dir.rglob("*.yml"), *models_dir.rglob("*.yaml")]:
                sources.update(_sources_in(yml_file))
        return cls(models=models, sources=sources, vars=_project_vars(project_dir))

    def ref(self, *args: str, **_: Any) -> str:
        if not args:
            raise JinjaError("ref() needs a model name")
        name = args[-1]
        schema = self.models.get(name)
        if schema is None:
            raise JinjaError(f"ref('{name}') names no model in the dbt project")
        return f"{schema}.{name}"

    def source(self, source_name: str, table_name: str) -> str:
        return self.sources.get((source_name, table_name), f"{source_name}.{table_name}")


def render_segment_sql(
    text: str, segment: str, resolver: RelationResolver, dialect: str = "duckdb"
) -> str:
    """Check the template's names, then render it; line numbers of the SQL are preserved."""
    env = SandboxedEnvironment(undefined=jinja2.StrictUndefined)
    try:
        tree = env.parse(text)
    except jinja2.TemplateSyntaxError as exc:
        raise JinjaError(f"Jinja syntax error: {exc.message}", exc.lineno) from None
    _check_template(tree)
    padded = _JINJA_BLOCK.sub(_pad_block, text)
    env.globals.update(
        ref=resolver.ref,
        source=resolver.source,
        var=_var_lookup(resolver.vars),
        config=lambda *args, **kwargs: "",
        is_incremental=lambda: False,
        target=SimpleNamespace(type=dialect, name=dialect, schema="segments"),
        this=f"segments.{segment}",
    )
    try:
        return env.from_string(padded).render()
    except JinjaError:
        raise
    except jinja2.TemplateError as exc:
        raise JinjaError(f"Jinja could not render: {exc}") from None


def _check_template(tree: jinja2.nodes.Template) -> None:
    unknown = sorted(jinja2.meta.find_undeclared_variables(tree) - ALLOWED_JINJA_NAMES)
    if unknown:
        first = next((n for n in tree.find_all(jinja2.nodes.Name) if n.name == unknown[0]), None)
        raise JinjaError(
            f"Jinja name(s) {', '.join(unknown)} not allowed in a segment; segments may use "
            f"only {', '.join(sorted(ALLOWED_JINJA_NAMES))}",
            first.lineno if first else None,
        )
    for node_type in (jinja2.nodes.Include, jinja2.nodes.Import, jinja2.nodes.FromImport):
        for node in tree.find_all(node_type):
            raise JinjaError("Jinja include/import is not allowed in a segment", node.lineno)
    for node in tree.find_all(jinja2.nodes.Extends):
        raise JinjaError("Jinja extends is not allowed in a segment", node.lineno)
    for node in tree.find_all(jinja2.nodes.Getattr):
        if node.attr.startswith("_"):
            raise JinjaError(f"Jinja attribute {node.attr!r} is not allowed", node.lineno)
        if (
            isinstance(node.node, jinja2.nodes.Name)
            and node.node.name == "target"
            and node.attr not in ALLOWED_TARGET_ATTRIBUTES
        ):
            raise JinjaError(
                f"target.{node.attr} is not available to segments; use target.type, "
                "target.name or target.schema",
                node.lineno,
            )


def _pad_block(match: re.Match[str]) -> str:
    """Re-emit a block's newlines after it so SQL line numbers match the file's."""
    newlines = match.group(0).count("\n")
    return match.group(0) + (f"{{{{ '\\n' * {newlines} }}}}" if newlines else "")


def _var_lookup(project_vars: Mapping[str, Any]) -> Any:
    missing = object()

    def var(name: str, default: Any = missing) -> Any:
        if name in project_vars:
            return project_vars[name]
        if default is missing:
            raise JinjaError(f"var('{name}') is not defined in dbt_project.yml and has no default")
        return default

    return var


def _project_vars(project_dir: Path) -> dict[str, Any]:
    path = project_dir / "dbt_project.yml"
    if not path.exists():
        return {}
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError:
        return {}
    project_vars = data.get("vars") or {}
    return {k: v for k, v in project_vars.items() if not isinstance(v, dict)}


def _sources_in(path: Path) -> dict[tuple[str, str], str]:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError:
        return {}  # the catalog reports malformed YAML for segment files
    found: dict[tuple[str, str], str] = {}
    if not isinstance(data, dict):
        return found
    for src in data.get("sources") or []:
        if not isinstance(src, dict) or "name" not in src:
            continue
        schema = src.get("schema") or src["name"]
        for table in src.get("tables") or []:
            if isinstance(table, dict) and "name" in table:
                identifier = table.get("identifier") or table["name"]
                found[(src["name"], table["name"])] = f"{schema}.{identifier}"
    return found
