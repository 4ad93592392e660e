"""How `tessera` ends on an error: an error meant for a person is one line and exit 1; a bug
(KeyError, TypeError ...) says it is an internal error, writes its traceback to a file under
the artifacts' logs (never to the terminal, never with local variables) and exits 70."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from tessera.cli import EXIT_INTERNAL_ERROR, run
from tessera.dbt import DbtError
from tessera.settings import Settings

Raise = Callable[[], None]


@pytest.fixture
def artifacts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TESSERA_WAREHOUSE", str(tmp_path / "w.duckdb"))
    monkeypatch.setenv("TESSERA_ARTIFACTS", str(tmp_path / "artifacts"))
    return tmp_path / "artifacts"


def _run(raise_: Raise) -> int:
    """The real `run()` on a parser whose one command calls `raise_`."""

    def handler(args: argparse.Namespace, settings: Settings) -> int:
        raise_()
        return 0

    parser = argparse.ArgumentParser(prog="tessera")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("boom").set_defaults(func=handler)
    return run(parser, ["boom"])


def _one_line(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    assert captured.err == ""
    lines = captured.out.strip().splitlines()
    assert len(lines) == 1, captured.out
    return lines[0]


def _error_logs(artifacts: Path) -> list[Path]:
    return sorted((artifacts / "logs").glob("tessera_error_*.log"))


def _look_up_a_missing_key() -> None:
    token = "hunter2-not-for-any-log"  # a local variable: never written anywhere
    columns = {"person_id": token}
    columns["segment_id"]  # noqa: B018 - the bug under test


# -- bugs --------------------------------------------------------------------------------------


def test_a_bug_is_an_internal_error_with_its_traceback_in_a_file(
    artifacts: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(_look_up_a_missing_key) == EXIT_INTERNAL_ERROR == 70
    line = _one_line(capsys)
    assert line.startswith("internal error: KeyError: 'segment_id'")
    assert "bug in Tessera" in line and "please report it" in line
    [log] = _error_logs(artifacts)
    assert str(log) in line
    text = log.read_text()
    assert "Traceback (most recent call last)" in text
    assert "_look_up_a_missing_key" in text
    assert "KeyError: 'segment_id'" in text
    assert "hunter2" not in text  # frames and the message only, no local variables


def _raise(exc: BaseException) -> Raise:
    def raise_() -> None:
        raise exc

    return raise_


def _unbound() -> None:
    if False:
        value = 1
    print(value)  # noqa: F821 - the bug under test


@pytest.mark.parametrize(
    "raise_, name",
    [
        (_raise(TypeError("unsupported operand")), "TypeError"),
        (_raise(AttributeError("'NoneType' object has no attribute 'name'")), "AttributeError"),
        (_raise(NameError("name 'x' is not defined")), "NameError"),
        (_unbound, "UnboundLocalError"),
        (lambda: [][0], "IndexError"),
        (lambda: 1 / 0, "ZeroDivisionError"),
        (_raise(AssertionError()), "AssertionError"),
        (_raise(RecursionError("maximum recursion depth exceeded")), "RecursionError"),
        (_raise(NotImplementedError("snowflake")), "NotImplementedError"),
        (lambda: next(iter(())), "StopIteration"),
    ],
)
def test_every_builtin_bug_class_is_an_internal_error(
    artifacts: Path, capsys: pytest.CaptureFixture[str], raise_: Raise, name: str
) -> None:
    assert _run(raise_) == EXIT_INTERNAL_ERROR
    assert _one_line(capsys).startswith(f"internal error: {name}")
    [log] = _error_logs(artifacts)
    assert name in log.read_text()


def test_an_error_marked_not_user_facing_is_an_internal_error(
    artifacts: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    class NotForPeopleError(RuntimeError):
        user_facing = False

    assert _run(_raise(NotForPeopleError("invariant broken"))) == EXIT_INTERNAL_ERROR
    assert _one_line(capsys).startswith("internal error: NotForPeopleError: invariant broken")
    assert len(_error_logs(artifacts)) == 1


def test_the_traceback_goes_to_a_temp_file_when_the_logs_dir_cannot_be_written(
    tmp_path: Path,
    artifacts: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    artifacts.mkdir(exist_ok=True)
    (artifacts / "logs").write_text("a file where the logs directory would be")
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    assert _run(_look_up_a_missing_key) == EXIT_INTERNAL_ERROR
    [log] = temp.glob("tessera_error_*.log")
    assert str(log) in _one_line(capsys)
    assert "_look_up_a_missing_key" in log.read_text()


def test_a_bug_while_building_the_settings_goes_to_a_temp_file(
    tmp_path: Path,
    artifacts: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def from_env(cls: type[Settings], env: dict[str, str] | None = None) -> Settings:
        raise KeyError("TESSERA_SOMETHING")

    monkeypatch.setattr(Settings, "from_env", classmethod(from_env))
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    assert _run(lambda: None) == EXIT_INTERNAL_ERROR
    [log] = temp.glob("tessera_error_*.log")
    assert str(log) in _one_line(capsys)
    assert "from_env" in log.read_text()
    assert not artifacts.exists()


# -- errors meant for a person -----------------------------------------------------------------


class _WrongKeyError(DbtError, KeyError):
    """A project error that is also a KeyError: still meant for a person."""


@pytest.mark.parametrize(
    "exc, line",
    [
        (DbtError("dbt build failed: 2 errors"), "DbtError: dbt build failed: 2 errors"),
        (_WrongKeyError("no such sync"), "_WrongKeyError: 'no such sync'"),
        (
            FileNotFoundError(2, "No such file or directory", "segments/x.yml"),
            "FileNotFoundError: [Errno 2] No such file or directory: 'segments/x.yml'",
        ),
        (ValueError("TESSERA_THREADS must be a number"), "ValueError: TESSERA_THREADS must be"),
        (
            duckdb.IOException("IO Error: Cannot open file"),
            "IOException: IO Error: Cannot open file",
        ),
        # Brackets in a message are text, not console markup (they were swallowed, or crashed).
        (DbtError("column [customer_id] [/x] missing"), "DbtError: column [customer_id] [/x]"),
    ],
)
def test_an_error_meant_for_a_person_is_one_line_and_exit_1(
    artifacts: Path, capsys: pytest.CaptureFixture[str], exc: Exception, line: str
) -> None:
    assert _run(_raise(exc)) == 1
    assert _one_line(capsys).startswith(line)
    assert not (artifacts / "logs").exists()


def test_ctrl_c_is_still_one_line_and_exit_130(
    artifacts: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(_raise(KeyboardInterrupt())) == 130
    assert _one_line(capsys) == "Interrupted: `tessera boom` stopped. Run it again to continue."
    assert not (artifacts / "logs").exists()


# -- the same, as a process ------------------------------------------------------------------

_SCRIPT = textwrap.dedent(
    """
    import argparse, sys
    from tessera.cli import run
    from tessera.dbt import DbtError

    def crash_on_a_bug(args, settings):
        return {}["segment_id"]

    def refuse(args, settings):
        raise DbtError("dbt build failed")

    parser = argparse.ArgumentParser(prog="tessera")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("bug").set_defaults(func=crash_on_a_bug)
    sub.add_parser("refuse").set_defaults(func=refuse)
    sys.exit(run(parser))
    """
)


@pytest.mark.parametrize("command, status", [("bug", 70), ("refuse", 1)])
def test_the_process_exits_with_the_status_and_no_traceback_on_the_terminal(
    tmp_path: Path, command: str, status: int
) -> None:
    artifacts = tmp_path / "artifacts"
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, command],
        env={
            **os.environ,
            "TESSERA_WAREHOUSE": str(tmp_path / "w.duckdb"),
            "TESSERA_ARTIFACTS": str(artifacts),
            "COLUMNS": "60",  # a narrow terminal: the line stays whole
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == status, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    [line] = done.stdout.strip().splitlines()
    logs = _error_logs(artifacts)
    if command == "bug":
        assert line.startswith("internal error: KeyError: 'segment_id'")
        [log] = logs
        assert str(log) in line
        assert "crash_on_a_bug" in log.read_text()
    else:
        assert line == "DbtError: dbt build failed"
        assert logs == []


# -- dates on the command line -------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "option", "text"),
    [
        (["ml", "score", "--as-of", "2024-13-01"], "--as-of", "2024-13-01"),
        (["ml", "train", "--as-of", "2024-02-30"], "--as-of", "2024-02-30"),
        (["ml", "evaluate", "--cutoff", "01/02/2024"], "--cutoff", "01/02/2024"),
        (["datagen", "--end-date", "yesterday"], "--end-date", "yesterday"),
    ],
)
def test_a_date_option_that_is_not_a_date_says_how_to_write_one(
    artifacts: Path, capsys: pytest.CaptureFixture[str], argv: list[str], option: str, text: str
) -> None:
    from orchestration.cli import main

    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {option}: {text!r} is not a date; write it as YYYY-MM-DD" in err, err
    assert "fromisoformat" not in err and "Traceback" not in err
    assert not (artifacts.parent / "w.duckdb").exists()  # nothing ran


def test_date_options_take_yyyy_mm_dd() -> None:
    from datetime import date

    from orchestration.cli import build_parser, parse

    parser = build_parser()
    assert parse(parser, ["ml", "score", "--as-of", "2024-02-29"]).as_of == date(2024, 2, 29)
    assert parse(parser, ["ml", "evaluate", "--cutoff", " 2025-01-31"]).cutoff == date(2025, 1, 31)
    assert parse(parser, ["datagen", "--end-date", "2026-12-06"]).end_date == date(2026, 12, 6)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["datagen", "--seed", "-1"], "argument --seed: -1 as a seed: use 0 to"),
        (["datagen", "--seed", "9" * 23], "argument --seed: 999"),
        (["datagen", "--persons", "0"], "argument --persons: 0 persons: use 1 to 100,000,000"),
        (["datagen", "--days", "0"], "argument --days: 0 days: use 1 to 36,500"),
        (["datagen", "--end-date", "0001-01-01"], "'0001-01-01': use a date from 1900 to 2999"),
        (["demo", "--persons", "-5"], "argument --persons: -5 persons: use 1 to"),
        (["identity", "evaluate", "--min-precision", "nan"], "nan: use a share from 0 to 1"),
        (["identity", "evaluate", "--min-recall", "-1"], "-1: use a share from 0 to 1"),
        (["identity", "evaluate", "--max-cluster", "-3"], "-3 identifiers: use 1 to"),
        (["ml", "cluster", "--k", "1"], "argument --k: 1 clusters: use 2 to 1,000"),
        (["sync", "errors", "x", "--limit", "9" * 23], "rows: use 0 to 1,000,000,000"),
        (["sync", "run", "x", "--stop-timeout", "-5"], "-5: use 0 to 86400 seconds"),
        (["sync", "run", "x", "--stop-timeout", "nan"], "nan: use 0 to 86400 seconds"),
    ],
)
def test_a_number_out_of_range_is_refused_before_anything_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    """`datagen --seed -1` emptied an existing warehouse's raw tables, then failed with
    `ValueError: expected non-negative integer`; huge counts failed inside DuckDB."""
    from orchestration.cli import main

    warehouse = tmp_path / "w.duckdb"
    with duckdb.connect(str(warehouse)) as conn:
        conn.execute("create schema raw; create table raw.orders as select 1 as order_id")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("TESSERA_WAREHOUSE", str(warehouse))
        with pytest.raises(SystemExit) as exited:
            main(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err, err
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        assert conn.execute("select count(*) from raw.orders").fetchone() == (1,)


# -- YAML given on the command line or in dbt_project.yml ---------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        # was dbt's error after a whole parse, inside a 200-character dbt command line
        (["build", "--vars", "{a: [}"], "argument --vars: not valid YAML at line 1, column 6"),
        # PyYAML kept the last silently
        (["build", "--vars", "{as_of: 2026-01-01, as_of: 2025-01-01}"], "'as_of' appears twice"),
        (["build", "--vars", "{as_of: 2026-02-30}"], "'2026-02-30' is not a date"),
        (["build", "--vars", "[as_of]"], "give a mapping of var names to values"),
        (["sources", "check", "--vars", "{a: 1"], "argument --vars: not valid YAML at line 1"),
    ],
)
def test_vars_that_dbt_would_refuse_are_refused_before_anything_runs(
    artifacts: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    from orchestration.cli import main

    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err, err
    assert not (artifacts / "logs").exists()  # dbt never started


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        # an unclosed bracket: PyYAML stops lines later; where it began is named too
        (
            "  default_phone_region: US\n",
            "  default_phone_region: [US\n",
            "a flow sequence that began at line {line}, column 25",
        ),
        # the second value silently won
        (
            "  identity_lookback_days: 30\n",
            "{old}  identity_lookback_days: 3\n",
            "key 'identity_lookback_days' appears twice in one mapping (first on line {line})",
        ),
    ],
)
def test_a_broken_dbt_project_file_is_a_setting_error_with_its_place(
    tmp_path: Path, old: str, new: str, problem: str
) -> None:
    """`tessera build` blamed line 1 of the first segment for a syntax error in
    dbt_project.yml; `sources check` and `ml train` printed PyYAML's five lines without the
    file's name; a var written twice silently took the second value."""
    from tessera.settings import DBT_PROJECT_DIR, SettingsError, check_dbt_project_file

    text = (DBT_PROJECT_DIR / "dbt_project.yml").read_text()
    line = text[: text.index(old)].count("\n") + 1
    (tmp_path / "dbt_project.yml").write_text(text.replace(old, new.format(old=old), 1))
    check_dbt_project_file(DBT_PROJECT_DIR)  # the project's own file is read strictly
    with pytest.raises(SettingsError) as raised:
        check_dbt_project_file(tmp_path)
    message = str(raised.value)
    assert re.match(rf"{re.escape(str(tmp_path))}/dbt_project.yml:\d+:\d+: not valid YAML", message)
    assert problem.format(line=line) in message and "\n" not in message, message


def test_an_option_before_the_command_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    """`tessera --persons 5` said only that a command was required."""
    from orchestration.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["--persons", "5", "datagen"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "unrecognized arguments: --persons (options go after the command" in err, err
