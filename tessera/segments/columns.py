"""Every column a segment names exists in what it reads, given the warehouse schema: each
unknown column is reported at its position, then sqlglot qualifies the query's columns."""

from __future__ import annotations

import logging
import re
from typing import Protocol

from sqlglot import exp
from sqlglot.errors import OptimizeError
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, traverse_scope

from tessera.segments.issues import Issue
from tessera.segments.policy import SOURCE_DIALECT

_UNRESOLVED_COLUMN = re.compile(r"Column '([^']+)' could not be resolved|Unknown column: (\S+)")

Schema = dict[str, dict[str, dict[str, str]]]


class _Reporter(Protocol):
    issues: list[Issue]

    def add(self, code: str, message: str, where: exp.Expression | None = None) -> None: ...


def qualify_columns(
    reporter: _Reporter, tree: exp.Expression, schema: Schema
) -> exp.Expression | None:
    _report_unknown_columns(reporter, tree, schema)
    if reporter.issues and any(i.severity == "error" for i in reporter.issues):
        return None
    try:
        with _quiet_sqlglot():
            return qualify(
                tree.copy(),
                schema=schema,
                dialect=SOURCE_DIALECT,
                validate_qualify_columns=True,
                identify=False,
            )
    except OptimizeError as exc:
        match = _UNRESOLVED_COLUMN.search(str(exc))
        column_name = (match.group(1) or match.group(2)) if match else None
        node = _column_node(tree, column_name) if column_name else None
        reporter.add(
            "unknown_column" if column_name else "qualify",
            f"unknown or ambiguous column {column_name!r}"
            if column_name
            else f"cannot resolve the query's columns: {exc}",
            node,
        )
        return None


def selects(expression: exp.Expression) -> list[exp.Expression]:
    if isinstance(expression, exp.SetOperation):
        return selects(expression.left)
    if isinstance(expression, exp.Subquery):
        return selects(expression.this)
    return list(expression.selects) if isinstance(expression, exp.Query) else []


def _report_unknown_columns(reporter: _Reporter, tree: exp.Expression, schema: Schema) -> None:
    """Every explicitly or implicitly unknown column, before qualify stops at the first."""
    seen: set[int] = set()
    for scope in traverse_scope(tree):  # innermost scopes first
        aliases = {p.alias.lower() for p in selects(scope.expression) if p.alias}
        for column in scope.columns:
            if id(column) in seen:
                continue  # judged in the innermost scope it appears in
            seen.add(id(column))
            name = column.name.lower()
            if column.table:
                known = _source_columns(scope, column.table, schema)
                if known is not None and name not in known:
                    reporter.add(
                        "unknown_column",
                        f"column {column.table}.{column.name} does not exist in "
                        f"{_source_label(scope, column.table)}",
                        column,
                    )
                continue
            if name in aliases:
                continue
            candidates: set[str] = set()
            unknown_source = False
            current: Scope | None = scope
            while current is not None:
                for alias in current.sources:
                    known = _source_columns(current, alias, schema)
                    if known is None:
                        unknown_source = True
                    else:
                        candidates |= known
                current = current.parent
            if not unknown_source and name not in candidates:
                reporter.add(
                    "unknown_column",
                    f"column {column.name!r} does not exist in any relation the query reads",
                    column,
                )


def _source_columns(scope: Scope, alias: str, schema: Schema) -> set[str] | None:
    source = scope.sources.get(alias)
    if isinstance(source, exp.Table) and source.db:
        cols = schema.get(source.db.lower(), {}).get(source.name.lower())
        return set(cols) if cols is not None else None
    if isinstance(source, Scope):
        expression = source.expression
        for node in (expression, expression.parent):
            # `(values ...) as w(a, b)`, `cte(a, b) as (...)`, `... as t(a, b)`
            names = node.alias_column_names if isinstance(node, exp.Expression) else []
            if names:
                return {c.lower() for c in names}
        if isinstance(expression, exp.Lateral):
            expression = expression.this
        if isinstance(expression, exp.Values):
            return None
        projections = selects(expression)
        if any(isinstance(p, exp.Star) or p.is_star for p in projections):
            return None
        return {p.alias_or_name.lower() for p in projections}
    return None


def _source_label(scope: Scope, alias: str) -> str:
    source = scope.sources.get(alias)
    if isinstance(source, exp.Table):
        return f"{source.db}.{source.name}"
    return alias


def _column_node(tree: exp.Expression, name: str) -> exp.Expression | None:
    for column in tree.find_all(exp.Column):
        if column.name.lower() == name.lower():
            return column
    return None


class _quiet_sqlglot:
    """sqlglot logs a warning when it falls back to parsing a Command; we report it instead."""

    def __enter__(self) -> None:
        self.logger = logging.getLogger("sqlglot")
        self.level = self.logger.level
        self.logger.setLevel(logging.ERROR)

    def __exit__(self, *exc: object) -> None:
        self.logger.setLevel(self.level)
