"""`tessera sources check`: what each source holds on a warehouse, against the contract.

Per source: where it is read from (tessera.sources.resolve). Per table read: present or
missing, rows, missing and mistyped columns, values that will not parse as the contract's
type, null / placeholder / invalid rates of every identifier column, duplicate and null keys,
values a consent must have, and freshness of the load timestamp. Each finding is an error
(the build would fail on it), a warning (it builds, but the result will miss something) or a
note. The SQL is written for DuckDB and transpiled by sqlglot for Snowflake.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

import sqlglot

from tessera.sources.adapters import adapters_of
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
from tessera.sources.config import read_source_vars, unknown_settings
from tessera.sources.contract import Contract, ContractColumn, ContractTable, load_contract
from tessera.sources.identifiers import INVALID_VERDICT, PLACEHOLDER_VERDICTS, IdentifierRules
from tessera.sources.resolve import PhysicalTable, Resolution, resolve_all
from tessera.warehouse import Session

# loaders that deduplicate in the adapter (Segment may deliver a call twice)
DEDUPLICATED_BY_ADAPTER = {"segment"}


@dataclass(frozen=True)
class Finding:
    level: str  # error | warning | note
    source: str
    table: str | None
    message: str


@dataclass
class TableReport:
    table: PhysicalTable
    rows: int | None = None
    newest: datetime | None = None
    identifier_stats: dict[str, dict[str, float]] = field(default_factory=dict)


@dataclass
class SourceReport:
    resolution: Resolution
    tables: list[TableReport] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    def add(self, level: str, table: str | None, message: str) -> None:
        self.findings.append(Finding(level, self.resolution.source, table, message))


@dataclass
class CheckReport:
    sources: list[SourceReport]
    checked_at: datetime
    # about the tessera_sources block itself (settings the build ignores)
    settings_findings: list[Finding] = field(default_factory=list)

    @property
    def findings(self) -> list[Finding]:
        return [*self.settings_findings, *(f for s in self.sources for f in s.findings)]

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "error"]


PLACEHOLDER_LIST = ", ".join(f"'{v}'" for v in PLACEHOLDER_VERDICTS)

# how to write text timestamps the build reads (macro tessera_text_as_utc_timestamp)
TIMESTAMP_FORMATS = (
    "Write them as ISO 8601, 2024-03-02 10:00:00 (UTC) or with an offset (+02:00), Z or an "
    "IANA time zone name (America/Chicago) after the time (an abbreviation such as EST or IST "
    "names several zones and is not read)"
)


def run_check(
    session: Session,
    rules: IdentifierRules,
    now: datetime | None = None,
    raw_vars: dict | None = None,
) -> CheckReport:
    """rules: identity's, compiled by dbt (IdentifierRules.compile); raw_vars: the
    tessera_sources settings to check with (default: dbt_project.yml's)."""
    contract = load_contract()
    now = now or datetime.now(UTC).replace(tzinfo=None)
    reports = []
    settings_findings = [
        Finding("warning", "tessera_sources", None, problem)
        for problem in unknown_settings(
            read_source_vars() if raw_vars is None else raw_vars, known_settings(contract)
        )
    ]
    for resolution in resolve_all(session, contract, raw_vars):
        report = SourceReport(resolution)
        reports.append(report)
        if resolution.error:
            report.add("error", None, resolution.error)
        if not resolution.is_read:
            if resolution.mode == "absent" and not resolution.error:
                report.add("note", None, f"built empty: {resolution.reason}")
            continue
        source = contract.source(resolution.source)
        for table in resolution.tables:
            spec = table.spec
            if spec is None:
                continue
            if not table.exists:
                if spec.required:
                    report.add("error", table.logical, f"missing table {table.location}")
                elif resolution.mode == "contract":
                    report.add(
                        "note",
                        table.logical,
                        f"optional table {table.location} absent: built empty",
                    )
                continue
            table_report = TableReport(table)
            report.tables.append(table_report)
            _check_table(session, report, table_report, spec, rules)
        _check_freshness(report, now, source.freshness_warn_hours, source.freshness_error_hours)
    if not any(_has_activity(r) for r in reports):
        settings_findings.append(
            Finding(
                "error",
                "all sources",
                None,
                "no table read holds an activity row ("
                + ", ".join(f"{s}.{t}" for s, t in ACTIVITY_TABLES.items())
                + "): the build has no moment to measure profiles from (profile_as_of is "
                "null) and fails; load at least one of them",
            )
        )
    elif not any(_has_identified_rows(r) for r in reports):
        settings_findings.append(
            Finding(
                "error",
                "all sources",
                None,
                "no row of any table read carries an identifier (every identifier column is "
                "absent or always null): identity finds no person, so profiles and features "
                "are empty, the models cannot train and `tessera build` fails at training; "
                "load or map at least one identifier column (an email, phone, user id ...)",
            )
        )
    return CheckReport(reports, now, settings_findings)


def _has_identified_rows(report: SourceReport) -> bool:
    """Some row of the source carries an identifier (an adapter's loader tables are mapped
    to identifiers by the adapter: any row counts)."""
    if report.resolution.mode == "adapter":
        return any(t.rows for t in report.tables)
    return any(
        t.rows and any(stats["null"] < 1.0 for stats in t.identifier_stats.values())
        for t in report.tables
    )


# the tables whose newest timestamp is the build's reference moment (model profile_as_of)
ACTIVITY_TABLES = {
    "segment": "events",
    "shop": "orders",
    "pos": "pos_purchases",
    "esp": "email_events",
    "helpdesk": "support_tickets",
    "ads": "ad_clicks",
}


def _has_activity(report: SourceReport) -> bool:
    """The source feeds an activity table a row (through an adapter: any loader table has
    rows, since the adapter's tables map to it)."""
    table = ACTIVITY_TABLES.get(report.resolution.source)
    if table is None:
        return False
    return any(
        t.rows
        for t in report.tables
        if report.resolution.mode == "adapter" or t.table.logical == table
    )


def known_settings(contract: Contract) -> dict[str, tuple[list[str], list[str]]]:
    """Per source: the table names its `tables` setting may map (the contract's and its
    adapters' loaders'), and its adapters."""
    known = {}
    for source in contract.sources:
        adapters = adapters_of(source.name)
        tables = [t.name for t in source.tables]
        tables += [t.name for a in adapters for t in a.loader_tables().tables]
        known[source.name] = (list(dict.fromkeys(tables)), [a.name for a in adapters])
    return known


def _check_table(
    session: Session,
    report: SourceReport,
    table_report: TableReport,
    spec: ContractTable,
    rules: IdentifierRules,
) -> None:
    table = table_report.table
    adapter_mode = report.resolution.mode == "adapter"
    present = [c for c in spec.columns if c.name.lower() in table.columns]
    missing = [c for c in spec.columns if c.name.lower() not in table.columns]
    for column in missing:
        if column.required:
            report.add(
                "error",
                table.logical,
                f"missing required column {column.name} ({column.data_type}: {column.description})",
            )
    optional_missing = [c.name for c in missing if not c.required]
    if optional_missing and not adapter_mode:
        report.add(
            "note",
            table.logical,
            "absent optional columns (read as null): " + ", ".join(optional_missing),
        )
    if not any(c.id_type for c in present) and any(c.id_type for c in spec.columns):
        report.add(
            "warning",
            table.logical,
            "no identifier column present: its records cannot be linked to a person",
        )

    selects = ["count(*) as n_rows"]
    # tokens replaced by SQL already in the target's dialect, after transpiling
    target_sql: dict[str, str] = {}
    # columns of another type than the contract's, which the build casts
    casts: list[tuple[ContractColumn, str, str]] = []
    probes: list[tuple[str, str, ContractColumn, str | None]] = []
    for column in present:
        have = table.columns[column.name.lower()]
        quoted = f'"{_stored(table, column.name)}"'
        if not family_ok(column.data_type, have):
            if family_ok("varchar", have) and column.data_type != "varchar":
                if column.data_type == "timestamp":
                    # as the build parses it (macro tessera_text_as_utc_timestamp)
                    parsed = f"tessera_expr_{len(target_sql)}"
                    target_sql[parsed] = text_as_utc_timestamp(session.dialect, quoted)
                else:
                    parsed = f"try_cast({quoted} as {column.data_type})"
                unparsed = f"{quoted} is not null and {parsed} is null"
                selects.append(f"count(*) filter (where {unparsed}) as bad_{column.name}")
                selects.append(f"min({quoted}) filter (where {unparsed}) as badex_{column.name}")
                probes.append(("unparsed", f"bad_{column.name}", column, have))
            else:
                report.add(
                    "note",
                    table.logical,
                    f"column {column.name} is {have}, read as {column.data_type}",
                )
                if column.id_type and fractional(have) and not adapter_mode:
                    # 1001 stored as 1001.0 is the text '1001.0' (or '1001.00'), which
                    # matches no other source's '1001'
                    report.add(
                        "warning",
                        table.logical,
                        f"identifier {column.name} is {have}: read as text with decimals "
                        "(1001 as '1001.0'), it will not match the same id elsewhere; "
                        "cast it to an integer or text in a view over the table",
                    )
        if column.data_type == "integer" and fractional(have) and not column.id_type:
            # casting to an integer rounds: 2.7 items become 3, silently
            whole = f"{quoted} is not null and {quoted} <> round({quoted})"
            selects.append(f"count(*) filter (where {whole}) as frac_{column.name}")
            selects.append(f"min({quoted}) filter (where {whole}) as fracex_{column.name}")
            probes.append(("fraction", f"frac_{column.name}", column, have))
        castable = not family_ok("varchar", have) and not is_exactly(have, column.data_type)
        if castable and not adapter_mode:
            # the build casts it to the contract's type (BIGINT as integer too); an adapter
            # reads the loader's columns as it needs them instead
            casts.append((column, have, quoted))
        if column.required and not column.id_type and column.name not in spec.key:
            selects.append(f"count(*) filter (where {quoted} is null) as null_{column.name}")
            probes.append(("null_required", f"null_{column.name}", column, None))
        if column.id_type:
            id_types = (
                ["email", "phone", "user_id"]
                if column.id_type == "subject_type"
                else [column.id_type]
            )
            value = f"cast({quoted} as varchar)"
            selects.append(f"count(*) filter (where {value} is null) as idnull_{column.name}")
            if len(id_types) == 1:
                # identity's verdict, in the target's dialect: put in after transpiling
                token = f"tessera_expr_{len(target_sql)}"
                target_sql[token] = rules.verdict_sql(id_types[0], quoted)
                selects.append(
                    f"count(*) filter (where {token} in ({PLACEHOLDER_LIST})) as idph_{column.name}"
                )
                selects.append(
                    f"count(*) filter (where {token} = '{INVALID_VERDICT}') as idbad_{column.name}"
                )
            probes.append(("identifier", column.name, column, None))
        values = _accepted_values(spec, column)
        if values:
            listed = ", ".join(f"'{v}'" for v in values)
            selects.append(
                f"count(*) filter (where {quoted} is not null and "
                f"lower(trim(cast({quoted} as varchar))) not in ({listed})) "
                f"as unexpected_{column.name}"
            )
            probes.append(("values", f"unexpected_{column.name}", column, listed))
    key = [c for c in spec.key if c.lower() in table.columns]
    if key and len(key) == len(spec.key):
        cols = " || '|' || ".join(f'cast("{_stored(table, c)}" as varchar)' for c in key)
        null_key = " or ".join(f'"{_stored(table, c)}" is null' for c in key)
        selects.append(f"count({cols}) - count(distinct {cols}) as duplicate_keys")
        selects.append(f"count(*) filter (where {null_key}) as null_keys")
    loaded_at = table.loaded_at_field
    if loaded_at and loaded_at.lower() in table.columns:
        have = table.columns[loaded_at.lower()]
        expr = f'"{_stored(table, loaded_at)}"'
        if family_ok("varchar", have):
            token = f"tessera_expr_{len(target_sql)}"
            target_sql[token] = text_as_utc_timestamp(session.dialect, expr)
            expr = token
        elif has_zone(have):
            token = f"tessera_expr_{len(target_sql)}"
            target_sql[token] = zoned_as_utc(session.dialect, expr)
            expr = token
        elif not family_ok("timestamp", have):
            expr = f"try_cast({expr} as timestamp)"
        selects.append(f"cast(max({expr}) as timestamp) as newest")
    elif loaded_at:
        report.add(
            "warning",
            table.logical,
            f"no load timestamp column {loaded_at}: "
            "incremental runs re-read by event time and the sensor sees only row counts",
        )

    unreadable, failures = cast_failures(session, table, casts)
    if unreadable is not None:
        report.add("error", table.logical, f"cannot read {table.location}: {unreadable}")
        return
    for column, have, failure in failures:
        report.add(
            "error",
            table.logical,
            f"column {column.name} is {have}, which the build cannot read as "
            f"{column.data_type} ({failure}): convert it in a view over {table.location} and "
            f"point tessera_sources.{report.resolution.source}.tables.{table.logical} at the "
            "view",
        )
    try:
        row = _one_row(
            session, f"select {', '.join(selects)} from {table.sql(session.dialect)}", target_sql
        )
    except Exception as exc:  # a view over a dropped table, no privilege ...
        report.add("error", table.logical, f"cannot read {table.location}: {first_line(exc)}")
        return
    rows = int(row["n_rows"])
    table_report.rows = rows
    if rows == 0:
        report.add("warning", table.logical, f"{table.location} has no rows")
    for kind, alias, column, extra in probes:
        if kind == "unparsed" and row[alias]:
            level = "error" if column.required and not column.id_type else "warning"
            example = str(row[f"badex_{column.name}"])
            example = example if len(example) <= 60 else example[:57] + "..."
            report.add(
                level,
                table.logical,
                f"{row[alias]:,} values of {column.name} ({extra}) do not parse as "
                f"{column.data_type}, e.g. '{example}': read as null. "
                + (
                    TIMESTAMP_FORMATS
                    if column.data_type == "timestamp"
                    else f"Convert them to {column.data_type}"
                )
                + f", in {table.location} or a view over it that "
                f"tessera_sources.{report.resolution.source}.tables.{table.logical} names",
            )
        elif kind == "null_required" and row[alias]:
            report.add(
                "error",
                table.logical,
                f"{row[alias]:,} rows have no {column.name}, which every row needs",
            )
        elif kind == "fraction" and row[alias]:
            report.add(
                "warning",
                table.logical,
                f"{row[alias]:,} values of {column.name} ({extra}) are not whole numbers, e.g. "
                f"{row[f'fracex_{column.name}']}: the build reads {column.name} as an integer "
                f"and rounds them; if they mean something else, convert them in a view over "
                f"{table.location}",
            )
        elif kind == "values" and row[alias]:
            report.add(
                "error",
                table.logical,
                f"{row[alias]:,} rows have a {column.name} other than {extra}",
            )
        elif kind == "identifier":
            stats = {"null": row[f"idnull_{alias}"] / rows if rows else 0.0}
            if f"idph_{alias}" in row:
                stats["placeholder"] = row[f"idph_{alias}"] / rows if rows else 0.0
                stats["invalid"] = row[f"idbad_{alias}"] / rows if rows else 0.0
            table_report.identifier_stats[alias] = stats
            if rows and stats["null"] == 1.0:
                report.add("warning", table.logical, f"identifier {alias} is always null")
            for what, label in (("placeholder", "placeholders"), ("invalid", "malformed")):
                if stats.get(what, 0.0) >= 0.05:
                    report.add(
                        "warning",
                        table.logical,
                        f"{stats[what]:.0%} of {alias} values are {label} (identity drops them)",
                    )
    if "duplicate_keys" in row:
        keys = ", ".join(spec.key)
        dedupe = adapter_mode and report.resolution.adapter.name in DEDUPLICATED_BY_ADAPTER
        if row["duplicate_keys"]:
            level = "note" if dedupe else "error"
            extra = (
                " (the adapter keeps the latest)"
                if dedupe
                else " (staging's unique test on the key fails the build)"
            )
            report.add(
                level,
                table.logical,
                f"{row['duplicate_keys']:,} duplicate values of the key ({keys}){extra}",
            )
        if row["null_keys"]:
            report.add("error", table.logical, f"{row['null_keys']:,} rows have no key ({keys})")
    newest = row.get("newest")
    if newest is not None:
        table_report.newest = newest.replace(tzinfo=None) if hasattr(newest, "tzinfo") else newest


def _check_freshness(
    report: SourceReport, now: datetime, warn_hours: int, error_hours: int
) -> None:
    """The source's newest load over its tables, against its freshness thresholds."""
    stamped = [t for t in report.tables if t.newest is not None]
    if not stamped:
        return
    newest = max(stamped, key=lambda t: t.newest)
    age_hours = (now - newest.newest).total_seconds() / 3600
    where = f"{newest.table.logical}.{newest.table.loaded_at_field}"
    if age_hours > error_hours:
        report.add(
            "warning",
            None,
            f"stale: the newest load ({where}) is "
            f"{newest.newest:%Y-%m-%d %H:%M}, {age_hours / 24:,.1f} days old (error "
            f"after {error_hours} h)",
        )
    elif age_hours > warn_hours:
        report.add(
            "note",
            None,
            f"the newest load ({where}) is {age_hours:,.0f} h old (warn after {warn_hours} h)",
        )


def _accepted_values(spec: ContractTable, column: ContractColumn) -> tuple[str, ...]:
    return CONSENT_VALUES.get((spec.qualified_name, column.name), ())


# values staging tests with severity error, after lower(trim()): anything else fails the build
CONSENT_VALUES = {
    ("cmp.consents", "subject_type"): ("email", "user_id", "phone"),
    ("cmp.consents", "purpose"): ("email", "sms", "ads", "analytics"),
    ("cmp.consents", "status"): ("granted", "revoked"),
}


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
