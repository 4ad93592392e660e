"""Warehouse column types against the contract's: which type family a column is in, which
types the build reads as they are, and SQL that reads text and zoned timestamps as the build
does (macros tessera_is_exactly, tessera_text_as_utc_timestamp, tessera_timestamp_tz_as_utc).
"""

from __future__ import annotations

import re

import pytz
import sqlglot

from tessera.sources.contract import ContractColumn
from tessera.sources.resolve import PhysicalTable
from tessera.warehouse import Session

FAMILIES = {
    "varchar": ("varchar", "text", "string", "char"),
    "timestamp": ("timestamp", "datetime", "date"),
    "double": ("double", "float", "real", "decimal", "numeric", "number", "int", "bigint"),
    "integer": ("int", "bigint", "smallint", "tinyint", "hugeint", "number", "numeric"),
    "boolean": ("bool",),
}


def family_ok(want: str, have: str) -> bool:
    have = have.lower()
    if nested(have):
        return False
    return any(have.startswith(prefix) or prefix in have for prefix in FAMILIES[want])


def nested(have: str) -> bool:
    """A list, struct, map, union or array type: none of the contract's types."""
    have = have.lower().strip()
    return have.endswith("]") or have.startswith(("struct", "map", "union", "list", "array"))


# the warehouse types the build reads as they are (macro tessera_is_exactly)
EXACTLY = {
    "varchar": ("varchar", "text", "string"),
    "timestamp": (
        "timestamp",
        "timestampwithouttimezone",
        "timestamp_ntz",
        "timestamp_ntz(9)",
        "datetime",
    ),
    "double": ("double", "float", "float8", "doubleprecision", "real"),
    "integer": ("integer", "int", "int4", "int32", "number(38,0)", "number"),
    "boolean": ("boolean", "bool"),
}


def is_exactly(have: str, want: str) -> bool:
    have = have.lower().replace(" ", "")
    return have in EXACTLY[want] or (want == "varchar" and have.startswith(("varchar(", "text(")))


def fractional(have: str) -> bool:
    """A number type that prints with decimals (DOUBLE, FLOAT, DECIMAL(p,s) with s > 0)."""
    have = have.lower().replace(" ", "")
    if have.startswith(("double", "float", "real")):
        return True
    scale = re.fullmatch(r"(?:decimal|numeric|number)\(\d+,(\d+)\)", have)
    return bool(scale and int(scale.group(1)) > 0)


def has_zone(have: str) -> bool:
    have = have.lower().replace(" ", "")
    return "withtimezone" in have or "timestamptz" in have or have.endswith(("_tz", "_ltz"))


# the macros' copies (tessera_time_of_day_pattern, tessera_zoned_text_pattern,
# tessera_zone_names): a time of day; then Z or an offset, spaces allowed between
TIME_OF_DAY = r"[0-9]:[0-9][0-9](:[0-9][0-9]([.][0-9]*)?)?"
ZONED_TEXT_PATTERN = TIME_OF_DAY + r" *([zZ]|[+-][0-9][0-9](:?[0-9][0-9])?)"
# the zone names read after a time of day: the IANA database's Area/Location names and links
# (Etc/GMT+5 too), UTC and GMT; no abbreviation (EST, IST, CST each name several zones)
ZONE_NAMES = tuple(n for n in pytz.all_timezones if "/" in n or n in ("UTC", "GMT"))


def text_as_utc_timestamp(dialect: str, quoted: str) -> str:
    """Text as the build reads it as a timestamp (macro tessera_text_as_utc_timestamp): with
    an offset, Z or a known zone name after the time of day to UTC, else as it is; what does
    not parse, or has another word after the time of day, is null."""
    names = ", ".join(f"'{n}'" for n in ZONE_NAMES)
    if dialect == "duckdb":
        return (
            f"case when regexp_matches({quoted}, '{ZONED_TEXT_PATTERN}$') "
            f"then timezone('UTC', try_cast(regexp_replace({quoted}, ' +([zZ]|[+-][0-9])', "
            r"'\1') as timestamptz)) "
            f"when regexp_matches({quoted}, '{TIME_OF_DAY} *[A-Za-z]') "
            f"then case when regexp_matches({quoted}, '{TIME_OF_DAY} +[^ ]+$') "
            f"and regexp_extract({quoted}, '[^ ]+$') in ({names}) "
            f"then timezone('UTC', try_cast({quoted} as timestamptz)) end "
            f"else try_cast({quoted} as timestamp) end"
        )
    return (
        f"case when regexp_like({quoted}, '.*{ZONED_TEXT_PATTERN}') "
        f"then cast(convert_timezone('UTC', try_to_timestamp_tz(regexp_replace({quoted}, "
        r"' +([zZ]|[+-][0-9])', '\\1'))) as timestamp_ntz) "
        f"when regexp_like({quoted}, '.*{TIME_OF_DAY} *[A-Za-z].*') "
        f"then convert_timezone(case when regexp_like({quoted}, '.*{TIME_OF_DAY} +[^ ]+') "
        f"and regexp_substr({quoted}, '[^ ]+$') in ({names}) "
        f"then regexp_substr({quoted}, '[^ ]+$') end, 'UTC', "
        f"try_to_timestamp_ntz(regexp_replace({quoted}, ' +[^ ]+$', ''))) "
        f"else try_to_timestamp_ntz({quoted}) end"
    )


def zoned_as_utc(dialect: str, quoted: str) -> str:
    """A timestamp with a zone as UTC wall-clock time (macro tessera_timestamp_tz_as_utc)."""
    if dialect == "duckdb":
        return f"timezone('UTC', {quoted})"
    return f"cast(convert_timezone('UTC', {quoted}) as timestamp_ntz)"


def cast_failures(
    session: Session, table: PhysicalTable, casts: list[tuple[ContractColumn, str, str]]
) -> tuple[str | None, list[tuple[ContractColumn, str, str]]]:
    """The build casts a column of another type than the contract's (other than text, which
    it try_casts); a cast the warehouse cannot do (a BIGINT epoch or a TIME as a timestamp, a
    STRUCT as a double) fails every query on the table, or a value that does not fit (an
    integer overflow) fails it at run time. casts: (column, its type, its quoted name).
    Returns why the table cannot be read at all (or None), and each column whose cast fails
    with its type and the warehouse's error."""
    pending = [
        (column, have, f"cast({quoted} as {column.data_type})")
        for column, have, quoted in casts
        if column.data_type != "varchar"
        and not (column.data_type == "timestamp" and has_zone(have))
    ]
    if not pending:
        return None, []
    source = table.sql(session.dialect)

    def tries(expressions: list[str]) -> Exception | None:
        sql = f"select {', '.join(f'count({e})' for e in expressions)} from {source}"
        if session.dialect != "duckdb":
            sql = sqlglot.transpile(sql, read="duckdb", write="snowflake")[0]
        try:
            session.df(sql)
        except Exception as exc:
            return exc
        return None

    if tries([expression for _c, _h, expression in pending]) is None:
        return None, []
    unreadable = tries(["*"])
    if unreadable is not None:
        return first_line(unreadable), []
    failures = []
    for column, have, expression in pending:
        failure = tries([expression])
        if failure is not None:
            failures.append((column, have, first_line(failure)))
    return None, failures


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
