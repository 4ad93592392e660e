"""The gate refuses every hostile case at its line and column, without a traceback, and
accepts every valid tricky case, dbt's compile included (how long it takes: bench/)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hostile_cases import HOSTILE, VALID, Case
from hostile_harness import copy_project, put_cases

from tessera.segments.checks import check_project, require_valid_segments

CLASSES = {
    "config",
    "yaml",
    "jinja",
    "relations",
    "files",
    "dialect",
    "resources",
    "crash",
    "syntax",
}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield copy_project(tmp_path_factory.mktemp("checker") / "project")


def test_the_battery_covers_every_class_with_sixty_cases() -> None:
    assert len(HOSTILE) >= 60
    assert {c.klass for c in HOSTILE} == CLASSES
    assert len({c.id for c in HOSTILE + VALID}) == len(HOSTILE) + len(VALID)
    assert len(VALID) >= 25


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in HOSTILE])
def test_hostile_case_is_refused_at_its_position(project: Path, case: Case) -> None:
    put_cases(project, [case])
    result = check_project(project, compile_with_dbt=False)
    file, line, column = case.expected_position()
    errors = result.errors
    assert errors, f"{case.id} was accepted"
    assert all(e.line is not None and e.column is not None for e in errors)
    matching = [e for e in errors if e.code == case.code]
    assert matching, [str(e) for e in errors]
    where = [(e.file, e.line, e.column) for e in matching]
    assert (f"models/segments/{file}", line, column) in where, [str(e) for e in errors]


def test_the_build_gate_names_file_line_and_column(project: Path) -> None:
    [case] = [c for c in HOSTILE if c.id == "fn_getenv"]
    put_cases(project, [case])
    with pytest.raises(Exception) as refused:
        require_valid_segments(project)
    file, line, column = case.expected_position()
    assert f"models/segments/{file} (line {line}, column {column})" in str(refused.value)
    assert "Traceback" not in str(refused.value)


def test_valid_tricky_segments_are_accepted_with_dbt_compile(project: Path) -> None:
    put_cases(project, VALID)
    result = check_project(project, compile_with_dbt=True)
    assert result.ok, [str(e) for e in result.errors]
    names = {r.name for r in result.reports}
    assert {c.name for c in VALID} <= names


def test_dbt_compiling_other_sql_than_was_checked_is_refused(project: Path) -> None:
    """A project macro that changes what ref() renders: the checked SQL is not what runs."""
    [case] = [c for c in VALID if c.id == "ok_person_scores"]
    put_cases(project, [case])
    macro = project / "macros" / "segments" / "zz_shadow_source.sql"
    macro.write_text(
        "{% macro source(source_name, table_name) %}"
        "{{ return(builtins.source('ml', 'person_scores') ~ ' union all select 1') }}"
        "{% endmacro %}"
    )
    try:
        result = check_project(project, compile_with_dbt=True)
    finally:
        macro.unlink()
    codes = {e.code for e in result.errors}
    assert "dbt_differs" in codes, [str(e) for e in result.errors]


def test_extra_checks_report_in_the_authors_file(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Other parts of Tessera hook a check into EXTRA_CHECKS; its issue lands in the file."""
    from sqlglot import exp

    from tessera.segments import checks

    def unknown_model(segment: checks.CheckedSegment) -> list:
        literals = [
            eq.right
            for eq in segment.tree.find_all(exp.EQ)
            if isinstance(eq.left, exp.Column) and eq.left.name == "model"
        ]
        return [
            segment.issue("unknown_model", f"no model named {lit.this!r}", lit)
            for lit in literals
            if lit.this != "churn_90d"
        ]

    monkeypatch.setattr(checks, "EXTRA_CHECKS", [unknown_model])
    [case] = [c for c in VALID if c.id == "ok_window_frames"]
    put_cases(project, [case])
    result = check_project(project, compile_with_dbt=False)
    [issue] = [e for e in result.errors if e.segment == case.name]
    assert issue.code == "unknown_model" and "purchase_30d" in issue.message
    assert (issue.file, issue.line, issue.column) == (f"models/segments/{case.name}.sql", 4, 15)


@pytest.mark.parametrize("suffix", [".sql", ".yml"])
def test_a_file_that_is_not_utf8_is_refused_at_its_byte(project: Path, suffix: str) -> None:
    """A file saved as Latin-1 crashed the catalog with UnicodeDecodeError."""
    [case] = [c for c in VALID if c.id == "ok_small_pad"]
    put_cases(project, [case])
    path = project / "models" / "segments" / f"{case.name}{suffix}"
    first, _, rest = path.read_text().partition("\n")
    comment = "--" if suffix == ".sql" else "##"
    text = f"{first}\n{comment} caf\xe9\n{rest}"
    path.write_bytes(text.encode("latin-1"))
    result = check_project(project, compile_with_dbt=False)
    [issue] = result.errors
    assert (issue.code, issue.file, issue.line, issue.column) == (
        "not_utf8",
        f"models/segments/{case.name}{suffix}",
        2,
        7,
    )
    assert "0xe9" in issue.message


def test_the_gate_shares_the_builds_parse_and_never_opens_the_warehouse(
    tmp_path: Path,
) -> None:
    """On a fresh clone the gate's dbt compile parses the project once for the build too: its
    parse cache lands in the project's target, where the build's dbt finds it valid. It writes
    no manifest there, and neither creates nor locks the warehouse file."""
    import dataclasses
    import subprocess

    import duckdb

    from tessera.dbt import dbt_executable
    from tessera.segments.compiled import CACHE_FILE
    from tessera.settings import Settings

    project = copy_project(tmp_path / "project")
    settings = dataclasses.replace(
        Settings.from_env({}),
        dbt_project_dir=project,
        warehouse_path=tmp_path / "warehouse.duckdb",
        artifacts_dir=tmp_path / "artifacts",
    )
    gate = {"target": settings.dbt_target, "env": settings.dbt_env()}
    require_valid_segments(project, **gate)
    assert not settings.warehouse_path.exists()
    assert (project / "target" / "partial_parse.msgpack").exists()
    assert not (project / "target" / "manifest.json").exists()  # the build's stays its own

    parse = subprocess.run(
        [dbt_executable(), "parse", "--project-dir", str(project), "--profiles-dir", str(project)]
        + ["--target", settings.dbt_target],
        cwd=project,
        env=settings.dbt_env(),
        capture_output=True,
        text=True,
    )
    assert parse.returncode == 0, parse.stdout
    assert "Unable to do partial parsing" not in parse.stdout, parse.stdout

    (project / "target" / CACHE_FILE).unlink()  # compile again, with the file held for writing
    with duckdb.connect(str(settings.warehouse_path)) as writer:
        writer.execute("create table held (x int)")
        require_valid_segments(project, **gate)
