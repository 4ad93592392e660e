"""Paths resolve once, against the project root, and dbt, Dagster and syncs get them absolute.

The end-to-end cases run a fresh copy of the project with no TESSERA_* variable set, from a
working directory that is not the project root: what a newcomer does after cloning.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tessera.settings import PROJECT_ROOT, Settings, duckdb_catalog_name, resolve_path
from tests.fresh_project import clean_env, copy_project, run_tessera


def test_defaults_are_absolute_under_the_project_root() -> None:
    settings = Settings.from_env({})
    assert settings.warehouse_path == PROJECT_ROOT / "warehouse" / "tessera.duckdb"
    assert settings.artifacts_dir == PROJECT_ROOT / "artifacts"
    assert settings.syncs_dir == PROJECT_ROOT / "dbt_project" / "syncs"


def test_relative_values_resolve_against_the_project_root_not_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env(
        {
            "TESSERA_WAREHOUSE": "data/../wh/x.duckdb",
            "TESSERA_ARTIFACTS": "out",
            "TESSERA_SYNCS_DIR": "my_syncs",
            "TESSERA_SYNC_TEMP_DIR": "spill",
        }
    )
    assert settings.warehouse_path == PROJECT_ROOT / "wh" / "x.duckdb"
    assert settings.artifacts_dir == PROJECT_ROOT / "out"
    assert settings.syncs_dir == PROJECT_ROOT / "my_syncs"
    assert settings.sync_temp_directory == PROJECT_ROOT / "spill"
    assert resolve_path("~/w.duckdb") == Path.home() / "w.duckdb"
    assert resolve_path(tmp_path / "abs.duckdb") == tmp_path / "abs.duckdb"


def test_child_processes_receive_every_path_absolute() -> None:
    env = Settings.from_env({"TESSERA_WAREHOUSE": "w.duckdb", "TESSERA_SYNC_TEMP_DIR": "t"})
    exported = env.environment()
    for name in (
        "TESSERA_WAREHOUSE",
        "TESSERA_ARTIFACTS",
        "TESSERA_SYNCS_DIR",
        "TESSERA_SYNC_TEMP_DIR",
    ):
        assert Path(exported[name]).is_absolute(), name
    assert env.dbt_env()["TESSERA_WAREHOUSE"] == str(PROJECT_ROOT / "w.duckdb")


@pytest.mark.parametrize(
    "file_name",
    [
        "tessera.duckdb",
        "main.duckdb",
        "Main.duckdb",
        "temp.db",
        "system.duckdb",
        "my.wh.duckdb",
        "my-wh.duckdb",
        ".hidden.duckdb",
    ],
)
def test_catalog_name_is_the_one_duckdb_itself_gives(tmp_path: Path, file_name: str) -> None:
    with duckdb.connect(str(tmp_path / file_name)) as conn:
        (actual,) = conn.execute("select current_database()").fetchone()
    assert duckdb_catalog_name(tmp_path / file_name) == actual


def test_a_clashing_file_name_picks_the_attaching_dbt_output() -> None:
    assert (
        Settings.from_env({"TESSERA_WAREHOUSE": "/w/main.duckdb"}).dbt_target == "duckdb_attached"
    )
    assert Settings.from_env({"TESSERA_WAREHOUSE": "/w/tessera.duckdb"}).dbt_target == "duckdb"


@pytest.fixture(scope="module")
def fresh_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_project(tmp_path_factory.mktemp("fresh") / "tessera")


@pytest.mark.slow
def test_nothing_set_datagen_build_and_dagster_use_the_project_warehouse(
    fresh_project: Path, tmp_path: Path
) -> None:
    """Also issue 20: `tessera build` on a fresh warehouse of generated data builds everything,
    training and scoring on the way, in one command."""
    # From inside dbt_project/, where a relative warehouse path used to land.
    generated = run_tessera(
        fresh_project, "datagen", "--persons", "600", cwd=fresh_project / "dbt_project"
    )
    assert generated.returncode == 0, generated.stdout + generated.stderr
    warehouse = fresh_project / "warehouse" / "tessera.duckdb"
    assert warehouse.exists()

    built = run_tessera(fresh_project, "build", cwd=fresh_project / "dbt_project")
    assert built.returncode == 0, (built.stdout + built.stderr)[-5000:]
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        scored = conn.execute("select distinct model from ml.person_scores order by 1").fetchall()
        segments = conn.execute(
            "select table_name from information_schema.tables where table_schema = 'segments'"
        ).fetchall()
    assert scored == [("churn_90d",), ("purchase_30d",)]
    assert {"likely_buyers_30d", "high_value_churn_risk", "lapsed_vips"} <= {
        name for (name,) in segments
    }

    # Dagster's dbt step, launched from an unrelated directory with nothing set.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    dagster = Path(sys.executable).with_name("dagster")
    selection = ",".join(
        f"staging/{name}"
        for name in ("stg_shop__orders", "stg_shop__order_items", "stg_shop__returns")
    )
    run = subprocess.run(
        [
            str(dagster),
            "asset",
            "materialize",
            "-m",
            "orchestration.definitions",
            "--select",
            selection,
        ],
        cwd=elsewhere,
        env=clean_env(fresh_project),
        capture_output=True,
        text=True,
        timeout=900,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    assert "RUN_SUCCESS" in output
    assert not (fresh_project / "dbt_project" / "warehouse").exists()
    assert not list(elsewhere.iterdir()), "nothing may be written to the working directory"
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        orders = conn.execute("select count(*) from staging.stg_shop__orders").fetchone()[0]
        raw = conn.execute("select count(*) from raw.orders").fetchone()[0]
    assert orders == raw > 0


def test_a_warehouse_named_main_duckdb_builds_and_reads(fresh_project: Path) -> None:
    """DuckDB names main.duckdb's catalog `main_db`; dbt must write relations that every other
    client of the file (Python, the duckdb CLI) can read."""
    env = {"TESSERA_WAREHOUSE": "wh/main.duckdb"}  # relative: resolved against the copy's root
    generated = run_tessera(fresh_project, "datagen", "--persons", "60", **env)
    assert generated.returncode == 0, generated.stdout + generated.stderr
    built = run_tessera(
        fresh_project, "build", "--select", "path:models/staging", cwd=fresh_project.parent, **env
    )
    assert built.returncode == 0, (built.stdout + built.stderr)[-4000:]
    warehouse = fresh_project / "wh" / "main.duckdb"
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        assert conn.execute("select current_database()").fetchone()[0] == "main_db"
        views = conn.execute(
            "select count(*) from information_schema.tables where table_schema = 'staging'"
        ).fetchone()[0]
        orders = conn.execute("select count(*) from staging.stg_shop__orders").fetchone()[0]
        raw = conn.execute("select count(*) from raw.orders").fetchone()[0]
    assert views >= 10
    assert orders == raw > 0
    assert not (fresh_project / "dbt_project" / "wh").exists()
