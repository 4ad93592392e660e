"""`tessera sources check`: what each source holds on a warehouse, against the contract.

Per source: where it is read from (tessera.sources.resolve), its tables present or missing,
and the freshness of its newest load. Per table read: its columns, values, identifiers and
keys (tessera.sources.table_checks). Across sources: some table read holds an activity row
and some row carries an identifier. Each finding is an error (the build would fail on it), a
warning (it builds, but the result will miss something) or a note.
"""

from __future__ import annotations

from datetime import UTC, datetime

from tessera.sources.adapters import adapters_of
from tessera.sources.config import read_source_vars, unknown_settings
from tessera.sources.contract import Contract, load_contract
from tessera.sources.findings import CheckReport, Finding, SourceReport, TableReport
from tessera.sources.identifiers import IdentifierRules
from tessera.sources.resolve import resolve_all
from tessera.sources.table_checks import check_table
from tessera.warehouse import Session


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
            check_table(session, report, table_report, spec, rules)
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
