"""The SQL's characters and tokens, checked before anything parses it: no control or invisible
characters and no `;`, strings and comments that DuckDB and Snowflake read alike, no
parameters, bounded token count and bracket depth, and the two dialects' tokenizers agreeing
token for token."""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING

import sqlglot
from sqlglot.errors import TokenError
from sqlglot.tokens import Token, TokenType

from tessera.segments.policy import SOURCE_DIALECT
from tessera.segments.sql_offsets import comment_offset, first_line, token_error_offset

if TYPE_CHECKING:
    from tessera.segments.sql_safety import _Safety

MAX_TOKENS = 20_000
MAX_DEPTH = 40  # parentheses, brackets and braces
_INVISIBLE = frozenset("\u200b\u200c\u200d\u2060\ufeff\u00ad")


class Lexical:
    """Checks the characters and tokens of the SQL, reporting through the safety check."""

    def __init__(self, safety: _Safety) -> None:
        self.safety = safety

    def tokens(self) -> list[Token] | None:
        """Checks on characters and tokens; returns Snowflake's tokens when all pass, with
        DuckDB's left in the safety check's `tokens`."""
        sql = self.safety.sql
        for index, char in enumerate(sql):
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
                self.safety.add(
                    "control_character",
                    f"invisible or control character U+{ord(char):04X} is not allowed{hint}",
                    index,
                )
                return None
        semicolon = sql.find(";")
        if semicolon >= 0:
            self.safety.add(
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
                tokenized[dialect] = sqlglot.Dialect.get_or_raise(dialect).tokenize(sql)
            except TokenError as exc:
                failures[dialect] = exc
        for tokens in tokenized.values():
            self.safety.tokens = tokens
            if not self.strings_and_comments():
                return None
        for dialect, exc in failures.items():
            self.safety.add(
                "tokenize",
                f"cannot read the SQL as {dialect} (an unterminated string, quoted name or "
                f"comment?): {first_line(str(exc))}",
                token_error_offset(sql, str(exc)),
            )
            return None
        self.safety.tokens = tokenized[SOURCE_DIALECT]
        if len(self.safety.tokens) > MAX_TOKENS:
            self.safety.add("too_large", f"the SQL has over {MAX_TOKENS:,} tokens", 0)
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
                    where = comment_offset(self.safety.sql, differing[0]) if differing else first
                self.safety.add(
                    "dialects_disagree",
                    "DuckDB and Snowflake read this text differently here (a // comment in "
                    "Snowflake is integer division in DuckDB, for example)",
                    where,
                )
                return False
        if len(duck) != len(snow):
            rest = (duck if len(duck) > len(snow) else snow)[min(len(duck), len(snow))]
            self.safety.add(
                "dialects_disagree", "DuckDB and Snowflake read this text differently", rest
            )
            return False
        return True

    def strings_and_comments(self) -> bool:
        for token in self.safety.tokens:
            nested = [c for c in token.comments if "/*" in c or "*/" in c]
            if nested:
                self.safety.add(
                    "nested_comment",
                    "nested block comments are not allowed: DuckDB nests them and Snowflake "
                    "does not, so they can hide SQL from one of them",
                    comment_offset(self.safety.sql, nested[0]),
                )
                return False
            if token.token_type in (TokenType.STRING, TokenType.NATIONAL_STRING) and (
                "\\" in token.text
            ):
                self.safety.add(
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
                self.safety.add(
                    "special_string",
                    "escape (E'...'), dollar-quoted and other special strings are not allowed",
                    token,
                )
                return False
            if token.token_type in (TokenType.PARAMETER, TokenType.PLACEHOLDER):
                self.safety.add(
                    "parameter", "query parameters and session variables are not allowed", token
                )
                return False
        return True

    def depth(self) -> bool:
        opening = {TokenType.L_PAREN, TokenType.L_BRACKET, TokenType.L_BRACE}
        closing = {TokenType.R_PAREN, TokenType.R_BRACKET, TokenType.R_BRACE}
        depth = 0
        for token in self.safety.tokens:
            if token.token_type in opening:
                depth += 1
                if depth > MAX_DEPTH:
                    self.safety.add(
                        "too_deep",
                        f"brackets nest more than {MAX_DEPTH} deep; use CTEs instead",
                        token,
                    )
                    return False
            elif token.token_type in closing:
                depth -= 1
        return True
