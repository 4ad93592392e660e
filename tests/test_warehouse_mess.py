"""What a person's TESSERA_WAREHOUSE can point at, through the real `tessera` script.

Each case: exit 1 with one line naming the file and the problem, no traceback, and the
file (or the missing directory) left exactly as it was.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from tessera.settings import PROJECT_ROOT

TESSERA = Path(sys.executable).with_name("tessera")


def tessera(
    warehouse: str | Path, *args: str, tmp_path: Path, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "TESSERA_WAREHOUSE": str(warehouse),
        "TESSERA_ARTIFACTS": str(tmp_path / "artifacts"),
        "COLUMNS": "400",  # one message, one line
    }
    if "PYTHONPATH" in os.environ:  # to run these against another checkout
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return subprocess.run(
        [str(TESSERA), *args],
        env=env,
        cwd=cwd or tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )


def fingerprint(path: Path) -> tuple[int, str] | None:
    if not path.is_file():
        return None
    return path.stat().st_size, hashlib.sha256(path.read_bytes()).hexdigest()


def duckdb_file(path: Path) -> Path:
    with duckdb.connect(str(path)) as conn:
        conn.execute("create schema raw; create table raw.t as select 1 as x")
    return path


def assert_refused(result: subprocess.CompletedProcess[str], path: Path, *words: str) -> str:
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert "Traceback" not in out and 'File "' not in out, out
    (line,) = [line for line in out.splitlines() if line.startswith("WarehouseError:")]
    assert f"could not open DuckDB warehouse {path}: " in line, line
    for word in words:
        assert word in line, line
    return line


# sources check and sync status: dbt first / the sync layer; segments list: the core.
COMMANDS = [("sources", "check"), ("sync", "status"), ("segments", "list")]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c))
def test_a_sqlite_file_is_named_as_one_and_no_extension_is_fetched(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    path = tmp_path / "w.duckdb"
    with sqlite3.connect(path) as conn:
        conn.execute("create table t (x)")
    before = fingerprint(path)
    started = time.monotonic()
    result = tessera(path, *command, tmp_path=tmp_path)
    assert_refused(result, path, "it is a SQLite database, not a DuckDB database file")
    assert "extension" not in result.stdout + result.stderr
    assert time.monotonic() - started < 60
    assert fingerprint(path) == before


@pytest.mark.parametrize("command", [("sources", "check"), ("segments", "list")], ids=" ".join)
def test_a_directory_is_named_as_one(tmp_path: Path, command: tuple[str, ...]) -> None:
    path = tmp_path / "warehouse"
    path.mkdir()
    result = tessera(path, *command, tmp_path=tmp_path)
    assert_refused(result, path, "it is a directory", str(path / "tessera.duckdb"))
    assert list(path.iterdir()) == []


@pytest.mark.parametrize("command", [("sources", "check"), ("datagen", "--persons", "20")])
def test_an_empty_file_is_named_as_one_and_stays_empty(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    path = tmp_path / "w.duckdb"
    path.touch()
    result = tessera(path, *command, tmp_path=tmp_path)
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert "Traceback" not in out and 'File "' not in out, out
    assert f"{path}: it is an empty file (0 bytes)" in out, out
    assert path.stat().st_size == 0
    assert not path.with_name("w.duckdb.wal").exists()


@pytest.mark.parametrize("command", [("sources", "check"), ("sync", "status")], ids=" ".join)
def test_a_damaged_duckdb_file_names_the_file(tmp_path: Path, command: tuple[str, ...]) -> None:
    path = duckdb_file(tmp_path / "w.duckdb")
    with path.open("r+b") as file:  # the header's version: its checksum no longer matches
        file.seek(12)
        file.write((1000).to_bytes(8, "little"))
    before = fingerprint(path)
    result = tessera(path, *command, tmp_path=tmp_path)
    assert_refused(result, path, "the file is damaged")
    assert fingerprint(path) == before


@pytest.fixture
def locked(tmp_path: Path):
    path = duckdb_file(tmp_path / "w.duckdb")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb,sys,time; c=duckdb.connect(sys.argv[1]); print('ready', flush=True);"
            " time.sleep(120)",
            str(path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        yield path, holder.pid
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize("command", [("sources", "check"), ("sync", "status")], ids=" ".join)
def test_a_locked_warehouse_names_the_process_holding_it(
    tmp_path: Path, locked: tuple[Path, int], command: tuple[str, ...]
) -> None:
    path, pid = locked
    line = assert_refused(
        tessera(path, *command, tmp_path=tmp_path), path, f"it is in use: process {pid} ("
    )
    assert "one writing process per file" in line
    assert "Traceback" not in line and "compile --inline" not in line


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write any file")
def test_a_read_only_warehouse_is_refused_before_a_write(tmp_path: Path) -> None:
    path = duckdb_file(tmp_path / "w.duckdb")
    path.chmod(0o444)
    result = tessera(path, "ml", "score", tmp_path=tmp_path)
    assert "the file is read-only for this user" in result.stdout + result.stderr


def test_a_relative_warehouse_says_where_it_was_looked_for(tmp_path: Path) -> None:
    here = duckdb_file(tmp_path / "mine_relative_probe.duckdb")
    result = tessera("./mine_relative_probe.duckdb", "sync", "status", tmp_path=tmp_path)
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert "is relative, so it is taken from the project root" in out, out
    assert f"to use {here}, set TESSERA_WAREHOUSE to that absolute path" in out, out


def test_a_path_with_spaces_and_accents_works(tmp_path: Path) -> None:
    folder = tmp_path / "my wärehouse ✓"
    folder.mkdir()
    path = duckdb_file(folder / "Tessera wäre 1.duckdb")
    result = tessera(path, "sync", "status", tmp_path=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_missing_directory_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "w.duckdb"
    result = tessera(path, "sync", "status", tmp_path=tmp_path)
    assert result.returncode == 1
    assert f"DuckDB warehouse {path} does not exist" in result.stdout + result.stderr
    assert not path.parent.exists()


def test_a_reader_holding_the_warehouse_is_named_when_dbt_cannot_write_it(
    tmp_path: Path,
) -> None:
    """A read-only holder lets Tessera's own check through, but not dbt, which writes: dbt's
    failure names the file and the process, not dbt's traceback."""
    path = duckdb_file(tmp_path / "w.duckdb")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb,sys,time; c=duckdb.connect(sys.argv[1], read_only=True);"
            " print('ready', flush=True); time.sleep(120)",
            str(path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        result = tessera(path, "sources", "check", tmp_path=tmp_path)
    finally:
        holder.kill()
        holder.wait()
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert "Traceback" not in out and 'File "' not in out and "^^^" not in out, out
    assert f"could not open DuckDB warehouse {path}: it is in use: process {holder.pid} (" in out


# -- the file datagen and demo write -----------------------------------------------------------


def test_datagen_names_the_file_it_wrote_and_that_a_relative_path_is_from_the_project_root(
    tmp_path: Path,
) -> None:
    """A relative TESSERA_WAREHOUSE is taken from the project root, not the working directory:
    datagen says so, with the absolute path, in one line (here the relative path climbs out of
    the project into tmp_path, so the test writes nothing into the checkout)."""
    target = tmp_path / "gen" / "my.duckdb"
    relative = os.path.relpath(target, PROJECT_ROOT)
    result = tessera(relative, "datagen", "--persons", "20", "--days", "60", tmp_path=tmp_path)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert target.is_file() and not (tmp_path / relative).exists()
    (line,) = [line for line in out.splitlines() if line.startswith("Wrote the warehouse: ")]
    assert line.startswith(f"Wrote the warehouse: {target} (TESSERA_WAREHOUSE={relative} ")
    assert f"is relative, so it is taken from the project root {PROJECT_ROOT}" in line

    absolute = tmp_path / "abs.duckdb"
    result = tessera(absolute, "datagen", "--persons", "20", "--days", "60", tmp_path=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Wrote the warehouse: {absolute}\n" in result.stdout
    assert "relative" not in result.stdout


def test_demo_names_the_file_it_writes_before_its_first_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`tessera demo` through its CLI entry point, with its real first step (datagen into a
    real DuckDB file) and none of the later ones (dbt, ML, syncs: other tests run those)."""
    import orchestration.demo as demo
    from orchestration.cli import main
    from tessera.cli import console

    target = tmp_path / "demo" / "my.duckdb"
    relative = os.path.relpath(target, PROJECT_ROOT)
    monkeypatch.setenv("TESSERA_WAREHOUSE", relative)
    monkeypatch.setenv("TESSERA_ARTIFACTS", str(tmp_path / "artifacts"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(console, "width", 100)
    monkeypatch.setattr(
        demo, "demo_steps", lambda: [demo.DemoStep("Generate demo data", demo.generate_data)]
    )
    assert main(["demo", "--persons", "20"]) == 0
    out = capsys.readouterr().out
    assert target.is_file()
    (first, last) = [line for line in out.splitlines() if "warehouse: " in line.lower()]
    where = f"{target} (TESSERA_WAREHOUSE={relative} is relative, so it is taken from the project "
    assert first.startswith(f"Demo warehouse: {where}"), first
    assert last.startswith(f"Warehouse: {where}"), last
    assert out.index(first) < out.index("Rows per source table")
