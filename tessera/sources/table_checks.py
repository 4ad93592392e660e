"""One table read for a source, against its contract table (`tessera sources check`).

Missing and mistyped columns, values that will not parse as the contract's type, null /
placeholder / invalid rates of every identifier column, duplicate and null keys, values a
consent must have, and the newest load timestamp: findings on the columns first, then one
query per table, written for DuckDB and transpiled by sqlglot for Snowflake, whose row the
probes read.
"""

from __future__ import annotations

import re

import sqlglot

from tessera.sources.column_types import (
    cast_failures,
    family_ok,
    first_line,
    fractional,
    has_zone,
    is_exactly,
    text_as_utc_timestamp,
    zoned_as_utc,
)
from tessera.sources.contract import ContractColumn, ContractTable
from tessera.sources.findings import SourceReport, TableReport
from tessera.sources.identifiers import INVALID_VERDICT, PLACEHOLDER_VERDICTS, IdentifierRules
from tessera.sources.resolve import PhysicalTable
from tessera.warehouse import Session

# loaders that deduplicate in the adapter (Segment may deliver a call twice)
DEDUPLICATED_BY_ADAPTER = {"segment"}

PLACEHOLDER_LIST = ", ".join(f"'{v}'" for v in PLACEHOLDER_VERDICTS)

# how to write text timestamps the build reads (macro tessera_text_as_utc_timestamp)
TIMESTAMP_FORMATS = (
    "Write them as ISO 8601, 2024-03-02 10:00:00 (UTC) or with an offset (+02:00), Z or an "
    "IANA time zone name (America/Chicago) after the time (an abbreviation such as EST or IST "
    "names several zones and is not read)"
)

# values staging tests with severity error, after lower(trim()): anything else fails the build
CONSENT_VALUES = {
    ("cmp.consents", "subject_type"): ("email", "user_id", "phone"),
    ("cmp.consents", "purpose"): ("email", "sms", "ads", "analytics"),
    ("cmp.consents", "status"): ("granted", "revoked"),
}


def check_table(
    session: Session,
    report: SourceReport,
    table_report: TableReport,
    spec: ContractTable,
    rules: IdentifierRules,
) -> None:
    """Check a table that exists: findings go to `report`, its rows, newest load and
    identifier rates to `table_report`."""
    _TableCheck(session, report, table_report, spec, rules).run()


class _TableCheck:
    """One table's check: the query is planned column by column, then its row is read."""

    def __init__(
        self,
        session: Session,
        report: SourceReport,
        table_report: TableReport,
        spec: ContractTable,
        rules: IdentifierRules,
    ) -> None:
        self.session = session
        self.report = report
        self.table_report = table_report
        self.table = table_report.table
        self.spec = spec
        self.rules = rules
        self.adapter_mode = report.resolution.mode == "adapter"
        self.selects = ["count(*) as n_rows"]
        # tokens replaced by SQL already in the target's dialect, after transpiling
        self.target_sql: dict[str, str] = {}
        # columns of another type than the contract's, which the build casts
        self.casts: list[tuple[ContractColumn, str, str]] = []
        self.probes: list[tuple[str, str, ContractColumn, str | None]] = []

    def add(self, level: str, message: str) -> None:
        self.report.add(level, self.table.logical, message)

    def in_target(self, sql: str) -> str:
        """A token for `sql`, which is already in the target's dialect."""
        token = f"tessera_expr_{len(self.target_sql)}"
        self.target_sql[token] = sql
        return token

    def run(self) -> None:
        for column in self.check_columns():
            self.plan_column(column)
        self.plan_key()
        self.plan_loaded_at()
        row = self.read()
        if row is not None:
            self.report_row(row)

    # --- before the query: the columns the table has ------------------------------------

    def check_columns(self) -> list[ContractColumn]:
        """Findings on the contract's columns the table lacks; the ones it has."""
        columns = self.spec.columns
        present = [c for c in columns if c.name.lower() in self.table.columns]
        missing = [c for c in columns if c.name.lower() not in self.table.columns]
        for column in missing:
            if column.required:
                self.add(
                    "error",
                    f"missing required column {column.name} "
                    f"({column.data_type}: {column.description})",
                )
        optional_missing = [c.name for c in missing if not c.required]
        if optional_missing and not self.adapter_mode:
            self.add(
                "note", "absent optional columns (read as null): " + ", ".join(optional_missing)
            )
        if not any(c.id_type for c in present) and any(c.id_type for c in columns):
            self.add(
                "warning", "no identifier column present: its records cannot be linked to a person"
            )
        return present

    # --- planning the query ---------------------------------------------------------------

    def plan_column(self, column: ContractColumn) -> None:
        have = self.table.columns[column.name.lower()]
        quoted = f'"{_stored(self.table, column.name)}"'
        self.plan_type(column, have, quoted)
        if column.required and not column.id_type and column.name not in self.spec.key:
            self.selects.append(f"count(*) filter (where {quoted} is null) as null_{column.name}")
            self.probes.append(("null_required", f"null_{column.name}", column, None))
        if column.id_type:
            self.plan_identifier(column, quoted)
        values = _accepted_values(self.spec, column)
        if values:
            listed = ", ".join(f"'{v}'" for v in values)
            self.selects.append(
                f"count(*) filter (where {quoted} is not null and "
                f"lower(trim(cast({quoted} as varchar))) not in ({listed})) "
                f"as unexpected_{column.name}"
            )
            self.probes.append(("values", f"unexpected_{column.name}", column, listed))

    def plan_type(self, column: ContractColumn, have: str, quoted: str) -> None:
        """A column stored as another type than the contract's: values that will not parse,
        fractions read as integers, and the casts the build makes."""
        if not family_ok(column.data_type, have):
            if family_ok("varchar", have) and column.data_type != "varchar":
                if column.data_type == "timestamp":
                    # as the build parses it (macro tessera_text_as_utc_timestamp)
                    parsed = self.in_target(text_as_utc_timestamp(self.session.dialect, quoted))
                else:
                    parsed = f"try_cast({quoted} as {column.data_type})"
                unparsed = f"{quoted} is not null and {parsed} is null"
                self.selects.append(f"count(*) filter (where {unparsed}) as bad_{column.name}")
                self.selects.append(
                    f"min({quoted}) filter (where {unparsed}) as badex_{column.name}"
                )
                self.probes.append(("unparsed", f"bad_{column.name}", column, have))
            else:
                self.add("note", f"column {column.name} is {have}, read as {column.data_type}")
                if column.id_type and fractional(have) and not self.adapter_mode:
                    # 1001 stored as 1001.0 is the text '1001.0' (or '1001.00'), which
                    # matches no other source's '1001'
                    self.add(
                        "warning",
                        f"identifier {column.name} is {have}: read as text with decimals "
                        "(1001 as '1001.0'), it will not match the same id elsewhere; "
                        "cast it to an integer or text in a view over the table",
                    )
        if column.data_type == "integer" and fractional(have) and not column.id_type:
            # casting to an integer rounds: 2.7 items become 3, silently
            whole = f"{quoted} is not null and {quoted} <> round({quoted})"
            self.selects.append(f"count(*) filter (where {whole}) as frac_{column.name}")
            self.selects.append(f"min({quoted}) filter (where {whole}) as fracex_{column.name}")
            self.probes.append(("fraction", f"frac_{column.name}", column, have))
        castable = not family_ok("varchar", have) and not is_exactly(have, column.data_type)
        if castable and not self.adapter_mode:
            # the build casts it to the contract's type (BIGINT as integer too); an adapter
            # reads the loader's columns as it needs them instead
            self.casts.append((column, have, quoted))

    def plan_identifier(self, column: ContractColumn, quoted: str) -> None:
        """Null rate, and for one identifier type identity's placeholder and invalid rates."""
        id_types = (
            ["email", "phone", "user_id"] if column.id_type == "subject_type" else [column.id_type]
        )
        value = f"cast({quoted} as varchar)"
        self.selects.append(f"count(*) filter (where {value} is null) as idnull_{column.name}")
        if len(id_types) == 1:
            # identity's verdict, in the target's dialect: put in after transpiling
            token = self.in_target(self.rules.verdict_sql(id_types[0], quoted))
            self.selects.append(
                f"count(*) filter (where {token} in ({PLACEHOLDER_LIST})) as idph_{column.name}"
            )
            self.selects.append(
                f"count(*) filter (where {token} = '{INVALID_VERDICT}') as idbad_{column.name}"
            )
        self.probes.append(("identifier", column.name, column, None))

    def plan_key(self) -> None:
        table = self.table
        key = [c for c in self.spec.key if c.lower() in table.columns]
        if key and len(key) == len(self.spec.key):
            cols = " || '|' || ".join(f'cast("{_stored(table, c)}" as varchar)' for c in key)
            null_key = " or ".join(f'"{_stored(table, c)}" is null' for c in key)
            self.selects.append(f"count({cols}) - count(distinct {cols}) as duplicate_keys")
            self.selects.append(f"count(*) filter (where {null_key}) as null_keys")

    def plan_loaded_at(self) -> None:
        table = self.table
        loaded_at = table.loaded_at_field
        if loaded_at and loaded_at.lower() in table.columns:
            have = table.columns[loaded_at.lower()]
            expr = f'"{_stored(table, loaded_at)}"'
            if family_ok("varchar", have):
                expr = self.in_target(text_as_utc_timestamp(self.session.dialect, expr))
            elif has_zone(have):
                expr = self.in_target(zoned_as_utc(self.session.dialect, expr))
            elif not family_ok("timestamp", have):
                expr = f"try_cast({expr} as timestamp)"
            self.selects.append(f"cast(max({expr}) as timestamp) as newest")
        elif loaded_at:
            self.add(
                "warning",
                f"no load timestamp column {loaded_at}: "
                "incremental runs re-read by event time and the sensor sees only row counts",
            )

    # --- running it -----------------------------------------------------------------------

    def read(self) -> dict | None:
        """The query's row; None when the table cannot be read (an error says why)."""
        session, table = self.session, self.table
        unreadable, failures = cast_failures(session, table, self.casts)
        if unreadable is not None:
            self.add("error", f"cannot read {table.location}: {unreadable}")
            return None
        for column, have, failure in failures:
            self.add(
                "error",
                f"column {column.name} is {have}, which the build cannot read as "
                f"{column.data_type} ({failure}): convert it in a view over {table.location} "
                f"and point tessera_sources.{self.report.resolution.source}.tables."
                f"{table.logical} at the view",
            )
        try:
            return _one_row(
                session,
                f"select {', '.join(self.selects)} from {table.sql(session.dialect)}",
                self.target_sql,
            )
        except Exception as exc:  # a view over a dropped table, no privilege ...
            self.add("error", f"cannot read {table.location}: {first_line(exc)}")
            return None

    # --- reading its row ------------------------------------------------------------------

    def report_row(self, row: dict) -> None:
        rows = int(row["n_rows"])
        self.table_report.rows = rows
        if rows == 0:
            self.add("warning", f"{self.table.location} has no rows")
        for kind, alias, column, extra in self.probes:
            if kind == "identifier":
                self.report_identifier(alias, row, rows)
            elif row[alias]:
                self.report_probe(kind, row, alias, column, extra)
        if "duplicate_keys" in row:
            self.report_keys(row)
        newest = row.get("newest")
        if newest is not None:
            self.table_report.newest = (
                newest.replace(tzinfo=None) if hasattr(newest, "tzinfo") else newest
            )

    def report_probe(
        self, kind: str, row: dict, alias: str, column: ContractColumn, extra: str | None
    ) -> None:
        """A count of rows the probe found wrong, which is not zero."""
        location = self.table.location
        if kind == "unparsed":
            level = "error" if column.required and not column.id_type else "warning"
            example = str(row[f"badex_{column.name}"])
            example = example if len(example) <= 60 else example[:57] + "..."
            self.add(
                level,
                f"{row[alias]:,} values of {column.name} ({extra}) do not parse as "
                f"{column.data_type}, e.g. '{example}': read as null. "
                + (
                    TIMESTAMP_FORMATS
                    if column.data_type == "timestamp"
                    else f"Convert them to {column.data_type}"
                )
                + f", in {location} or a view over it that "
                f"tessera_sources.{self.report.resolution.source}.tables.{self.table.logical} "
                "names",
            )
        elif kind == "null_required":
            self.add("error", f"{row[alias]:,} rows have no {column.name}, which every row needs")
        elif kind == "fraction":
            self.add(
                "warning",
                f"{row[alias]:,} values of {column.name} ({extra}) are not whole numbers, e.g. "
                f"{row[f'fracex_{column.name}']}: the build reads {column.name} as an integer "
                f"and rounds them; if they mean something else, convert them in a view over "
                f"{location}",
            )
        elif kind == "values":
            self.add("error", f"{row[alias]:,} rows have a {column.name} other than {extra}")

    def report_identifier(self, alias: str, row: dict, rows: int) -> None:
        stats = {"null": row[f"idnull_{alias}"] / rows if rows else 0.0}
        if f"idph_{alias}" in row:
            stats["placeholder"] = row[f"idph_{alias}"] / rows if rows else 0.0
            stats["invalid"] = row[f"idbad_{alias}"] / rows if rows else 0.0
        self.table_report.identifier_stats[alias] = stats
        if rows and stats["null"] == 1.0:
            self.add("warning", f"identifier {alias} is always null")
        for what, label in (("placeholder", "placeholders"), ("invalid", "malformed")):
            if stats.get(what, 0.0) >= 0.05:
                self.add(
                    "warning",
                    f"{stats[what]:.0%} of {alias} values are {label} (identity drops them)",
                )

    def report_keys(self, row: dict) -> None:
        keys = ", ".join(self.spec.key)
        resolution = self.report.resolution
        dedupe = self.adapter_mode and resolution.adapter.name in DEDUPLICATED_BY_ADAPTER
        if row["duplicate_keys"]:
            level = "note" if dedupe else "error"
            extra = (
                " (the adapter keeps the latest)"
                if dedupe
                else " (staging's unique test on the key fails the build)"
            )
            self.add(
                level, f"{row['duplicate_keys']:,} duplicate values of the key ({keys}){extra}"
            )
        if row["null_keys"]:
            self.add("error", f"{row['null_keys']:,} rows have no key ({keys})")


def _accepted_values(spec: ContractTable, column: ContractColumn) -> tuple[str, ...]:
    return CONSENT_VALUES.get((spec.qualified_name, column.name), ())


def _stored(table: PhysicalTable, name: str) -> str:
    """A column's name as the warehouse stores it (Snowflake upper-cases unquoted names)."""
    return table.column_names.get(name.lower(), name)


def _one_row(session: Session, duckdb_sql: str, target_sql: dict[str, str] | None = None) -> dict:
    """The one row of `duckdb_sql`, transpiled for the session; each token of `target_sql`
    is then replaced by its expression, already in the session's dialect."""
    sql = duckdb_sql
    if session.dialect != "duckdb":
        sql = sqlglot.transpile(duckdb_sql, read="duckdb", write="snowflake")[0]
    for token, expression in (target_sql or {}).items():
        sql = re.sub(rf"\b{token}\b", lambda _m, e=expression: e, sql)
    frame = session.df(sql)
    frame.columns = [c.lower() for c in frame.columns]
    record = frame.to_dict("records")[0]  # per column: a row Series would make counts floats
    return {k: (None if v != v else v) for k, v in record.items()}  # NaN -> None
