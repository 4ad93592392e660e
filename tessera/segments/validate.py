"""Validate a segment's SQL before anything runs it.

A segment must be one read-only SELECT over allowed relations, call only allowlisted
functions, return `person_id` exactly once per row, name only existing columns, and
transpile from DuckDB to Snowflake. Three parsers look at the text (sqlglot's DuckDB and
Snowflake tokenizers and DuckDB's own parser) so a comment or a string that one engine reads
differently cannot hide a second statement.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

import duckdb
import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, OptimizeError, ParseError, TokenError, UnsupportedError
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, traverse_scope
from sqlglot.tokens import Token, TokenType

from tessera.segments.policy import (
    DEFAULT_POLICY,
    FILE_READING_FUNCTIONS,
    FORBIDDEN_STATEMENTS,
    FUNCTION_HINTS,
    KEY_COLUMN,
    SOURCE_DIALECT,
    ValidationPolicy,
)
from tessera.segments.task_names import check_task_names
from tessera.segments.uniqueness import person_id_is_unique
from tessera.warehouse import Session

_SIMPLE_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_UNRESOLVED_COLUMN = re.compile(r"Column '([^']+)' could not be resolved|Unknown column: (\S+)")

Schema = dict[str, dict[str, dict[str, str]]]


class ColumnSource(Protocol):
    """What validation needs from a warehouse Session."""

    def columns(self, schema: str, table: str) -> list[tuple[str, str]]: ...


@dataclass(frozen=True)
class Issue:
    """One reason a segment is rejected (or, as a warning, could not be fully checked)."""

    segment: str
    code: str
    message: str
    line: int | None = None
    column: int | None = None
    severity: str = "error"

    @property
    def where(self) -> str:
        if self.line is None:
            return self.segment
        column = f", column {self.column}" if self.column is not None else ""
        return f"{self.segment} (line {self.line}{column})"

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class SegmentValidationError(ValueError):
    """The segment's SQL was rejected; `issues` lists each problem with its position."""

    def __init__(self, segment: str, issues: list[Issue]) -> None:
        self.segment = segment
        self.issues = issues
        lines = "\n".join(f"  - {issue}" for issue in issues)
        super().__init__(f"segment {segment!r} is not valid:\n{lines}")


@dataclass(frozen=True)
class ValidatedSegment:
    name: str
    sql: str  # the rendered SQL, in the DuckDB dialect segments are written in
    relations: tuple[str, ...]
    output_columns: tuple[str, ...]  # empty when no warehouse schema was available
    warnings: tuple[Issue, ...] = ()

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
) -> ValidatedSegment:
    """Raise SegmentValidationError listing every problem, or return the checked segment.

    `columns_from` (a warehouse Session) turns on the column checks; `known_schema` adds
    relations that are not built yet, such as segments validated earlier in the same run.
    """
    issues, validated = find_issues(sql, name, policy, columns_from, known_schema)
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
) -> tuple[list[Issue], ValidatedSegment | None]:
    """Like validate_sql but returns (issues, validated-or-None) instead of raising."""
    checker = _Checker(sql, name, policy)
    tree = checker.parse()
    if tree is None:
        return checker.issues, None
    relations = checker.check_tree(tree)
    if any(i.severity == "error" for i in checker.issues):
        return checker.issues, None

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
        qualified = checker.qualify_columns(tree, schema)
        if qualified is None:
            return checker.issues, None
        output_columns = tuple(qualified.named_selects)
        checker.check_person_id(qualified, output_columns, expanded=True)
        if not any(i.code.startswith("person_id") for i in checker.issues):
            checker.check_uniqueness(qualified)
    else:
        checker.warn(
            "columns_not_checked",
            "columns and uniqueness were not checked: no warehouse schema for "
            + ", ".join(sorted(r for r in relations if not _in_schema(r, schema))),
        )
        checker.check_person_id(tree, tuple(tree.named_selects), expanded=False)
    check_task_names(checker, tree, relations)  # ml scores by a task that exists (#17)
    if any(i.severity == "error" for i in checker.issues):
        return checker.issues, None
    validated = ValidatedSegment(
        name=name,
        sql=sql,
        relations=tuple(sorted(relations)),
        output_columns=output_columns,
        warnings=tuple(checker.issues),
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
        self.tokens: list[Token] = []

    def add(
        self,
        code: str,
        message: str,
        where: exp.Expression | Token | None = None,
        severity: str = "error",
    ) -> None:
        line, column = self._position(where)
        self.issues.append(Issue(self.name, code, message, line, column, severity))

    def warn(self, code: str, message: str, where: exp.Expression | None = None) -> None:
        self.add(code, message, where, severity="warning")

    # ---- lexical and statement-level checks -------------------------------------------------

    def parse(self) -> exp.Expression | None:
        if not self.sql.strip():
            self.add("empty", "the segment SQL is empty")
            return None
        tokenized: dict[str, list[Token]] = {}
        failures: dict[str, TokenError] = {}
        for dialect in (SOURCE_DIALECT, "snowflake"):
            try:
                tokenized[dialect] = sqlglot.Dialect.get_or_raise(dialect).tokenize(self.sql)
            except TokenError as exc:
                failures[dialect] = exc
        self.tokens = tokenized.get(SOURCE_DIALECT, [])
        for dialect, tokens in tokenized.items():
            semicolons = [t for t in tokens if t.token_type == TokenType.SEMICOLON]
            if semicolons:
                self.add(
                    "multiple_statements",
                    "';' is not allowed: a segment is exactly one SELECT without a trailing "
                    "semicolon (dbt wraps it in its own statement)"
                    + ("" if dialect == SOURCE_DIALECT else f"; the {dialect} parser sees one"),
                    semicolons[0],
                )
                return None
        self._check_comments_and_strings()
        if self.issues:
            return None
        for dialect, exc in failures.items():
            self.add(
                "tokenize",
                f"cannot read the SQL as {dialect} (unterminated string or comment?): "
                f"{_first_line(str(exc))}",
            )
            return None
        if not self._check_with_duckdb_parser():
            return None
        with _quiet_sqlglot():
            try:
                statements = sqlglot.parse(self.sql, read=SOURCE_DIALECT)
            except ParseError as exc:
                first = exc.errors[0] if exc.errors else {}
                self.issues.append(
                    Issue(
                        self.name,
                        "parse_error",
                        f"cannot parse the SQL: {first.get('description', exc)}",
                        first.get("line"),
                        first.get("col"),
                    )
                )
                return None
        statements = [s for s in statements if s is not None]
        if len(statements) != 1:
            self.add("multiple_statements", f"expected one statement, found {len(statements)}")
            return None
        tree = statements[0]
        if not isinstance(tree, exp.Query):
            self.add(
                "not_select",
                f"{_statement_name(tree)} statement is not allowed: a segment is one "
                "read-only SELECT (WITH allowed)",
                tree,
            )
            return None
        return tree

    def _check_comments_and_strings(self) -> None:
        for token in self.tokens:
            for comment in token.comments:
                if "/*" in comment or "*/" in comment:
                    self.add(
                        "nested_comment",
                        "nested block comments are not allowed: DuckDB nests them and "
                        "Snowflake does not, so they can hide SQL from one of them",
                        token,
                    )
                    return
            if token.token_type in (TokenType.STRING, TokenType.NATIONAL_STRING) and (
                "\\" in token.text
            ):
                self.add(
                    "backslash_string",
                    "backslashes in string literals are not allowed: DuckDB and Snowflake "
                    "read them differently",
                    token,
                )
                return
            if token.token_type in (TokenType.BYTE_STRING, TokenType.HEREDOC_STRING):
                self.add(
                    "special_string",
                    "escape (E'...') and dollar-quoted strings are not allowed in segments",
                    token,
                )
                return

    def _check_with_duckdb_parser(self) -> bool:
        connection = duckdb.connect(":memory:")
        try:
            statements = connection.extract_statements(self.sql)
        except duckdb.Error as exc:
            self.add("parse_error", f"DuckDB cannot parse the SQL: {_first_line(str(exc))}")
            return False
        finally:
            connection.close()
        if len(statements) != 1:
            self.add("multiple_statements", f"DuckDB sees {len(statements)} statements, not one")
            return False
        kind = statements[0].type.name
        if kind != "SELECT":
            # DuckDB files INSTALL under LOAD, EXPORT DATABASE under EXPORT ...: name the verb
            first_word = self.tokens[0].text.upper() if self.tokens else ""
            label = (
                first_word
                if first_word.isalpha() and first_word != "WITH"
                else kind.replace("_STATEMENT", "")
            )
            self.add(
                "not_select",
                f"{label} statement is not allowed: a segment is one read-only SELECT "
                "(WITH allowed)",
            )
            return False
        return True

    # ---- tree checks ---------------------------------------------------------------------------

    def check_tree(self, tree: exp.Expression) -> set[str]:
        """Statements, functions and relations anywhere in the tree; returns relations read."""
        for node in tree.walk():
            for node_type, label in FORBIDDEN_STATEMENTS.items():
                if isinstance(node, node_type):
                    self.add("forbidden_statement", f"{label} is not allowed in a segment", node)
            if isinstance(node, (exp.Placeholder, exp.Parameter, exp.SessionParameter)):
                self.add(
                    "parameter", "query parameters and session variables are not allowed", node
                )
            if isinstance(node, exp.Func) and not isinstance(node, exp.Connector):
                self._check_function(node)  # AND / OR are Func subclasses in sqlglot
        return self._check_relations(tree)

    def _function_allowed(self, node: exp.Func) -> bool:
        if isinstance(node, exp.Anonymous):
            return str(node.name).lower() in self.policy.allowed_anonymous_functions
        return type(node).__name__ in self.policy.allowed_functions

    def _check_function(self, node: exp.Func) -> None:
        if self._function_allowed(node):
            return
        fname = _function_name(node)
        if fname in FILE_READING_FUNCTIONS or fname.startswith(("read_", "st_read")):
            self.add(
                "file_access",
                f"{fname}() reads files or external data; segments may only read "
                "warehouse relations",
                node,
            )
            return
        hint = FUNCTION_HINTS.get(fname)
        self.add(
            "function_not_allowed",
            f"function {fname}() is not in the segment function allowlist"
            + (f" ({hint})" if hint else " (not known to be safe on both DuckDB and Snowflake)"),
            node,
        )

    def _check_relations(self, tree: exp.Expression) -> set[str]:
        cte_names = set()
        for with_ in tree.find_all(exp.With):
            if with_.args.get("recursive"):
                self.add(
                    "recursive_cte",
                    "WITH RECURSIVE is not allowed in segments (unbounded work per refresh)",
                    with_,
                )
        for cte in tree.find_all(exp.CTE):
            alias = cte.alias
            if not _SIMPLE_IDENTIFIER.match(alias):
                self.add(
                    "bad_cte_name",
                    f"CTE name {alias!r} must be a plain identifier (letters, digits, _)",
                    cte.args.get("alias"),
                )
            cte_names.add(alias.lower())
        relations: set[str] = set()
        for table in tree.find_all(exp.Table):
            if not isinstance(table.this, exp.Identifier):
                if isinstance(table.this, exp.Func) and not self._function_allowed(table.this):
                    continue  # reported by the function check
                fname = _function_name(table.this)
                self.add(
                    "table_function",
                    f"table function {fname}() is not allowed; read a warehouse relation",
                    table,
                )
                continue
            name = table.name
            if table.catalog:
                self.add(
                    "cross_database",
                    f"cross-database reference {table.catalog}.{table.db}.{name} is not "
                    "allowed: use schema.table in the warehouse Tessera builds",
                    table,
                )
                continue
            if not table.db:
                if name.lower() in cte_names and _SIMPLE_IDENTIFIER.match(name):
                    continue
                looks_like_file = "/" in name or "." in name or ":" in name
                self.add(
                    "file_access" if looks_like_file else "unqualified_relation",
                    f"{name!r} reads a file or URL; segments may only read warehouse relations"
                    if looks_like_file
                    else f"relation {name!r} must be schema-qualified (e.g. "
                    f"profiles.customer_profiles) or a {{{{ ref() }}}}",
                    table,
                )
                continue
            relation = f"{table.db}.{name}".lower()
            if not (_SIMPLE_IDENTIFIER.match(table.db) and _SIMPLE_IDENTIFIER.match(name)):
                self.add(
                    "bad_relation_name",
                    f"relation {table.db}.{name!r} is not a plain schema.table name",
                    table,
                )
                continue
            if not self.policy.relation_allowed(relation):
                allowed = ", ".join(sorted(self.policy.allowed_relations))
                schemas = ", ".join(f"{s}.<any>" for s in sorted(self.policy.allowed_schemas))
                self.add(
                    "relation_not_allowed",
                    f"relation {relation} is not allowed; segments may read {allowed}, {schemas}",
                    table,
                )
                continue
            relations.add(relation)
        return relations

    # ---- schema-aware checks -------------------------------------------------------------------

    def qualify_columns(self, tree: exp.Expression, schema: Schema) -> exp.Expression | None:
        self._report_unknown_columns(tree, schema)
        if self.issues and any(i.severity == "error" for i in self.issues):
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
            self.add(
                "unknown_column" if column_name else "qualify",
                f"unknown or ambiguous column {column_name!r}"
                if column_name
                else f"cannot resolve the query's columns: {exc}",
                node,
            )
            return None

    def _report_unknown_columns(self, tree: exp.Expression, schema: Schema) -> None:
        """Every explicitly or implicitly unknown column, before qualify stops at the first."""
        seen: set[int] = set()
        for scope in traverse_scope(tree):  # innermost scopes first
            aliases = {p.alias.lower() for p in _selects(scope.expression) if p.alias}
            for column in scope.columns:
                if id(column) in seen:
                    continue  # judged in the innermost scope it appears in
                seen.add(id(column))
                name = column.name.lower()
                if column.table:
                    known = self._source_columns(scope, column.table, schema)
                    if known is not None and name not in known:
                        self.add(
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
                        known = self._source_columns(current, alias, schema)
                        if known is None:
                            unknown_source = True
                        else:
                            candidates |= known
                    current = current.parent
                if not unknown_source and name not in candidates:
                    self.add(
                        "unknown_column",
                        f"column {column.name!r} does not exist in any relation the query reads",
                        column,
                    )

    @staticmethod
    def _source_columns(scope: Scope, alias: str, schema: Schema) -> set[str] | None:
        source = scope.sources.get(alias)
        if isinstance(source, exp.Table) and source.db:
            cols = schema.get(source.db.lower(), {}).get(source.name.lower())
            return set(cols) if cols is not None else None
        if isinstance(source, Scope):
            alias = source.expression.parent
            if isinstance(alias, exp.CTE) and alias.args.get("alias") and alias.alias_column_names:
                return {c.lower() for c in alias.alias_column_names}
            selects = _selects(source.expression)
            if any(isinstance(p, exp.Star) or p.is_star for p in selects):
                return None
            return {p.alias_or_name.lower() for p in selects}
        return None

    def check_person_id(self, tree: exp.Expression, names: tuple[str, ...], expanded: bool) -> None:
        lowered = [n.lower() for n in names]
        count = lowered.count(KEY_COLUMN)
        projections = _selects(tree)
        has_star = any(isinstance(p, exp.Star) or p.is_star for p in projections)
        if count > 1:
            self.add(
                "person_id_duplicate",
                f"person_id is selected {count} times; select it exactly once",
                next((p for p in projections[1:] if p.alias_or_name.lower() == KEY_COLUMN), None)
                or tree,
            )
        elif count == 0 and (expanded or not has_star):
            self.add(
                "person_id_missing",
                "the segment must select a person_id column (one row per person)",
                tree,
            )
        elif count == 0:
            self.warn("person_id_unchecked", "SELECT * not expanded: no warehouse schema")
        duplicates = sorted({n for n in lowered if lowered.count(n) > 1 and n != KEY_COLUMN})
        if duplicates:
            self.add(
                "duplicate_column",
                f"output column(s) {', '.join(duplicates)} appear more than once",
                tree,
            )
        if count == 1 and isinstance(tree, exp.Select):
            projection = next(p for p in projections if p.alias_or_name.lower() == KEY_COLUMN)
            source = projection.unalias()
            parts = (
                [source.this, *source.expressions] if isinstance(source, exp.Coalesce) else [source]
            )
            if not all(isinstance(p, exp.Column) and p.name.lower() == KEY_COLUMN for p in parts):
                self.add(
                    "person_id_not_a_person",
                    "person_id must be the person_id column of a relation, not "
                    f"{source.sql(SOURCE_DIALECT)!r}",
                    projection,
                )

    def check_uniqueness(self, qualified: exp.Expression) -> None:
        verdict = person_id_is_unique(qualified, self.policy.keys_of, KEY_COLUMN)
        if verdict.proven:
            return
        message = (
            "cannot prove one row per person_id: "
            + "; ".join(verdict.reasons)
            + ". Use GROUP BY person_id, SELECT DISTINCT, or QUALIFY row_number() over "
            "(partition by person_id order by ...) = 1"
        )
        if self.policy.require_proven_uniqueness:
            self.add("not_unique", message)
        else:
            self.warn("uniqueness_unproven", message + " (checked at runtime by check_unique)")

    # ---- positions -----------------------------------------------------------------------------

    def _position(self, where: exp.Expression | Token | None) -> tuple[int | None, int | None]:
        if where is None:
            return None, None
        if isinstance(where, Token):
            return self._line_col(where.start)
        for node in where.walk():
            meta = node.meta if isinstance(node, exp.Expression) else None
            if meta and "start" in meta:
                return self._line_col(meta["start"])
        word = _function_name(where) if isinstance(where, exp.Func) else None
        if word:
            for token in self.tokens:
                if token.text.lower() == word:
                    return self._line_col(token.start)
        return None, None

    def _line_col(self, offset: int) -> tuple[int, int]:
        before = self.sql[:offset]
        line = before.count("\n") + 1
        column = offset - (before.rfind("\n") + 1) + 1
        return line, column


def _in_schema(relation: str, schema: Schema) -> bool:
    db, table = relation.split(".", 1)
    return table in schema.get(db, {})


def _selects(expression: exp.Expression) -> list[exp.Expression]:
    if isinstance(expression, exp.SetOperation):
        return _selects(expression.left)
    if isinstance(expression, exp.Subquery):
        return _selects(expression.this)
    return list(expression.selects) if isinstance(expression, exp.Query) else []


def _source_label(scope: Scope, alias: str) -> str:
    source = scope.sources.get(alias)
    if isinstance(source, exp.Table):
        return f"{source.db}.{source.name}"
    return alias


def _function_name(node: exp.Expression) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    if isinstance(node, exp.Func):
        return {"ReadCSV": "read_csv", "ReadParquet": "read_parquet", "ReadJSON": "read_json"}.get(
            type(node).__name__, node.sql_name().lower()
        )
    return node.sql(SOURCE_DIALECT)


def _statement_name(tree: exp.Expression) -> str:
    for node_type, label in FORBIDDEN_STATEMENTS.items():
        if isinstance(tree, node_type):
            if isinstance(tree, exp.Command):
                return str(tree.this).upper()
            return label
    return type(tree).__name__.upper()


def _table_node(tree: exp.Expression, relation: str) -> exp.Expression | None:
    for table in tree.find_all(exp.Table):
        if f"{table.db}.{table.name}".lower() == relation:
            return table
    return None


def _column_node(tree: exp.Expression, name: str) -> exp.Expression | None:
    for column in tree.find_all(exp.Column):
        if column.name.lower() == name.lower():
            return column
    return None


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text


class _quiet_sqlglot:
    """sqlglot logs a warning when it falls back to parsing a Command; we report it instead."""

    def __enter__(self) -> None:
        self.logger = logging.getLogger("sqlglot")
        self.level = self.logger.level
        self.logger.setLevel(logging.ERROR)

    def __exit__(self, *exc: object) -> None:
        self.logger.setLevel(self.level)
