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

import json
import re
import unicodedata
from dataclasses import dataclass, field

import duckdb
import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import Token, TokenType

from tessera.segments.issues import Issue, first_position, line_col
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
from tessera.segments.sql_nodes import PLAIN_NAME, function_name, small_number

MAX_SQL_CHARS = 100_000
MAX_TOKENS = 20_000
MAX_DEPTH = 40  # parentheses, brackets and braces
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
_INVISIBLE = frozenset("\u200b\u200c\u200d\u2060\ufeff\u00ad")


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
        snow_tokens = self.lexical()
        if snow_tokens is None or not self.same_tokens(self.tokens, snow_tokens):
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

    def lexical(self) -> list[Token] | None:
        """Checks on characters and tokens; returns Snowflake's tokens when all pass."""
        for index, char in enumerate(self.sql):
            category = unicodedata.category(char)
            if (
                (category == "Cc" and char not in "\t\n\r")
                or char in _INVISIBLE
                or category == "Cf"
            ):
                hint = (
                    " (a byte order mark: save the file as UTF-8 without BOM)"
                    if char == "\ufeff" and index == 0
                    else ""
                )
                self.add(
                    "control_character",
                    f"invisible or control character U+{ord(char):04X} is not allowed{hint}",
                    index,
                )
                return None
        semicolon = self.sql.find(";")
        if semicolon >= 0:
            self.add(
                "multiple_statements",
                "';' is not allowed anywhere in a segment: it is exactly one SELECT (dbt wraps "
                "it, and Snowflake's driver would split the text into statements at ';')",
                semicolon,
            )
            return None
        tokenized: dict[str, list[Token]] = {}
        failures: dict[str, TokenError] = {}
        for dialect in (SOURCE_DIALECT, "snowflake"):
            try:
                tokenized[dialect] = sqlglot.Dialect.get_or_raise(dialect).tokenize(self.sql)
            except TokenError as exc:
                failures[dialect] = exc
        for tokens in tokenized.values():
            self.tokens = tokens
            if not self.strings_and_comments():
                return None
        for dialect, exc in failures.items():
            self.add(
                "tokenize",
                f"cannot read the SQL as {dialect} (an unterminated string, quoted name or "
                f"comment?): {_first_line(str(exc))}",
                _token_error_offset(self.sql, str(exc)),
            )
            return None
        self.tokens = tokenized[SOURCE_DIALECT]
        if len(self.tokens) > MAX_TOKENS:
            self.add("too_large", f"the SQL has over {MAX_TOKENS:,} tokens", 0)
            return None
        if not self.depth():
            return None
        return tokenized["snowflake"]

    def same_tokens(self, duck: list[Token], snow: list[Token]) -> bool:
        for a, b in zip(duck, snow, strict=False):
            if a.text != b.text or a.start != b.start or a.comments != b.comments:
                first = a if a.start <= b.start else b
                where: Token | int = first
                if a.comments != b.comments and a.text == b.text and a.start == b.start:
                    differing = [
                        c
                        for c in a.comments + b.comments
                        if c not in b.comments or c not in a.comments
                    ]
                    where = _comment_offset(self.sql, differing[0]) if differing else first
                self.add(
                    "dialects_disagree",
                    "DuckDB and Snowflake read this text differently here (a // comment in "
                    "Snowflake is integer division in DuckDB, for example)",
                    where,
                )
                return False
        if len(duck) != len(snow):
            rest = (duck if len(duck) > len(snow) else snow)[min(len(duck), len(snow))]
            self.add("dialects_disagree", "DuckDB and Snowflake read this text differently", rest)
            return False
        return True

    def strings_and_comments(self) -> bool:
        for token in self.tokens:
            nested = [c for c in token.comments if "/*" in c or "*/" in c]
            if nested:
                self.add(
                    "nested_comment",
                    "nested block comments are not allowed: DuckDB nests them and Snowflake "
                    "does not, so they can hide SQL from one of them",
                    _comment_offset(self.sql, nested[0]),
                )
                return False
            if token.token_type in (TokenType.STRING, TokenType.NATIONAL_STRING) and (
                "\\" in token.text
            ):
                self.add(
                    "backslash_string",
                    "backslashes in string literals are not allowed: DuckDB and Snowflake read "
                    "them differently",
                    token,
                )
                return False
            if token.token_type in (
                TokenType.BYTE_STRING,
                TokenType.HEREDOC_STRING,
                TokenType.RAW_STRING,
                TokenType.BIT_STRING,
                TokenType.HEX_STRING,
                TokenType.UNICODE_STRING,
            ):
                self.add(
                    "special_string",
                    "escape (E'...'), dollar-quoted and other special strings are not allowed",
                    token,
                )
                return False
            if token.token_type in (TokenType.PARAMETER, TokenType.PLACEHOLDER):
                self.add(
                    "parameter", "query parameters and session variables are not allowed", token
                )
                return False
        return True

    def depth(self) -> bool:
        opening = {TokenType.L_PAREN, TokenType.L_BRACKET, TokenType.L_BRACE}
        closing = {TokenType.R_PAREN, TokenType.R_BRACKET, TokenType.R_BRACE}
        depth = 0
        for token in self.tokens:
            if token.token_type in opening:
                depth += 1
                if depth > MAX_DEPTH:
                    self.add(
                        "too_deep",
                        f"brackets nest more than {MAX_DEPTH} deep; use CTEs instead",
                        token,
                    )
                    return False
            elif token.token_type in closing:
                depth -= 1
        return True

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
                offset = _offset(self.sql, int(line), max(1, int(column) - 1))
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
            offset = _duckdb_parser_offset(connection, self.sql)
            self.add(
                "parse_error",
                f"DuckDB cannot parse the SQL: {_duckdb_message(exc)}",
                offset if offset is not None else _duckdb_error_offset(self.sql, str(exc)),
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


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text


def _offset(sql: str, line: int, column: int) -> int:
    from tessera.segments.issues import offset_of

    return offset_of(sql, line, column)


def _duckdb_message(exc: Exception) -> str:
    return _first_line(str(exc)).replace("Parser Error: ", "")


def _duckdb_parser_offset(connection: duckdb.DuckDBPyConnection, sql: str) -> int | None:
    """Where DuckDB's parser stopped, as a character offset into `sql`.

    DuckDB reports the byte offset of a syntax error through `json_serialize_sql`; the caret
    under `LINE n:` in its message is drawn by display width (tabs count 0, CJK and emoji 2)
    and, on a long line, under an excerpt that may occur earlier in the line too.
    """
    try:
        row = connection.execute("select json_serialize_sql($1::varchar)", [sql]).fetchone()
        position = json.loads(row[0]).get("position") if row and row[0] else None
        if position is None:
            return None
        return len(sql.encode("utf-8")[: int(position)].decode("utf-8", errors="ignore"))
    except (duckdb.Error, ValueError, TypeError):
        return None


def _duckdb_error_offset(sql: str, message: str) -> int:
    """DuckDB prints `LINE n: <text>` and a caret line under the error."""
    lines = message.splitlines()
    for index, text in enumerate(lines):
        match = re.match(r"^LINE (\d+): ", text)
        if match and index + 1 < len(lines):
            caret = lines[index + 1].find("^")
            snippet = text[match.end() :]
            line = int(match.group(1))
            source_line = sql.splitlines()[line - 1] if line <= len(sql.splitlines()) else ""
            if snippet.startswith("...") and caret >= 0:
                found = source_line.find(snippet[3:].rstrip(".")[:20])
                column = found + (caret - match.end() - 3) if found >= 0 else 0
            else:
                column = max(0, caret - match.end())
            return _offset(sql, line, column + 1)
    return 0


def _comment_offset(sql: str, comment: str) -> int:
    """Where a comment (as sqlglot keeps it, without its delimiters) opens in the SQL."""
    inside = sql.find(comment) if comment else -1
    if inside < 0:
        return 0
    openings = [sql.rfind(m, 0, inside + 1) for m in ("--", "/*", "//")]
    return max(openings) if max(openings) >= 0 else inside


def _token_error_offset(sql: str, message: str) -> int:
    match = re.search(r"line (\d+), col (\d+)", message, re.IGNORECASE)
    if match:
        return _offset(sql, int(match.group(1)), int(match.group(2)))
    for quote in ("'", '"'):
        if sql.count(quote) % 2:
            return sql.rfind(quote)
    return 0
