"""Where in the checked SQL a parser or tokenizer error points: DuckDB's and sqlglot's error
reports, and the comments sqlglot keeps, turned into character offsets of the text."""

from __future__ import annotations

import json
import re

import duckdb

from tessera.segments.issues import offset_of


def first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text


def duckdb_message(exc: Exception) -> str:
    return first_line(str(exc)).replace("Parser Error: ", "")


def duckdb_parser_offset(connection: duckdb.DuckDBPyConnection, sql: str) -> int | None:
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


def duckdb_error_offset(sql: str, message: str) -> int:
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
            return offset_of(sql, line, column + 1)
    return 0


def comment_offset(sql: str, comment: str) -> int:
    """Where a comment (as sqlglot keeps it, without its delimiters) opens in the SQL."""
    inside = sql.find(comment) if comment else -1
    if inside < 0:
        return 0
    openings = [sql.rfind(m, 0, inside + 1) for m in ("--", "/*", "//")]
    return max(openings) if max(openings) >= 0 else inside


def token_error_offset(sql: str, message: str) -> int:
    match = re.search(r"line (\d+), col (\d+)", message, re.IGNORECASE)
    if match:
        return offset_of(sql, int(match.group(1)), int(match.group(2)))
    for quote in ("'", '"'):
        if sql.count(quote) % 2:
            return sql.rfind(quote)
    return 0
