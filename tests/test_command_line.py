"""The `tessera` command line: flags passed to dbt, missing warehouses refused alike, the demo
replacing only a warehouse it created, and dbt's structured log read into a summary."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest
from rich.console import Console

from orchestration.build import BuildRequest, score_readers_in_manifest
from orchestration.cli import build_parser, main, parse
from orchestration.demo import DemoError, run_demo
from tessera.dbt import DbtUsageError, run_dbt, shown_args
from tessera.dbt_events import DbtEvent, DbtSummary, DbtTally
from tessera.generated import MARKER_SCHEMA, MARKER_TABLE
from tessera.settings import Settings


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A warehouse path that does not exist, and artifacts in tmp."""
    warehouse = tmp_path / "missing" / "warehouse.duckdb"
    monkeypatch.setenv("TESSERA_WAREHOUSE", str(warehouse))
    monkeypatch.setenv("TESSERA_ARTIFACTS", str(tmp_path / "artifacts"))
    monkeypatch.setenv("HUBSPOT_PRIVATE_APP_TOKEN", "not-used")
    return warehouse


def _flat(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize(
    "argv",
    [
        ["build"],
        ["build", "--select", "path:models/staging"],
        ["sync", "plan", "hubspot_lapsed_vips"],
        ["sync", "run", "hubspot_lapsed_vips"],
        ["sync", "status"],
        ["identity", "stats"],
        ["segments", "preview", "lapsed_vips"],
        ["segments", "refresh"],
        ["ml", "train", "--model", "purchase_30d"],
    ],
)
def test_a_missing_warehouse_is_refused_with_one_message_and_never_created(
    env: Path, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 1
    out = _flat(capsys.readouterr().out)
    assert f"DuckDB warehouse {env} does not exist." in out
    assert "`tessera demo`" in out and "`tessera datagen`" in out
    assert "Traceback" not in out
    assert not env.exists() and not env.parent.exists()


def test_build_passes_dbt_flags_through_without_double_dash() -> None:
    args = parse(
        build_parser(),
        [
            "build",
            "--exclude",
            "a",
            "b",
            "--vars",
            "{as_of: '2026-01-01'}",
            "--threads",
            "1",
            "-s",
            "tag:x",
            "--fail-fast",
            "--full-refresh",
        ],
    )
    request = BuildRequest(
        select=tuple(args.select),
        exclude=tuple(args.exclude),
        full_refresh=args.full_refresh,
        vars=args.vars,
        dbt_args=tuple(args.dbt_args),
    )
    assert request.args() == [
        "build",
        "--select",
        "tag:x",
        "--indirect-selection",
        "buildable",
        "--exclude",
        "a",
        "b",
        "--full-refresh",
        "--vars",
        "{as_of: '2026-01-01'}",
        "--exclude-resource-type",
        "unit_test",
        "--threads",
        "1",
        "--fail-fast",
    ]
    # unit tests (SQL logic on fixed inputs, run by CI) only when asked for
    assert BuildRequest(select=("test_type:unit",)).args() == [
        "build",
        "--select",
        "test_type:unit",
        "--indirect-selection",
        "buildable",
    ]
    # the user's own choice of indirect selection wins
    assert (
        "buildable"
        not in BuildRequest(select=("x",), dbt_args=("--indirect-selection", "eager")).args()
    )
    # the score readers of that selection: dbt's intersection of each selector with them
    assert request.score_readers() == ["tag:x,source:ml+"]
    assert request.args(exclude=["source:ml+"])[6:9] == ["a", "b", "source:ml+"]
    # a lone `--` (the old way) is still accepted and dropped
    assert parse(build_parser(), ["build", "--", "--threads", "1"]).dbt_args == ["--threads", "1"]


def test_other_commands_still_refuse_unknown_flags(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse(build_parser(), ["datagen", "--persons", "10", "--exclude", "x"])
    assert exited.value.code == 2
    assert "unrecognized arguments: --exclude x" in capsys.readouterr().err


def test_score_readers_are_found_downstream_of_the_ml_source() -> None:
    manifest = {
        "sources": {"source.tessera.ml.person_scores": {"source_name": "ml"}},
        "nodes": {
            "model.tessera.profiles": {"name": "profiles", "resource_type": "model"},
            "model.tessera.likely": {
                "name": "likely",
                "resource_type": "model",
                "depends_on": {"nodes": ["source.tessera.ml.person_scores"]},
            },
            "model.tessera.of_likely": {
                "name": "of_likely",
                "resource_type": "model",
                "depends_on": {"nodes": ["model.tessera.likely", "model.tessera.profiles"]},
            },
            "test.tessera.unique_likely": {
                "name": "unique_likely",
                "resource_type": "test",
                "depends_on": {"nodes": ["model.tessera.likely"]},
            },
        },
    }
    assert score_readers_in_manifest(manifest) == ["likely", "of_likely"]


# -- the demo's warehouse ------------------------------------------------------------------


def _settings(warehouse: Path) -> Settings:
    return Settings.from_env(
        {"TESSERA_WAREHOUSE": str(warehouse), "TESSERA_ARTIFACTS": str(warehouse.parent / "a")}
    )


def _tables(warehouse: Path) -> set[str]:
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        rows = conn.execute(
            "select table_schema || '.' || table_name from information_schema.tables"
        ).fetchall()
    return {name for (name,) in rows}


def test_the_demo_refuses_a_warehouse_it_did_not_create(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    users = tmp_path / "users.duckdb"
    with duckdb.connect(str(users)) as conn:
        conn.execute("create schema raw; create table raw.orders as select 1 as order_id")
    monkeypatch.setenv("TESSERA_WAREHOUSE", str(users))
    assert main(["demo", "--persons", "20"]) == 1
    out = _flat(capsys.readouterr().out)
    assert (
        f"{users} already exists and it was not created by `tessera demo` or `tessera datagen`"
        in out
    )
    assert "tessera demo --force" in out
    assert _tables(users) == {"raw.orders"}

    not_duckdb = tmp_path / "notes.duckdb"
    not_duckdb.write_text("my notes, not a database\n")
    monkeypatch.setenv("TESSERA_WAREHOUSE", str(not_duckdb))
    assert main(["demo", "--persons", "20"]) == 1
    assert "tessera demo --force" in _flat(capsys.readouterr().out)
    assert not_duckdb.read_text() == "my notes, not a database\n"


def test_the_demo_replaces_its_own_warehouse_and_a_forced_one(tmp_path: Path) -> None:
    warehouse = tmp_path / "demo.duckdb"
    console = Console(record=True, width=200)
    assert run_demo(_settings(warehouse), persons=20, seed=1, console=console, steps=[]) == 0
    marker = f"{MARKER_SCHEMA}.{MARKER_TABLE}"
    assert _tables(warehouse) == {marker}
    with duckdb.connect(str(warehouse)) as conn:
        conn.execute("create schema raw; create table raw.leftover as select 1 as x")
    # its own: replaced without asking
    assert run_demo(_settings(warehouse), persons=20, seed=1, console=console, steps=[]) == 0
    assert _tables(warehouse) == {marker}
    assert "Replacing the demo warehouse" in console.export_text()

    foreign = tmp_path / "foreign.duckdb"
    with duckdb.connect(str(foreign)) as conn:
        conn.execute("create table t as select 1 as x")
    with pytest.raises(DemoError, match="--force"):
        run_demo(_settings(foreign), persons=20, seed=1, console=console, steps=[])
    assert _tables(foreign) == {"main.t"}
    assert run_demo(_settings(foreign), 20, 1, console, force=True, steps=[]) == 0
    assert _tables(foreign) == {marker}


def test_datagen_never_overwrites_raw_tables_it_did_not_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    company = tmp_path / "company.duckdb"
    with duckdb.connect(str(company)) as conn:
        conn.execute("create schema raw; create table raw.orders as select 7 as order_id")
    monkeypatch.setenv("TESSERA_WAREHOUSE", str(company))
    monkeypatch.setenv("TESSERA_ARTIFACTS", str(tmp_path / "artifacts"))
    assert main(["datagen", "--persons", "20"]) == 1
    assert "tessera datagen --force" in _flat(capsys.readouterr().out)
    with duckdb.connect(str(company), read_only=True) as conn:
        assert conn.execute("select * from raw.orders").fetchall() == [(7,)]
    # forced: replaced, and from then on datagen knows raw is its own
    assert main(["datagen", "--persons", "20", "--force"]) == 0
    assert main(["datagen", "--persons", "20"]) == 0


def test_datagen_marks_what_it_generated_and_the_demo_replaces_only_whole_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TESSERA_ARTIFACTS", str(tmp_path / "artifacts"))
    # `make ui` before `make demo`: datagen created the file, so the demo may replace it
    created = tmp_path / "created.duckdb"
    monkeypatch.setenv("TESSERA_WAREHOUSE", str(created))
    assert main(["datagen", "--persons", "20"]) == 0
    console = Console(record=True, width=200)
    assert run_demo(_settings(created), persons=20, seed=1, console=console, steps=[]) == 0
    # raw generated into a company's file that had no raw schema: the file is still theirs
    theirs = tmp_path / "theirs.duckdb"
    with duckdb.connect(str(theirs)) as conn:
        conn.execute("create schema analytics; create table analytics.kpis as select 1 as x")
    monkeypatch.setenv("TESSERA_WAREHOUSE", str(theirs))
    assert main(["datagen", "--persons", "20"]) == 0
    assert "analytics.kpis" in _tables(theirs)
    with pytest.raises(DemoError, match="--force"):
        run_demo(_settings(theirs), persons=20, seed=1, console=console, steps=[])
    assert "analytics.kpis" in _tables(theirs)


# -- dbt's structured log ------------------------------------------------------------------


def _line(name: str, msg: str, level: str = "info", **data: object) -> str:
    return json.dumps({"info": {"name": name, "level": level, "msg": msg}, "data": data})


def test_dbt_events_drive_progress_and_collect_warnings() -> None:
    tally = DbtTally()
    lines = [
        _line("MainReportVersion", "Running with dbt=1.11.16"),
        _line(
            "LogStartLine",
            "1 of 3 START sql view model staging.a",
            index=1,
            total=3,
            node_info={"node_name": "a"},
        ),
        _line("LogModelResult", "1 of 3 OK created sql view model staging.a", index=1, total=3),
        _line(
            "LogStartLine",
            "2 of 3 START test not_null_a",
            index=2,
            total=3,
            node_info={"node_name": "not_null_a"},
        ),
        _line("LogTestResult", "2 of 3 WARN 1 not_null_a", index=2, total=3),
        _line("SkippingDetails", "3 of 3 SKIP relation b", index=3, total=3),
        _line("DeprecationWarning", "a config key is deprecated", level="warn"),
        "a line some library printed, not JSON",
    ]
    for line in lines:
        tally.record(DbtEvent.parse(line))
    assert (tally.done, tally.total, tally.current) == (3, 3, "not_null_a")
    assert tally.warnings == ["a config key is deprecated"]
    assert DbtEvent.parse(lines[-1]).message == lines[-1]


def test_dbt_refusing_its_arguments_says_why_in_one_short_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`tessera build --threads x`: dbt's click refuses the flag before it logs anything,
    on a plain stderr line. The DbtError carried no reason, and every one of the ~44 tests
    the build leaves out was spelt out in it; then it was one line, but exit 1 with dbt's
    whole command line, where a command line refused is exit 2."""
    warehouse = tmp_path / "w.duckdb"
    duckdb.connect(str(warehouse)).close()
    settings = dataclasses.replace(
        Settings.from_env({}), warehouse_path=warehouse, artifacts_dir=tmp_path / "art"
    )
    left_out = [f"not_null_model_{i}_id" for i in range(40)]
    with pytest.raises(DbtUsageError) as error:
        run_dbt(
            settings,
            ["build", "--exclude", *left_out, "--threads", "x"],
            console=Console(file=io.StringIO()),
        )
    assert str(error.value) == "Invalid value for '--threads': 'x' is not a valid integer."
    shown = " ".join(shown_args(["build", "--exclude", *left_out, "--threads", "x"]))
    assert "not_null_model_3_id ... (36 more) --threads x" in shown  # other failures' messages

    monkeypatch.setenv("TESSERA_WAREHOUSE", str(warehouse))
    monkeypatch.setenv("TESSERA_ARTIFACTS", str(tmp_path / "art"))
    assert main(["build", "--select", "stg_shop__orders", "--bogus-flag"]) == 2
    err = capsys.readouterr().err
    assert "tessera build: error: dbt build: No such option '--bogus-flag'" in err, err
    assert "failed (exit" not in err and "Traceback" not in err


def test_dbt_summary_counts_nodes_tests_and_warnings() -> None:
    results = [
        {"unique_id": "model.tessera.a", "status": "success"},
        {"unique_id": "model.tessera.b", "status": "success"},
        {"unique_id": "test.tessera.t1", "status": "pass"},
        {"unique_id": "test.tessera.t2", "status": "warn"},
        {"unique_id": "unit_test.tessera.a.u1", "status": "pass"},
        {"unique_id": "seed.tessera.s", "status": "success"},
    ]
    summary = DbtSummary.from_results(results, log_warnings=1)
    assert summary.line() == "6 nodes, 2 models, 2 of 3 tests passed, 2 warnings"
    assert re.fullmatch(r"[^\x1b]*", summary.line())


# -- Ctrl-C outside dbt ---------------------------------------------------------------------


def test_ctrl_c_while_generating_prints_one_line_and_the_rerun_recovers(tmp_path: Path) -> None:
    """DuckDB turns SIGINT during a query into RuntimeError('Query interrupted'): still one
    line and exit 130, and the next run recreates the raw tables."""
    import os
    import signal
    import subprocess
    import sys
    import time

    env = {
        **os.environ,
        "TESSERA_WAREHOUSE": str(tmp_path / "w.duckdb"),
        "TESSERA_ARTIFACTS": str(tmp_path / "artifacts"),
    }
    command = [sys.executable, "-m", "orchestration.cli", "datagen"]
    big = subprocess.Popen(
        [*command, "--persons", "400000"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not (tmp_path / "w.duckdb").exists():  # generating has begun
            assert big.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        time.sleep(1)
        big.send_signal(signal.SIGINT)
        out, _ = big.communicate(timeout=120)
    finally:
        if big.poll() is None:
            big.kill()
    assert big.returncode == 130, out
    assert "Traceback" not in out
    assert out.strip().splitlines()[-1] == (
        "Interrupted: `tessera datagen` stopped. Run it again to continue."
    )
    again = subprocess.run(
        [*command, "--persons", "50"], env=env, capture_output=True, text=True, timeout=300
    )
    assert again.returncode == 0, again.stdout + again.stderr
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as conn:
        assert conn.execute("select count(*) from truth.persons").fetchone()[0] == 50


# A command that reports whether the process it starts ignores SIGTERM (bit 15 of SigIgn).
_CHILD_SIGTERM = textwrap.dedent(
    """
    import argparse, subprocess, sys
    from tessera.cli import run

    def report(args, settings):
        status = subprocess.run(["cat", "/proc/self/status"], capture_output=True, text=True)
        ignored = next(l for l in status.stdout.splitlines() if l.startswith("SigIgn:"))
        print("child ignores SIGTERM:", bool(int(ignored.split()[1], 16) & (1 << 14)))
        return 0

    parser = argparse.ArgumentParser()
    parser.set_defaults(func=report)
    sys.exit(run(parser, []))
    """
)


def test_processes_a_command_starts_stop_on_sigterm_even_when_it_was_started_ignoring_it(
    tmp_path: Path,
) -> None:
    """Dagster stops its compute-log `tail -F` children with SIGTERM; inherited as ignored
    (a supervisor, a background job) they outlived the demo and held its output pipe open."""
    run = subprocess.run(
        [sys.executable, "-c", _CHILD_SIGTERM],
        preexec_fn=lambda: signal.signal(signal.SIGTERM, signal.SIG_IGN),
        env={**os.environ, "TESSERA_WAREHOUSE": str(tmp_path / "w.duckdb")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "child ignores SIGTERM: False" in run.stdout
