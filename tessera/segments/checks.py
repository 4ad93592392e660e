"""The segment gate: every file in models/segments checked before dbt builds anything.

Layers, each naming the problem with the line and column in the author's file:
1. the folder holds only `<name>.sql` and YAML, and the YAML only describes segments
   (folder_check.py, yaml_policy.py);
2. the Jinja is three literal substitutions (jinja.py) and the SQL one bounded, read-only
   SELECT over readable relations that DuckDB and Snowflake read alike (sql_safety.py),
   returning one row per person (validate.py);
3. dbt's own compile of the segments matches what was checked, config included (compiled.py);
4. any EXTRA_CHECKS other parts of Tessera register.
The dbt project refuses the same things by itself (macros/segments) and DuckDB builds
segments in a sandbox (duckdb_sandbox.py), so none of this is the only line of defence.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sqlglot import exp

from tessera.segments.catalog import Segment, SegmentCatalog
from tessera.segments.compiled import RenderedSegment, compiled_issues
from tessera.segments.folder_check import check_folder, project_relative
from tessera.segments.issues import Issue, SourceMap, line_col
from tessera.segments.jinja import JinjaError, RelationResolver, render_with_map
from tessera.segments.no_sql import no_sql, no_sql_message
from tessera.segments.policy import DEFAULT_POLICY, ValidationPolicy
from tessera.segments.validate import (
    ColumnSource,
    Schema,
    SegmentValidationError,
    ValidatedSegment,
    find_issues,
    transpile_to_snowflake,
)

_SEGMENT_REFERENCE = re.compile(r"\bsegments\s*\.\s*([a-z][a-z0-9_]*)", re.IGNORECASE)
_REF = re.compile(r"""ref\(\s*['"]([a-z][a-z0-9_]*)['"]\s*\)""")


@dataclass(frozen=True)
class CheckedSegment:
    """A segment that passed the safety checks, as extra checks see it."""

    name: str
    sql_file: Path
    sql: str  # rendered
    tree: exp.Query  # sqlglot's DuckDB reading of `sql`
    relations: tuple[str, ...]
    source_map: SourceMap

    def issue(self, code: str, message: str, where: exp.Expression | int | None = None) -> Issue:
        """An Issue at `where` (a node of `tree` or an offset in `sql`), in the .sql file."""
        offset = 0
        if isinstance(where, int):
            offset = where
        elif isinstance(where, exp.Expression):
            for node in where.walk():
                if isinstance(node, exp.Expression) and node.meta and "start" in node.meta:
                    offset = node.meta["start"]
                    break
        line, column = self.source_map.original_position(*line_col(self.sql, offset))
        return Issue(self.name, code, message, line, column, file=str(self.sql_file))


SegmentCheck = Callable[[CheckedSegment], Iterable[Issue]]

# Checks other parts of Tessera add (one line each); each returns the issues it finds.
EXTRA_CHECKS: list[SegmentCheck] = []


@dataclass
class SegmentReport:
    name: str
    issues: list[Issue] = field(default_factory=list)
    validated: ValidatedSegment | None = None
    snowflake_sql: str | None = None
    checked: CheckedSegment | None = None

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
        segment.read_sql(),
        segment.name,
        resolver,
        policy,
        columns_from,
        known_schema,
        sql_file=segment.sql_path,
    )


def check_segment_text(
    text: str,
    name: str,
    resolver: RelationResolver,
    policy: ValidationPolicy = DEFAULT_POLICY,
    columns_from: ColumnSource | None = None,
    known_schema: Schema | None = None,
    sql_file: Path | None = None,
) -> SegmentReport:
    """Check one segment's .sql text; never raises, whatever the text."""
    report = SegmentReport(name)
    file = str(sql_file) if sql_file is not None else None
    try:
        _check_text(report, text, name, resolver, policy, columns_from, known_schema, sql_file)
    except Exception as exc:  # the gate fails closed, with a position, never a traceback
        report.validated = None
        report.issues.append(
            Issue(
                name,
                "checker_error",
                f"the checker could not check this segment ({type(exc).__name__}), so it is "
                "refused",
                1,
                1,
                file=file,
            )
        )
    return report


def _check_text(
    report: SegmentReport,
    text: str,
    name: str,
    resolver: RelationResolver,
    policy: ValidationPolicy,
    columns_from: ColumnSource | None,
    known_schema: Schema | None,
    sql_file: Path | None,
) -> None:
    file = str(sql_file) if sql_file is not None else None
    try:
        source_map = render_with_map(text, name, resolver)
    except JinjaError as exc:
        report.issues.append(
            Issue(name, "jinja", exc.message, exc.line or 1, exc.column or 1, file=file)
        )
        return
    sql = source_map.rendered
    if no_sql(sql):  # said of the author's file: Jinja comments render to nothing
        holds = no_sql(text) or "holds only comments"
        report.issues.append(Issue(name, "empty", no_sql_message(holds), 1, 1, file=file))
        return
    segment_names = resolver.segments or None
    issues, validated = find_issues(sql, name, policy, columns_from, known_schema, segment_names)
    report.issues.extend(_in_template(issue, source_map, file) for issue in issues)
    if validated is None:
        return
    try:
        report.snowflake_sql = transpile_to_snowflake(validated.sql, name)
    except SegmentValidationError as exc:
        report.issues.extend(_in_template(i, source_map, file) for i in exc.issues)
        return
    tree = validated.tree
    assert tree is not None  # find_issues keeps the tree it checked
    checked = CheckedSegment(
        name=name,
        sql_file=sql_file or Path(f"{name}.sql"),
        sql=sql,
        tree=tree,
        relations=validated.relations,
        source_map=source_map,
    )
    for extra in EXTRA_CHECKS:
        report.issues.extend(extra(checked))
    if not report.errors:
        report.validated = validated
        report.checked = checked


def _in_template(issue: Issue, source_map: SourceMap, file: str | None) -> Issue:
    if issue.line is None:
        return issue.at(1, 1, file)
    line, column = source_map.original_position(issue.line, issue.column or 1)
    return issue.at(line, column, file)


def check_catalog(
    catalog: SegmentCatalog,
    project_dir: Path,
    names: list[str] | None = None,
    policy: ValidationPolicy | None = None,
    columns_from: ColumnSource | None = None,
    resolver: RelationResolver | None = None,
) -> list[SegmentReport]:
    """Reports for `names` (default: all), checking segments they read first."""
    if resolver is None:
        resolver = RelationResolver.from_project(project_dir)
    resolver = dataclasses.replace(resolver, segments=frozenset(catalog.segments))
    policy = policy or ValidationPolicy.from_resolver(resolver)
    wanted = names or catalog.names()
    for name in wanted:
        catalog.get(name)  # unknown name -> CatalogError listing the known ones
    known_schema: Schema = {}
    reports: dict[str, SegmentReport] = {}
    for name in _dependency_order(catalog, wanted):
        report = check_segment(catalog.segments[name], resolver, policy, columns_from, known_schema)
        reports[name] = report
        if report.ok and report.validated and report.validated.output_columns:
            known_schema.setdefault(resolver.segments_schema, {})[name] = {
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
        referenced |= set(_REF.findall(text))
        for other in sorted(referenced):
            if other in catalog.segments and other != name:
                visit(other)
        visiting.discard(name)
        order.append(name)

    for name in wanted:
        visit(name)
    return order


@dataclass
class ProjectCheck:
    """Everything the gate found: per-segment reports and problems with the folder itself."""

    reports: list[SegmentReport] = field(default_factory=list)
    folder_issues: list[Issue] = field(default_factory=list)

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.folder_issues if i.severity == "error"] + [
            i for r in self.reports for i in r.errors
        ]

    @property
    def ok(self) -> bool:
        return not self.errors


def check_project(
    project_dir: Path,
    names: list[str] | None = None,
    columns_from: ColumnSource | None = None,
    target: str | None = None,
    compile_with_dbt: bool = True,
    env: dict[str, str] | None = None,
) -> ProjectCheck:
    """Check the segments folder of a dbt project (all segments, or `names` and what they
    read); with `compile_with_dbt`, also what dbt compiles for `target`."""
    result = ProjectCheck()
    resolver = RelationResolver.from_project(project_dir)
    catalog, result.folder_issues = check_folder(project_dir, resolver)
    if catalog is None:
        return result
    unknown = [n for n in names or [] if n not in catalog.segments]
    if unknown:
        result.folder_issues.append(
            Issue(unknown[0], "unknown_segment", f"no segment named {unknown[0]!r}", 1, 1)
        )
        return result
    result.reports = check_catalog(
        catalog, project_dir, names, columns_from=columns_from, resolver=resolver
    )
    if compile_with_dbt and all(r.ok for r in result.reports):
        rendered = {
            r.name: RenderedSegment(
                name=r.name,
                sql=r.checked.sql,
                sql_file=catalog.segments[r.name].sql_path,
                yml_file=catalog.segments[r.name].yml_path,
                to_template=r.checked.source_map.original_position,
            )
            for r in result.reports
            if r.checked is not None
        }
        issues = compiled_issues(
            project_dir,
            rendered,
            resolver.segments_schema,
            target or os.environ.get("TESSERA_TARGET", "duckdb"),
            env,
        )
        by_name = {r.name: r for r in result.reports}
        for issue in issues:
            report = by_name.get(issue.segment)
            issue = issue.at(
                issue.line or 1, issue.column or 1, project_relative(project_dir, issue.file)
            )
            if report is None:
                result.folder_issues.append(issue)
            else:
                report.issues.append(issue)
    for report in result.reports:
        report.issues = [
            i.at(i.line or 1, i.column or 1, project_relative(project_dir, i.file))
            for i in report.issues
        ]
    return result


class InvalidSegmentsError(ValueError):
    """Segments that must not be built; the message names each problem, file, line and column."""


def require_valid_segments(
    project_dir: Path,
    names: list[str] | None = None,
    target: str | None = None,
    env: dict[str, str] | None = None,
) -> None:
    """Refuse a build that would run a segment the gate rejects.

    Run before dbt builds segments (`tessera build`, the demo, the Dagster dbt assets).
    Columns are not checked here: on a first build the tables segments read do not exist
    yet, and dbt names an unknown column itself; `tessera segments validate` checks them
    against the warehouse. dbt's compile is checked for `target` (default: TESSERA_TARGET)
    with `env` (default: this process's); given the build's own, the compile and the build
    share one parse of the project.
    """
    result = check_project(project_dir, names, target=target, env=env)
    if not result.ok:
        problems = [f"  {issue}" for issue in result.errors]
        failed = {i.segment for i in result.errors}
        raise InvalidSegmentsError(
            f"{len(failed)} segment(s) failed validation, so nothing was built:\n"
            + "\n".join(problems)
            + "\nFix them, or check one with `tessera segments validate NAME`."
        )
