"""Is this SQL one bounded, read-only SELECT over readable relations, on DuckDB and Snowflake?

The same text is built on both warehouses, so it is read by four parsers (sqlglot's DuckDB
and Snowflake dialects, their tokenizers, and DuckDB's own parser) and refused where they
disagree (a Snowflake `//` comment is DuckDB's integer division). Relations are resolved with
SQL's scoping: a CTE is visible only in the query that defines it and in the CTEs after it, so
a CTE called `duckdb_views` in one subquery does not make `duckdb_views` harmless in another;
every other name must be a readable `schema.table`. Limits keep the analysis and the query
bounded: size, nesting depth, table scans after CTE expansion, cartesian products and pad
lengths. Every issue carries a line and column in the checked text.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError
from sqlglot.tokens import Token

from tessera.segments.issues import Issue, first_position, line_col, offset_of
from tessera.segments.joins import Cartesian
from tessera.segments.no_sql import no_sql, no_sql_message
from tessera.segments.policy import (
    FILE_READING_FUNCTIONS,
    FORBIDDEN_STATEMENTS,
    FUNCTION_HINTS,
    SOURCE_DIALECT,
    ValidationPolicy,
)
from tessera.segments.scopes import MAX_SCANS, Scopes
from tessera.segments.sql_lexical import Lexical
from tessera.segments.sql_nodes import PLAIN_NAME, function_name, small_number
from tessera.segments.sql_offsets import duckdb_error_offset, duckdb_message, duckdb_parser_offset

MAX_SQL_CHARS = 100_000
MAX_PAD = 10_000
# Names DuckDB reads as files when no table has them (`from segments.csv`).
FILE_SUFFIXES = frozenset(
    [
        "csv",
        "tsv",
        "txt",
        "json",
        "jsonl",
        "ndjson",
        "parquet",
        "arrow",
        "feather",
        "avro",
        "orc",
        "xlsx",
        "xls",
        "gz",
        "zst",
        "zip",
        "db",
        "duckdb",
        "sqlite",
        "sqlite3",
    ]
)


@dataclass
class SafetyResult:
    tree: exp.Query | None = None
    relations: set[str] = field(default_factory=set)
    issues: list[Issue] = field(default_factory=list)


def check_sql_safety(
    sql: str, name: str, policy: ValidationPolicy, segment_names: frozenset[str] | None = None
) -> SafetyResult:
    checker = _Safety(sql, name, policy, segment_names)
    try:
        checker.run()
    except (RecursionError, MemoryError):
        checker.issues.append(
            Issue(name, "too_complex", "the SQL is too deeply nested to check", *checker.start)
        )
        checker.result.tree = None
    checker.result.issues = checker.issues
    return checker.result


class _Safety:
    def __init__(
        self, sql: str, name: str, policy: ValidationPolicy, segment_names: frozenset[str] | None
    ) -> None:
        self.sql = sql
        self.name = name
        self.policy = policy
        self.segment_names = segment_names
        self.issues: list[Issue] = []
        self.result = SafetyResult()
        self.start = first_position(sql)
        self.tokens: list[Token] = []

    # ---- reporting --------------------------------------------------------------------------

    def add(self, code: str, message: str, where: exp.Expression | Token | int | None) -> None:
        line, column = self.position(where)
        self.issues.append(Issue(self.name, code, message, line, column))

    def position(self, where: exp.Expression | Token | int | None) -> tuple[int, int]:
        if isinstance(where, int):
            return line_col(self.sql, where)
        if isinstance(where, Token):
            return line_col(self.sql, where.start)
        if isinstance(where, exp.Expression):
            start = self.start_of(where)
            if start is not None:
                return line_col(self.sql, start)
        return self.start

    def start_of(self, node: exp.Expression) -> int | None:
        """Offset where an expression starts: its earliest located part, or the keyword or
        function name just before it."""
        starts = [
            n.meta["start"]
            for n in node.walk()
            if isinstance(n, exp.Expression) and n.meta and "start" in n.meta
        ]
        earliest = min(starts) if starts else None
        word = None
        if isinstance(node, exp.Func):
            word = function_name(node).lower()
        elif isinstance(node, exp.With):
            word = "with"
        if word:
            before = [
                t.start
                for t in self.tokens
                if t.text.lower() == word and (earliest is None or t.start <= earliest)
            ]
            if before:
                return max(before)
        return earliest

    # ---- the checks, in order ---------------------------------------------------------------

    def run(self) -> None:
        if not self.sql.strip():
            self.add("empty", no_sql_message(no_sql(self.sql) or "is empty", "the SQL"), 0)
            return
        if len(self.sql) > MAX_SQL_CHARS:
            self.add("too_large", f"the SQL is over {MAX_SQL_CHARS:,} characters", 0)
            return
        holds = no_sql(self.sql)  # not "0 statements" and not a ';' in a comment
        if holds:
            self.add("empty", no_sql_message(holds, "the SQL"), 0)
            return
        lexical = Lexical(self)
        snow_tokens = lexical.tokens()
        if snow_tokens is None or not lexical.same_tokens(self.tokens, snow_tokens):
            return
        duck = self.parse(SOURCE_DIALECT)
        if duck is None:
            return
        relations = self.check_tree(duck)
        if self.issues:
            return
        snow = self.parse("snowflake")
        if snow is None:
            return
        snow_relations = Scopes(self, report=False).relations(snow)
        if snow_relations != relations:
            self.add(
                "dialects_disagree",
                "DuckDB and Snowflake read different relations from this SQL ("
                + ", ".join(sorted(relations ^ snow_relations))
                + ")",
                duck,
            )
            return
        for node in snow.find_all(exp.Func):
            if not isinstance(node, exp.Connector) and not self.function_allowed(node):
                self.add(
                    "function_not_allowed",
                    f"{function_name(node)}() means something else, or nothing, on Snowflake; "
                    "segments use functions both warehouses share",
                    node,
                )
                return
        self.result.tree = duck
        self.result.relations = relations

    def parse(self, dialect: str) -> exp.Query | None:
        if dialect == SOURCE_DIALECT and not self.duckdb_parser_agrees():
            return None
        try:
            parsed = [s for s in sqlglot.parse(self.sql, read=dialect) if s is not None]
        except ParseError as exc:
            error = exc.errors[0] if exc.errors else {}
            line, column = error.get("line"), error.get("col")
            offset = 0
            if line and column:
                offset = offset_of(self.sql, int(line), max(1, int(column) - 1))
            self.add(
                "parse_error",
                f"cannot parse the SQL as {dialect}: {error.get('description', exc)}",
                offset,
            )
            return None
        if len(parsed) != 1 or not isinstance(parsed[0], exp.Query):
            kind = type(parsed[0]).__name__.upper() if parsed else "nothing"
            self.add(
                "not_select",
                f"the {dialect} parser reads {kind}, not one SELECT",
                parsed[0] if parsed else 0,
            )
            return None
        return parsed[0]

    def duckdb_parser_agrees(self) -> bool:
        """DuckDB's own parser sees exactly one SELECT."""
        connection = duckdb.connect(":memory:", config={"enable_external_access": False})
        try:
            statements = connection.extract_statements(self.sql)
        except duckdb.Error as exc:
            offset = duckdb_parser_offset(connection, self.sql)
            self.add(
                "parse_error",
                f"DuckDB cannot parse the SQL: {duckdb_message(exc)}",
                offset if offset is not None else duckdb_error_offset(self.sql, str(exc)),
            )
            return False
        finally:
            connection.close()
        if len(statements) != 1:
            self.add("multiple_statements", f"DuckDB sees {len(statements)} statements", 0)
            return False
        if statements[0].type.name != "SELECT":
            verb = self.tokens[0].text.upper() if self.tokens else statements[0].type.name
            self.add(
                "not_select",
                f"{verb} is not allowed: a segment is one read-only SELECT (WITH allowed)",
                0,
            )
            return False
        return True

    def check_tree(self, tree: exp.Expression) -> set[str]:
        for node in tree.walk():
            for node_type, label in FORBIDDEN_STATEMENTS.items():
                if isinstance(node, node_type):
                    self.add("forbidden_statement", f"{label} is not allowed in a segment", node)
            if isinstance(node, exp.Placeholder | exp.Parameter | exp.SessionParameter):
                self.add(
                    "parameter", "query parameters and session variables are not allowed", node
                )
            if isinstance(node, exp.Func) and not isinstance(node, exp.Connector):
                self.check_function(node)
        scopes = Scopes(self, report=True)
        relations = scopes.relations(tree)
        if scopes.scans > MAX_SCANS:
            self.add(
                "too_many_scans",
                f"with its CTEs expanded the query scans tables {scopes.scans:,} times "
                f"(limit {MAX_SCANS}): a CTE read twice doubles its scans",
                scopes.first_expensive or tree,
            )
        Cartesian(self).check(tree)
        return relations

    def function_allowed(self, node: exp.Func) -> bool:
        if isinstance(node, exp.Anonymous):
            return str(node.name).lower() in self.policy.allowed_anonymous_functions
        return type(node).__name__ in self.policy.allowed_functions

    def check_function(self, node: exp.Func) -> None:
        if self.function_allowed(node):
            if isinstance(node, exp.Pad):
                length = node.args.get("expression")
                if not (
                    isinstance(length, exp.Literal)
                    and not length.is_string
                    and small_number(length.this, MAX_PAD)
                ):
                    self.add(
                        "resource_limit",
                        f"pad length must be a number literal of at most {MAX_PAD:,}",
                        node,
                    )
            return
        fname = function_name(node)
        if fname in FILE_READING_FUNCTIONS or fname.startswith(("read_", "st_read")):
            self.add(
                "file_access",
                f"{fname}() reads files or external data; segments may only read warehouse "
                "relations",
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

    # ---- relations ---------------------------------------------------------------------------

    def check_relation(self, table: exp.Table) -> str | None:
        """The readable `schema.table` a Table node names, or None (and an issue)."""
        name = table.name
        if table.args.get("catalog"):
            self.add(
                "cross_database",
                f"{table.sql(SOURCE_DIALECT)} names a database; use schema.table in the "
                "warehouse Tessera builds",
                table,
            )
            return None
        db = table.text("db")
        if not (PLAIN_NAME.match(name) and (not db or PLAIN_NAME.match(db))):
            looks_like_file = any(c in name for c in "/.:\\") or "'" in table.sql(SOURCE_DIALECT)
            self.add(
                "file_access" if looks_like_file else "bad_relation_name",
                f"{table.sql(SOURCE_DIALECT)} reads a file or URL; segments may only read "
                "warehouse relations"
                if looks_like_file
                else f"relation {table.sql(SOURCE_DIALECT)} is not a plain schema.table name",
                table,
            )
            return None
        if name.lower() in FILE_SUFFIXES:
            self.add(
                "file_access",
                f"{table.sql(SOURCE_DIALECT)} is read as a file by DuckDB when no such table "
                "exists; segments may only read warehouse relations",
                table,
            )
            return None
        if not db:
            self.add(
                "unqualified_relation",
                f"relation {name!r} is neither a CTE defined before it nor schema-qualified; "
                "DuckDB would resolve it to a system view or a file. Use {{ ref() }} or "
                "schema.table (e.g. profiles.customer_profiles)",
                table,
            )
            return None
        relation = f"{db}.{name}".lower()
        in_segments = db.lower() in self.policy.allowed_schemas
        if (
            in_segments
            and self.segment_names is not None
            and name.lower() not in (n.lower() for n in self.segment_names)
        ):
            self.add(
                "relation_not_allowed",
                f"{relation} is not a segment (segments: {', '.join(sorted(self.segment_names))})",
                table,
            )
            return None
        if not self.policy.relation_allowed(relation):
            allowed = ", ".join(sorted(self.policy.allowed_relations))
            self.add(
                "relation_not_allowed",
                f"relation {relation} is not readable by segments; they may read {allowed} "
                "and other segments",
                table,
            )
            return None
        return relation
