"""Validate catalog segments end to end: render Jinja, check the SQL, transpile to Snowflake.

Segments may read other segments, so they are checked in dependency order and each checked
segment's output columns stand in for its table when that is not built yet.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from tessera.segments.catalog import Segment, SegmentCatalog, load_catalog
from tessera.segments.jinja import JinjaError, RelationResolver, render_segment_sql
from tessera.segments.validate import (
    DEFAULT_POLICY,
    ColumnSource,
    Issue,
    Schema,
    SegmentValidationError,
    ValidatedSegment,
    ValidationPolicy,
    find_issues,
    transpile_to_snowflake,
)

_SEGMENT_REFERENCE = re.compile(r"\bsegments\s*\.\s*([a-z][a-z0-9_]*)", re.IGNORECASE)


@dataclass
class SegmentReport:
    name: str
    issues: list[Issue] = field(default_factory=list)
    validated: ValidatedSegment | None = None
    snowflake_sql: str | None = None

    @property
    def ok(self) -> bool:
        return self.validated is not None and not self.errors

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "warning"]


def check_segment(
    segment: Segment,
    resolver: RelationResolver,
    policy: ValidationPolicy = DEFAULT_POLICY,
    columns_from: ColumnSource | None = None,
    known_schema: Schema | None = None,
) -> SegmentReport:
    return check_segment_text(
        segment.read_sql(), segment.name, resolver, policy, columns_from, known_schema
    )


def check_segment_text(
    text: str,
    name: str,
    resolver: RelationResolver,
    policy: ValidationPolicy = DEFAULT_POLICY,
    columns_from: ColumnSource | None = None,
    known_schema: Schema | None = None,
) -> SegmentReport:
    report = SegmentReport(name)
    try:
        sql = render_segment_sql(text, name, resolver)
    except JinjaError as exc:
        report.issues.append(Issue(name, "jinja", exc.message, exc.line))
        return report
    issues, validated = find_issues(sql, name, policy, columns_from, known_schema)
    report.issues.extend(issues)
    if validated is None:
        return report
    try:
        report.snowflake_sql = transpile_to_snowflake(validated.sql, name)
    except SegmentValidationError as exc:
        report.issues.extend(exc.issues)
        return report
    report.validated = validated
    return report


def check_catalog(
    catalog: SegmentCatalog,
    project_dir: Path,
    names: list[str] | None = None,
    policy: ValidationPolicy = DEFAULT_POLICY,
    columns_from: ColumnSource | None = None,
) -> list[SegmentReport]:
    """Reports for `names` (default: all), checking segments they read first."""
    resolver = RelationResolver.from_project(project_dir)
    wanted = names or catalog.names()
    for name in wanted:
        catalog.get(name)  # unknown name -> CatalogError listing the known ones
    known_schema: Schema = {}
    reports: dict[str, SegmentReport] = {}
    for name in _dependency_order(catalog, wanted):
        report = check_segment(catalog.segments[name], resolver, policy, columns_from, known_schema)
        reports[name] = report
        if report.ok and report.validated and report.validated.output_columns:
            known_schema.setdefault("segments", {})[name] = {
                c: "VARCHAR" for c in report.validated.output_columns
            }
    return [reports[n] for n in wanted]


def _dependency_order(catalog: SegmentCatalog, wanted: list[str]) -> list[str]:
    order: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in order or name in visiting:
            return  # a cycle is reported by dbt; the segment itself still gets checked
        visiting.add(name)
        text = catalog.segments[name].read_sql()
        referenced = {m.lower() for m in _SEGMENT_REFERENCE.findall(text)}
        referenced |= set(re.findall(r"ref\(\s*['\"]([a-z][a-z0-9_]*)['\"]\s*\)", text))
        for other in sorted(referenced):
            if other in catalog.segments and other != name:
                visit(other)
        visiting.discard(name)
        order.append(name)

    for name in wanted:
        visit(name)
    return order


class InvalidSegmentsError(ValueError):
    """Segments that must not be built; the message names each one and what is wrong where."""


def require_valid_segments(project_dir: Path, names: list[str] | None = None) -> None:
    """Refuse a build that would run a segment the validator rejects.

    Run before dbt builds segments (`tessera build`, the demo, the Dagster dbt assets), so
    hostile or broken segment SQL never reaches the warehouse. Columns are not checked here:
    on a first build the tables segments read do not exist yet, and dbt names an unknown
    column itself; `tessera segments validate` checks them against the warehouse.
    """
    catalog = load_catalog(project_dir / "models" / "segments")
    invalid = [r for r in check_catalog(catalog, project_dir, names) if not r.ok]
    if invalid:
        problems = [f"  {issue}" for report in invalid for issue in report.errors]
        raise InvalidSegmentsError(
            f"{len(invalid)} segment(s) failed validation, so nothing was built:\n"
            + "\n".join(problems)
            + "\nFix them, or check one with `tessera segments validate NAME`."
        )
