"""A segment's Jinja is a small, inert template language, rendered without a Jinja engine.

dbt renders a model with its full context (`run_query`, `env_var`, `adapter`, `target`,
`modules` ...), so anything but plain substitutions could read secrets, run statements or
render one way when checked and another when built. A segment may use exactly three things,
each with literal names: `{{ ref('model') }}` (a readable model or another segment),
`{{ source('source', 'table') }}` (a readable source declared by the project) and
`{{ var('name') }}` (a numeric project var), plus `{# comments #}`. Whitespace control,
tags, expressions, filters and everything else are refused at their line and column.
Rendering is therefore a string substitution: no recursion, no arithmetic, no loops, so no
template can hang, exhaust memory or crash the checker. macros/segments/guard.sql applies the
same rule inside dbt, so a plain `dbt build` refuses what this refuses.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tessera.segments.issues import SourceMap, line_col
from tessera.segments.policy import DEFAULT_ALLOWED_RELATIONS

# Relations the contracts promise when the dbt project does not (yet) define the model.
CONTRACT_MODELS: dict[str, str] = {
    "customer_profiles": "profiles",
    "persons": "identity",
    "identity_graph": "identity",
    "person_merges": "identity",
}
# When dbt_project.yml has no segments_* vars: the policy's defaults.
DEFAULT_READABLE = DEFAULT_ALLOWED_RELATIONS
DEFAULT_SOURCES = frozenset(r for r in DEFAULT_ALLOWED_RELATIONS if r.startswith("ml."))
SEGMENTS_SCHEMA = "segments"
MAX_TEMPLATE_CHARS = 100_000

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_COMMENT = re.compile(r"\{#.*?#\}", re.DOTALL)
_NAME = r"""\s*(['"])([A-Za-z_][A-Za-z0-9_]*)\2\s*"""
_CALL = re.compile(
    r"\{\{\s*(ref|source|var)\("
    + _NAME
    + r"""(?:,\s*(['"])([A-Za-z_][A-Za-z0-9_]*)\4\s*)?\)\s*\}\}"""
)
_MARKERS = ("{{", "}}", "{%", "%}", "{#", "#}")
_ALLOWED = "{{ ref('model') }}, {{ source('source', 'table') }} and {{ var('name') }}"


class JinjaError(ValueError):
    """The segment's Jinja is not allowed; carries the line and column in the template."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


@dataclass(frozen=True)
class RelationResolver:
    """What `ref`, `source` and `var` may name and what they render to (`schema.table`)."""

    models: Mapping[str, str] = field(default_factory=lambda: dict(CONTRACT_MODELS))
    sources: Mapping[tuple[str, str], str] = field(default_factory=dict)
    vars: Mapping[str, Any] = field(default_factory=dict)
    segments: frozenset[str] = frozenset()
    readable: frozenset[str] = DEFAULT_READABLE
    allowed_sources: frozenset[str] = DEFAULT_SOURCES
    segments_schema: str = SEGMENTS_SCHEMA

    @classmethod
    def from_project(
        cls, project_dir: Path, segments: frozenset[str] | None = None
    ) -> RelationResolver:
        """Models map to the schema of their top folder under models/ (generate_schema_name);
        sources come from YAML outside the segments folder; policy from dbt_project.yml."""
        project_vars = project_vars_of(project_dir)
        schema = str(project_vars.get("segments_schema") or SEGMENTS_SCHEMA)
        models = dict(CONTRACT_MODELS)
        sources: dict[tuple[str, str], str] = {}
        models_dir = project_dir / "models"
        segments_dir = models_dir / schema
        found_segments: set[str] = set()
        if models_dir.is_dir():
            for sql_file in models_dir.rglob("*.sql"):
                relative = sql_file.relative_to(models_dir)
                if len(relative.parts) > 1:
                    models[sql_file.stem] = relative.parts[0]
                if sql_file.parent == segments_dir:
                    found_segments.add(sql_file.stem)
            for yml_file in [*models_dir.rglob("*.yml"), *models_dir.rglob("*.yaml")]:
                if segments_dir in yml_file.parents:
                    continue  # sources declared there are refused, never resolved
                sources.update(_sources_in(yml_file))
        return cls(
            models=models,
            sources=sources,
            vars=project_vars,
            segments=frozenset(found_segments if segments is None else segments),
            readable=_string_set(project_vars.get("segments_readable"), DEFAULT_READABLE),
            allowed_sources=_string_set(project_vars.get("segments_sources"), DEFAULT_SOURCES),
            segments_schema=schema,
        )

    def ref(self, name: str) -> str:
        if name in self.segments:
            return f"{self.segments_schema}.{name}"
        schema = self.models.get(name)
        relation = f"{schema}.{name}" if schema else None
        if relation is None or relation.lower() not in self.readable:
            readable_models = sorted(
                r.split(".", 1)[1]
                for r in self.readable
                if r.split(".", 1)[1] in self.models
                and f"{self.models[r.split('.', 1)[1]]}.{r.split('.', 1)[1]}" == r
            )
            raise JinjaError(
                f"ref('{name}') is not readable by segments; they may ref "
                + ", ".join(readable_models or ["customer_profiles"])
                + " or another segment"
            )
        return relation

    def source(self, source_name: str, table_name: str) -> str:
        key = f"{source_name}.{table_name}"
        if key.lower() not in self.allowed_sources:
            raise JinjaError(
                f"source('{source_name}', '{table_name}') is not readable by segments "
                f"(allowed: {', '.join(sorted(self.allowed_sources)) or 'none'})"
            )
        relation = self.sources.get((source_name, table_name), key)
        if relation.lower() not in self.readable:
            raise JinjaError(f"source('{source_name}', '{table_name}') reads {relation}")
        return relation

    def var(self, name: str) -> str:
        value = self.vars.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise JinjaError(
                f"var('{name}') is "
                + ("not defined in dbt_project.yml" if name not in self.vars else "not a number")
                + "; segments may only use numeric project vars"
            )
        return repr(value)


def render_segment_sql(text: str, segment: str, resolver: RelationResolver) -> str:
    """The SQL dbt renders from `text`; JinjaError (with line and column) if not allowed."""
    return render_with_map(text, segment, resolver).rendered


def render_with_map(text: str, segment: str, resolver: RelationResolver) -> SourceMap:
    if len(text) > MAX_TEMPLATE_CHARS:
        raise JinjaError(
            f"the segment file is {len(text):,} characters; the limit is {MAX_TEMPLATE_CHARS:,}",
            1,
            1,
        )
    source_map = SourceMap(template=text)
    pieces: list[str] = []
    cursor = 0  # in `text`
    length = 0  # of the rendered output so far

    def emit(output: str, start: int, end: int) -> None:
        nonlocal length
        source_map.add(length, length + len(output), start, end)
        pieces.append(output)
        length += len(output)

    def copy(start: int, end: int) -> None:
        nonlocal length
        pieces.append(text[start:end])
        length += end - start

    blocks = _blocks(text)
    for start, end, kind, match in blocks:
        _check_plain_text(text, cursor, start)
        copy(cursor, start)
        if kind == "comment":
            if text.startswith("{#-", start) or text.endswith("-#}", 0, end):
                raise JinjaError(
                    "Jinja whitespace control ({#- -#}) is not allowed in a segment",
                    *line_col(text, start),
                )
            emit("", start, end)
        else:
            emit(_call_output(match, resolver, text, start), start, end)
        cursor = end
    _check_plain_text(text, cursor, len(text))
    copy(cursor, len(text))
    rendered = "".join(pieces)
    if rendered.endswith("\n"):  # Jinja drops one trailing newline, as dbt's output shows
        rendered = rendered[:-1]
    source_map.rendered = rendered
    return source_map


def _blocks(text: str) -> list[tuple[int, int, str, re.Match[str] | None]]:
    """Comments and allowed calls in order; a call is looked for only outside comments."""
    blocks: list[tuple[int, int, str, re.Match[str] | None]] = []
    position = 0
    while position < len(text):
        comment = _COMMENT.search(text, position)
        call = _CALL.search(text, position)
        candidates = [m for m in (comment, call) if m is not None]
        if not candidates:
            break
        first = min(candidates, key=lambda m: m.start())
        kind = "comment" if first is comment else "call"
        blocks.append((first.start(), first.end(), kind, first))
        position = first.end()
    return blocks


def _check_plain_text(text: str, start: int, end: int) -> None:
    chunk = text[start:end]
    hits = [(chunk.find(m), m) for m in _MARKERS if m in chunk]
    if not hits:
        return
    offset, marker = min(hits)
    line, column = line_col(text, start + offset)
    snippet = text[start + offset : start + offset + 40].split("\n", 1)[0]
    raise JinjaError(
        f"Jinja other than {_ALLOWED} is not allowed in a segment "
        f"(found {snippet!r}{'' if marker in ('{{', '{%', '{#') else ' without its opening'})",
        line,
        column,
    )


def _call_output(
    match: re.Match[str] | None, resolver: RelationResolver, text: str, at: int
) -> str:
    assert match is not None
    function, first, second = match.group(1), match.group(3), match.group(5)
    try:
        if function == "ref":
            if second:
                raise JinjaError("ref() takes one model name in a segment (no package or version)")
            return resolver.ref(first)
        if function == "source":
            if not second:
                raise JinjaError("source() needs a source and a table name")
            return resolver.source(first, second)
        if second:
            raise JinjaError("var() takes one name in a segment (no default)")
        return resolver.var(first)
    except JinjaError as exc:
        raise JinjaError(exc.message, *line_col(text, at)) from None


def project_vars_of(project_dir: Path) -> dict[str, Any]:
    path = project_dir / "dbt_project.yml"
    if not path.exists():
        return {}
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError:
        return {}
    project_vars = data.get("vars") if isinstance(data, dict) else None
    return dict(project_vars) if isinstance(project_vars, dict) else {}


def _string_set(value: Any, default: frozenset[str]) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return default
    return frozenset(v.lower() for v in value)


def _sources_in(path: Path) -> dict[tuple[str, str], str]:
    text = path.read_text()
    if "sources:" not in text:
        return {}
    try:
        data = yaml.load(text, Loader=_LOADER) or {}
    except yaml.YAMLError:
        return {}
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
