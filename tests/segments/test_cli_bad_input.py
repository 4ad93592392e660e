"""`tessera segments ...` with the files and arguments a newcomer gets wrong: each is refused
with what is wrong and where (file, line, column), never a traceback or a silent choice."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from tessera.segments import cli
from tessera.segments.catalog import CatalogError, load_catalog
from tessera.segments.checks import check_segment_text
from tessera.segments.jinja import RelationResolver
from tessera.segments.scaffold import ScaffoldError, scaffold_segment
from tessera.settings import Settings
from tessera.warehouse import Warehouse

P = "{{ ref('customer_profiles') }}"


def run(settings: Settings, project: Path, *argv: str) -> int:
    parser = argparse.ArgumentParser(prog="tessera")
    cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["segments", "--project-dir", str(project), *argv])
    return args.func(args, settings)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "project" / "models" / "segments").mkdir(parents=True)
    return tmp_path / "project"


def parse_error_at(template: str) -> tuple[int, int]:
    report = check_segment_text(template, "probe", RelationResolver())
    [issue] = [i for i in report.issues if i.code == "parse_error"]
    return issue.line or 0, issue.column or 0


@pytest.mark.parametrize(
    "line",
    [
        "\twhere\temail = 'x' and and 1 = 1",  # tabs: DuckDB's caret counts them as 0 wide
        "where first_name = '日本語 Zoë 😀' and and 1 = 1",  # wide characters count 2
        "where " + " or ".join(["person_id is null"] * 100) + " or or 1 = 1",  # long, repeated
    ],
    ids=["tabs", "wide_characters", "long_repetitive_line"],
)
def test_a_syntax_error_is_placed_on_the_character_duckdb_stopped_at(line: str) -> None:
    template = f"select person_id, email\nfrom {P}\n{line}\n"
    expected_column = line.index(" and and ") + 6 if " and and " in line else None
    if expected_column is None:
        expected_column = line.index(" or or ") + 5
    assert parse_error_at(template) == (3, expected_column)


def test_a_segment_described_twice_in_one_yaml_file_is_refused(project: Path) -> None:
    folder = project / "models" / "segments"
    (folder / "vips.sql").write_text(f"select person_id from {P}")
    (folder / "vips.yml").write_text(
        "models:\n"
        "  - name: vips\n"
        "    description: the real one\n"
        "    config: {meta: {owner: crm, refresh: daily}}\n"
        "  - name: vips\n"
        "    description: a copy pasted below\n"
        "    config: {meta: {owner: me, refresh: hourly}}\n"
    )
    with pytest.raises(CatalogError) as err:
        load_catalog(folder)
    assert err.value.problems == [
        "vips.yml (line 5, column 5): segment 'vips' is described twice in this file; "
        "keep one entry"
    ]


def test_a_file_name_with_spaces_is_named_once_with_a_name_to_use(
    settings: Settings, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "models" / "segments" / "My Segment.sql").write_text(f"select person_id from {P}")
    assert run(settings, project, "validate", "--offline", "--no-dbt") == 1
    out = " ".join(capsys.readouterr().out.split())
    assert "error models/segments/My Segment.sql (line 1, column 1): segment names are" in out
    assert "rename it to my_segment.sql" in out
    assert "models/segments (line 1" not in out  # not the folder, then the file again
    assert "no segment was checked until they are fixed" in out
    assert "0 of 0" not in out


def test_new_refuses_a_description_the_gate_would_refuse(project: Path) -> None:
    folder = project / "models" / "segments"
    with pytest.raises(ScaffoldError, match=r"description must not contain Jinja \(\{\{\)"):
        scaffold_segment(folder, "welcome", description="Hi {{ first_name }}")
    assert list(folder.iterdir()) == []


def test_preview_refuses_a_negative_row_count(
    settings: Settings, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        run(settings, project, "preview", "anything", "--rows", "-1")
    assert "-1 rows: use 0 to 1,000,000,000" in capsys.readouterr().err


def test_preview_names_the_segment_it_reads_that_is_not_built(
    settings: Settings, warehouse: Warehouse, project: Path
) -> None:
    assert run(settings, project, "new", "base_audience") == 0
    assert run(settings, project, "new", "narrowed") == 0
    (project / "models" / "segments" / "narrowed.sql").write_text(
        "select person_id from {{ ref('base_audience') }}"
    )
    with pytest.raises(cli.SegmentCommandError) as err:
        run(settings, project, "preview", "narrowed")
    assert str(err.value) == (
        "segment 'narrowed' reads segments.base_audience, which is not in the warehouse yet: "
        "build it first (`tessera build --select base_audience`)"
    )


def record_a_size(warehouse: Warehouse) -> None:
    """One measured size of segment vips: enough history for a chart."""
    with warehouse.session() as session:
        session.execute("create schema if not exists segments")
        session.execute(
            "create table segments.segment_sizes as select 'vips' as segment, "
            "timestamp '2026-01-01' as measured_at, 10 as size"
        )


def test_chart_names_a_segment_without_history(
    settings: Settings, warehouse: Warehouse, project: Path
) -> None:
    record_a_size(warehouse)
    output = settings.artifacts_dir / "chart.png"
    with pytest.raises(
        cli.SegmentCommandError, match=r"no size history for 'vip' \(recorded: vips\)"
    ):
        run(
            settings,
            project,
            "chart",
            "--segment",
            "vips",
            "--segment",
            "vip",
            "--output",
            str(output),
        )
    assert not output.exists()
    assert run(settings, project, "chart", "--segment", "vips", "--output", str(output)) == 0
    assert output.read_bytes()[:4] == b"\x89PNG"


def test_dbt_refusing_another_segment_is_reported_in_that_file(tmp_path: Path) -> None:
    """Validating one segment compiles them all: a broken neighbour is named, not the one
    asked about."""
    from hostile_harness import copy_project

    from tessera.segments.checks import check_project

    project = copy_project(tmp_path / "project")
    folder = project / "models" / "segments"
    meta = "    config: {meta: {owner: me, refresh: daily}}\n"
    (folder / "good_one.sql").write_text(f"select person_id from {P}")
    (folder / "good_one.yml").write_text(f"models:\n  - name: good_one\n    description: x\n{meta}")
    (folder / "broken_one.sql").write_text(f"select person_id from {P};")
    (folder / "broken_one.yml").write_text(
        f"models:\n  - name: broken_one\n    description: x\n{meta}"
    )
    result = check_project(project, ["good_one"], compile_with_dbt=True)
    assert [r.name for r in result.reports] == ["good_one"] and result.reports[0].ok
    [issue] = result.folder_issues
    assert issue.file == "models/segments/broken_one.sql" and issue.segment == "broken_one"
    assert "';' is not allowed" in issue.message
    assert "`tessera segments validate broken_one` shows where" in issue.message


def test_a_byte_order_mark_is_named_as_one() -> None:
    report = check_segment_text(f"\ufeffselect person_id from {P}", "probe", RelationResolver())
    [issue] = report.errors
    assert (issue.line, issue.column) == (1, 1)
    assert "a byte order mark: save the file as UTF-8 without BOM" in issue.message


@pytest.mark.parametrize(
    ("suffix", "looks_like"),
    [(".svg", b"<svg"), (".pdf", b"%PDF-"), (".SVG", b"<svg"), (".png", b"\x89PNG")],
)
def test_chart_writes_the_format_its_output_suffix_names(
    settings: Settings, warehouse: Warehouse, project: Path, suffix: str, looks_like: bytes
) -> None:
    record_a_size(warehouse)
    output = settings.artifacts_dir / f"sizes{suffix}"
    assert run(settings, project, "chart", "--output", str(output)) == 0
    assert looks_like in output.read_bytes()[:1000]


@pytest.mark.parametrize(
    ("name", "named"),
    [
        ("sizes.txt", "'.txt'"),
        ("sizes.jpeg", "'.jpeg'"),
        ("sizes", "no suffix"),
        ("sizes.png.txt", "'.txt'"),
    ],
)
def test_chart_refuses_an_output_suffix_it_cannot_write_before_doing_anything(
    settings: Settings,
    project: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    named: str,
) -> None:
    output = settings.artifacts_dir / "charts" / name
    with pytest.raises(SystemExit) as exited:
        run(settings, project, "chart", "--output", str(output))
    assert exited.value.code == 2  # like every other argument error
    [error] = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert named in error and ".png, .svg or .pdf" in error, error
    assert not output.exists() and not output.parent.exists()
    assert not settings.warehouse_path.exists()  # refused before the warehouse was opened


def test_chart_function_refuses_a_suffix_it_cannot_write(tmp_path: Path) -> None:
    import pandas as pd

    from tessera.segments.chart import plot_segment_sizes

    history = pd.DataFrame(
        {"segment": ["vips"], "measured_at": [pd.Timestamp("2026-01-01")], "size": [10]}
    )
    with pytest.raises(ValueError, match=r"'\.txt'.*\.png, \.svg or \.pdf"):
        plot_segment_sizes(history, tmp_path / "out" / "sizes.txt")
    assert not (tmp_path / "out").exists()
    assert plot_segment_sizes(history, tmp_path / "sizes.pdf").read_bytes()[:5] == b"%PDF-"


NO_SQL = [
    pytest.param("-- todo\n", "holds only comments", id="line_comment"),
    pytest.param("/* nothing yet */", "holds only comments", id="block_comment"),
    pytest.param("-- who:\n/* what:\n  when: */\n\n", "holds only comments", id="several_comments"),
    pytest.param("-- later; maybe never\n", "holds only comments", id="comment_with_semicolon"),
    pytest.param("{# todo #}\n", "holds only comments", id="jinja_comment"),
    pytest.param("", "is empty", id="empty"),
    pytest.param("  \n\t\n", "holds only whitespace", id="whitespace"),
]


def write_segment(settings: Settings, project: Path, name: str, sql: str) -> None:
    assert run(settings, project, "new", name) == 0
    (project / "models" / "segments" / f"{name}.sql").write_text(sql)


@pytest.mark.parametrize(("sql", "what"), NO_SQL)
def test_validate_says_a_segment_without_sql_has_no_sql(
    settings: Settings, project: Path, capsys: pytest.CaptureFixture[str], sql: str, what: str
) -> None:
    write_segment(settings, project, "todo", sql)
    capsys.readouterr()
    assert run(settings, project, "validate", "--offline", "--no-dbt") == 1
    out = " ".join(capsys.readouterr().out.split())
    assert (
        "error models/segments/todo.sql (line 1, column 1): the segment has no SQL: the file "
        f"{what}; write one SELECT that returns person_id"
    ) in out, out
    assert "0 statements" not in out
    assert "1 of 1 segments invalid: todo" in out


@pytest.mark.parametrize(("sql", "what"), NO_SQL[:1] + NO_SQL[-2:-1])
def test_the_build_gate_refuses_a_segment_without_sql(
    settings: Settings, project: Path, sql: str, what: str
) -> None:
    from dataclasses import replace

    from orchestration.cli import build_parser
    from tessera.segments.checks import InvalidSegmentsError, require_valid_segments

    write_segment(settings, project, "good_one", f"select person_id from {P}")
    write_segment(settings, project, "todo", sql)
    with pytest.raises(InvalidSegmentsError) as refused:
        require_valid_segments(project)
    message = str(refused.value)
    assert (
        f"models/segments/todo.sql (line 1, column 1): the segment has no SQL: the file {what}"
        in message
    )
    assert "0 statements" not in message and "good_one" not in message
    # `tessera build` stops at the gate with the same words
    args = build_parser().parse_args(["build"])
    with pytest.raises(InvalidSegmentsError, match="todo.sql .* the segment has no SQL"):
        args.func(args, replace(settings, dbt_project_dir=project))


def test_preview_says_a_segment_without_sql_has_no_sql(
    settings: Settings, warehouse: Warehouse, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_segment(settings, project, "todo", "/* nothing yet */\n")
    capsys.readouterr()
    assert run(settings, project, "preview", "todo") == 1
    out = " ".join(capsys.readouterr().out.split())
    assert (
        "models/segments/todo.sql (line 1, column 1): the segment has no SQL: the file holds "
        "only comments"
    ) in out, out
    assert "0 statements" not in out


def test_list_without_a_warehouse_says_so(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With TESSERA_WAREHOUSE pointing nowhere, `segments list` showed every segment as
    'not built' and exited 0, as if the warehouse existed and nothing had been built."""
    folder = project / "models" / "segments"
    (folder / "vips.sql").write_text(f"select person_id from {P}")
    (folder / "vips.yml").write_text(
        "models:\n  - name: vips\n    description: best customers\n"
        "    config: {meta: {owner: crm, refresh: daily}}\n"
    )
    missing = tmp_path / "nowhere" / "w.duckdb"
    settings = Settings.from_env({"TESSERA_WAREHOUSE": str(missing)})
    assert run(settings, project, "list") == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "vips" in out and f"No warehouse at {missing}" in out
    assert not missing.parent.exists()
