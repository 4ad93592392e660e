"""A segment file without any SQL (empty, whitespace, only comments), said in plain words
rather than as DuckDB's "0 statements" (sql_safety.py and checks.py use it)."""

from __future__ import annotations

import duckdb
import sqlglot
from sqlglot.errors import TokenError

from tessera.segments.policy import SOURCE_DIALECT


def no_sql(text: str) -> str | None:
    """What text without any SQL holds ("is empty", "holds only whitespace", "holds only
    comments"), or None when it has SQL. Only comments means so to every reader: sqlglot's
    DuckDB and Snowflake tokenizers and DuckDB's own parser (a `//` line is a comment to
    Snowflake only, so it is SQL here, and refused as such)."""
    if not text:
        return "is empty"
    if not text.strip():
        return "holds only whitespace"
    if "--" not in text and "/*" not in text:
        return None  # no comment either reader knows: something here is SQL
    for dialect in (SOURCE_DIALECT, "snowflake"):
        try:
            if sqlglot.Dialect.get_or_raise(dialect).tokenize(text):
                return None
        except TokenError:
            return None
    connection = duckdb.connect(":memory:", config={"enable_external_access": False})
    try:
        statements = connection.extract_statements(text)
    except duckdb.Error:
        return None
    finally:
        connection.close()
    return None if statements else "holds only comments"


def no_sql_message(holds: str, what: str = "the file") -> str:
    """`the segment has no SQL: the file holds only comments; ...` from what `no_sql` said."""
    return f"the segment has no SQL: {what} {holds}; write one SELECT that returns person_id"
