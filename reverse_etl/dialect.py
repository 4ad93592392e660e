"""The few SQL fragments that differ between DuckDB and Snowflake, keyed by session.dialect.

Everything else the planner and state store write is portable SQL (md5, ||, coalesce,
full outer join, merge into, create or replace table).
"""

from __future__ import annotations

import pyarrow as pa

from tessera.warehouse import Session

NULL_MARKER = "chr(30)"  # record separator: marks a null, distinct from ''
FIELD_SEPARATOR = "chr(31)"  # unit separator: between fields (no backslash escapes needed)


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def sha256_hex(dialect: str, expr: str) -> str:
    if dialect == "duckdb":
        return f"sha256({expr})"
    return f"sha2({expr}, 256)"


def digits_only(dialect: str, expr: str) -> str:
    if dialect == "duckdb":
        return f"regexp_replace({expr}, '[^0-9]', '', 'g')"
    return f"regexp_replace({expr}, '[^0-9]', '')"


WHITESPACE = "' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)"  # = hashing.WHITESPACE


def google_email(dialect: str, text: str) -> str:
    """= hashing.normalise_email_google: no whitespace, lower case, gmail dots/+suffix dropped.

    Patterns avoid backslashes so DuckDB and Snowflake string literals read them alike.
    """
    flags = ", 'g'" if dialect == "duckdb" else ""
    email = f"lower(regexp_replace({text}, '[' || {WHITESPACE} || ']+', ''{flags}))"
    local, domain = f"split_part({email}, '@', 1)", f"split_part({email}, '@', 2)"
    gmail_local = f"split_part(replace({local}, '.', ''), '+', 1)"
    is_gmail = (
        f"{domain} in ('gmail.com', 'googlemail.com') "
        f"and length({email}) - length(replace({email}, '@', '')) = 1"
    )
    return (
        f"nullif(case when {is_gmail} then {gmail_local} || '@' || {domain} else {email} end, '')"
    )


def hash_expression(dialect: str, rule: str, column: str) -> str:
    """SQL computing the same value as `reverse_etl.hashing.hash_value(rule, column)`."""
    text = f"cast({column} as varchar)"
    if rule == "email":
        normalised = f"nullif(lower(trim({text}, {WHITESPACE})), '')"
    elif rule == "phone":
        normalised = f"nullif(ltrim({digits_only(dialect, text)}, '0'), '')"
    elif rule == "email_google":
        normalised = google_email(dialect, text)
    elif rule == "phone_e164":
        normalised = f"'+' || nullif(ltrim({digits_only(dialect, text)}, '0'), '')"
    elif rule == "sha256":
        normalised = f"nullif(trim({text}, {WHITESPACE}), '')"
    else:
        raise ValueError(f"unknown hashing rule {rule!r}")
    return sha256_hex(dialect, normalised)


def row_hash_expression(dialect: str, expressions: list[str]) -> str:
    """A change-detection hash over the mapped values, as text.

    DuckDB: its built-in 64-bit `hash(a, b, ...)` (order- and null-aware) is ~3x cheaper than
    md5 over a concatenation, which keeps a 1M-row plan within budget. It is not promised
    stable across DuckDB versions: if an upgrade changes it, the next run resends every row
    once (idempotently) and stores the new hashes. Elsewhere: md5 over a canonical
    concatenation (every value as text, nulls marked, fields separated).
    """
    if dialect == "duckdb":
        return f"cast(hash({', '.join(expressions)}) as varchar)"
    parts = [f"coalesce(cast({e} as varchar), {NULL_MARKER})" for e in expressions]
    separator = f" || {FIELD_SEPARATOR} || "
    return f"md5({separator.join(parts)})"


def key_expression(columns: list[str], alias: str) -> str:
    if len(columns) == 1:
        return f"cast({alias}.{columns[0]} as varchar)"
    parts = [f"coalesce(cast({alias}.{c} as varchar), '')" for c in columns]
    return " || '|' || ".join(parts)


def placeholder(dialect: str) -> str:
    return "?" if dialect == "duckdb" else "%s"


def stage_rows(session: Session, schema: str, table: str, rows: pa.Table) -> str:
    """Make `rows` queryable by the next statement; returns the relation name to select from.

    DuckDB scans the Arrow table in place (no copy); Snowflake loads a scratch table.
    """
    if session.dialect == "duckdb":
        session.conn.register(table, rows)
        return table
    session.write_df(rows, schema, table, mode="replace")
    return f"{schema}.{table}"


def unstage_rows(session: Session, relation: str) -> None:
    if session.dialect == "duckdb":
        session.conn.unregister(relation)
    else:
        session.execute(f"drop table if exists {relation}")
