"""Validate a segment's SQL before anything runs it.

A segment must be one bounded, read-only SELECT over readable relations that both
warehouses read alike (sql_safety.py), return `person_id` exactly once per row (person_id.py),
name only existing columns (columns.py), and transpile from DuckDB to Snowflake.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, ParseError, TokenError, UnsupportedError

from tessera.segments.columns import Schema, qualify_columns
from tessera.segments.issues import Issue, SegmentValidationError, first_position, line_col
from tessera.segments.person_id import check_person_id, check_uniqueness
from tessera.segments.policy import DEFAULT_POLICY, SOURCE_DIALECT, ValidationPolicy
from tessera.segments.sql_safety import check_sql_safety
from tessera.segments.task_names import check_task_names
from tessera.warehouse import Session

__all__ = ["Issue", "SegmentValidationError", "ValidatedSegment", "find_issues", "validate_sql"]


class ColumnSource(Protocol):
    """What validation needs from a warehouse Session."""

    def columns(self, schema: str, table: str) -> list[tuple[str, str]]: ...


@dataclass(frozen=True)
class ValidatedSegment:
    name: str
    sql: str  # the rendered SQL, in the DuckDB dialect segments are written in
    relations: tuple[str, ...]
    output_columns: tuple[str, ...]  # empty when no warehouse schema was available
    warnings: tuple[Issue, ...] = ()
    tree: exp.Query | None = field(default=None, compare=False, repr=False)

    def sql_for(self, dialect: str) -> str:
        if dialect == SOURCE_DIALECT:
            return self.sql
        if dialect == "snowflake":
            return transpile_to_snowflake(self.sql, self.name)
        raise ValueError(f"no SQL dialect for target {dialect!r}")


def validate_sql(
    sql: str,
    name: str = "segment",
    policy: ValidationPolicy = DEFAULT_POLICY,
    columns_from: ColumnSource | None = None,
    known_schema: Schema | None = None,
    segment_names: frozenset[str] | None = None,
) -> ValidatedSegment:
    """Raise SegmentValidationError listing every problem, or return the checked segment.

    `columns_from` (a warehouse Session) turns on the column checks; `known_schema` adds
    relations that are not built yet, such as segments validated earlier in the same run;
    `segment_names` (the catalog) are the only names readable in the segments schema.
    """
    issues, validated = find_issues(sql, name, policy, columns_from, known_schema, segment_names)
    errors = [i for i in issues if i.severity == "error"]
    if errors or validated is None:
        raise SegmentValidationError(name, errors or issues)
    return validated


def find_issues(
    sql: str,
    name: str = "segment",
    policy: ValidationPolicy = DEFAULT_POLICY,
    columns_from: ColumnSource | None = None,
    known_schema: Schema | None = None,
    segment_names: frozenset[str] | None = None,
) -> tuple[list[Issue], ValidatedSegment | None]:
    """Like validate_sql but returns (issues, validated-or-None) instead of raising."""
    safety = check_sql_safety(sql, name, policy, segment_names)
    if safety.tree is None:
        return safety.issues, None
    tree, relations = safety.tree, safety.relations
    checker = _Checker(sql, name, policy)

    schema: Schema = {}
    for db, tables in (known_schema or {}).items():
        for table, cols in tables.items():
            schema.setdefault(db, {})[table] = dict(cols)
    if columns_from is not None:
        unknown = [r for r in sorted(relations) if not _in_schema(r, schema)]
        for db, tables in warehouse_schema(columns_from, unknown).items():
            schema.setdefault(db, {}).update(tables)
        for relation in unknown:
            if not _in_schema(relation, schema):
                checker.add(
                    "missing_relation",
                    f"relation {relation} does not exist in the warehouse (build it first)",
                    _table_node(tree, relation),
                )
    if any(i.severity == "error" for i in checker.issues):
        return checker.issues, None

    output_columns: tuple[str, ...] = ()
    have_schema = all(_in_schema(r, schema) for r in relations)
    if have_schema:
        qualified = qualify_columns(checker, tree, schema)
        if qualified is None:
            return checker.issues, None
        output_columns = tuple(qualified.named_selects)
        check_person_id(checker, qualified, output_columns, expanded=True)
        if not any(i.code.startswith("person_id") for i in checker.issues):
            check_uniqueness(checker, qualified)
    else:
        checker.warn(
            "columns_not_checked",
            "columns and uniqueness were not checked: no warehouse schema for "
            + ", ".join(sorted(r for r in relations if not _in_schema(r, schema))),
        )
        check_person_id(checker, tree, tuple(tree.named_selects), expanded=False)
    check_task_names(checker, tree, relations)  # ml scores by a task that exists (#17)
    if any(i.severity == "error" for i in checker.issues):
        return checker.issues, None
    validated = ValidatedSegment(
        name=name,
        sql=sql,
        relations=tuple(sorted(relations)),
        output_columns=output_columns,
        warnings=tuple(checker.issues),
        tree=tree,
    )
    return checker.issues, validated


def warehouse_schema(session: ColumnSource, relations: Iterable[str]) -> Schema:
    """{schema: {table: {column: type}}} for the relations that exist in the warehouse."""
    schema: Schema = {}
    for relation in relations:
        db, table = relation.split(".", 1)
        cols = session.columns(db, table)
        if cols:
            schema.setdefault(db, {})[table] = {c: t for c, t in cols}
    return schema


def transpile_to_snowflake(sql: str, name: str = "segment") -> str:
    """DuckDB SQL -> Snowflake SQL; SegmentValidationError if sqlglot cannot do it faithfully."""
    try:
        snowflake_sql = sqlglot.transpile(
            sql,
            read=SOURCE_DIALECT,
            write="snowflake",
            unsupported_level=ErrorLevel.RAISE,
            pretty=True,
        )
        if len(snowflake_sql) != 1:
            raise UnsupportedError(f"expected one statement, got {len(snowflake_sql)}")
        sqlglot.parse_one(snowflake_sql[0], read="snowflake")  # it must read back
    except (ParseError, TokenError, UnsupportedError) as exc:
        raise SegmentValidationError(
            name, [Issue(name, "transpile", f"cannot transpile to Snowflake: {exc}")]
        ) from None
    return snowflake_sql[0]


@dataclass(frozen=True)
class UniqueCheck:
    rows: int
    distinct_person_ids: int
    null_person_ids: int

    @property
    def ok(self) -> bool:
        return self.rows == self.distinct_person_ids and self.null_person_ids == 0


def check_unique(
    session: Session, segment: ValidatedSegment, raise_on_failure: bool = True
) -> UniqueCheck:
    """Count rows vs distinct person_ids of a validated segment on the warehouse."""
    sql = segment.sql_for(session.dialect)
    df = session.df(
        "select count(*) as n_rows, count(distinct person_id) as n_distinct, "
        f"count(*) - count(person_id) as n_null from ({sql}) as segment_rows"
    )
    result = UniqueCheck(
        rows=int(df.iloc[0, 0]),
        distinct_person_ids=int(df.iloc[0, 1]),
        null_person_ids=int(df.iloc[0, 2]),
    )
    if raise_on_failure and not result.ok:
        problems = []
        duplicates = result.rows - result.null_person_ids - result.distinct_person_ids
        if duplicates:
            problems.append(
                f"{duplicates} duplicate person_id rows ({result.rows} rows, "
                f"{result.distinct_person_ids} distinct person_ids)"
            )
        if result.null_person_ids:
            problems.append(f"{result.null_person_ids} rows with a null person_id")
        raise SegmentValidationError(
            segment.name,
            [Issue(segment.name, "not_unique", "on the warehouse: " + "; ".join(problems))],
        )
    return result


class _Checker:
    """Collects issues for one segment's SQL; each check appends and carries on."""

    def __init__(self, sql: str, name: str, policy: ValidationPolicy) -> None:
        self.sql = sql
        self.name = name
        self.policy = policy
        self.issues: list[Issue] = []

    def add(
        self,
        code: str,
        message: str,
        where: exp.Expression | None = None,
        severity: str = "error",
    ) -> None:
        line, column = self._position(where)
        self.issues.append(Issue(self.name, code, message, line, column, severity))

    def warn(self, code: str, message: str, where: exp.Expression | None = None) -> None:
        self.add(code, message, where, severity="warning")

    def _position(self, where: exp.Expression | None) -> tuple[int, int]:
        if where is not None:
            for node in where.walk():
                meta = node.meta if isinstance(node, exp.Expression) else None
                if meta and "start" in meta:
                    return line_col(self.sql, meta["start"])
        return first_position(self.sql)


def _in_schema(relation: str, schema: Schema) -> bool:
    db, table = relation.split(".", 1)
    return table in schema.get(db, {})


def _table_node(tree: exp.Expression, relation: str) -> exp.Expression | None:
    for table in tree.find_all(exp.Table):
        if f"{table.db}.{table.name}".lower() == relation:
            return table
    return None
