"""Core settings, warehouse client and CLI behaviour on a real DuckDB file."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import pytest

from orchestration.cli import main
from tessera.settings import Settings, SettingsError
from tessera.warehouse import Warehouse, WarehouseError


def settings_for(path: Path) -> Settings:
    return dataclasses.replace(Settings.from_env({}), warehouse_path=path)


def test_unknown_target_is_named_in_the_error() -> None:
    with pytest.raises(SettingsError, match="TESSERA_TARGET='bigquery'"):
        Settings.from_env({"TESSERA_TARGET": "bigquery"})


@pytest.mark.parametrize("value", ["two", "0", "-1", "1.5", "99999999999999999999"])
def test_threads_that_are_not_a_count_are_a_settings_error(value: str) -> None:
    with pytest.raises(SettingsError, match=f"TESSERA_THREADS='{value}'"):
        Settings.from_env({"TESSERA_THREADS": value})
    assert Settings.from_env({"TESSERA_THREADS": " 3 "}).threads == 3


@pytest.mark.parametrize(
    ("file_name", "character"),
    [
        ("o'brien.duckdb", '"\'"'),
        ('say"hi.duckdb', "'\"'"),
        ("sales;2024.duckdb", "';'"),
        ("shop#1.duckdb", "'#'"),
        ("a\\b.duckdb", "'\\\\'"),
        ("tab\there.duckdb", "'\\t'"),
    ],
)
def test_a_warehouse_file_name_dbt_cannot_use_is_a_settings_error(
    tmp_path: Path, file_name: str, character: str
) -> None:
    """dbt-duckdb writes the catalog name (the file name's stem) into SQL unescaped: each of
    these broke `dbt build` with a parser or catalog error; now it is refused up front."""
    setting = str(tmp_path / file_name)
    with pytest.raises(SettingsError) as err:
        Settings.from_env({"TESSERA_WAREHOUSE": setting})
    message = str(err.value)
    assert message.startswith("TESSERA_WAREHOUSE=") and character in message, message
    assert "rename the file" in message


@pytest.mark.parametrize(
    "file_name", ["acme prod ä.duckdb", "a$b (1),x.duckdb", "ok.a;b.duckdb", "1st.db"]
)
def test_unusual_warehouse_file_names_dbt_can_use_are_accepted(
    tmp_path: Path, file_name: str
) -> None:
    settings = Settings.from_env({"TESSERA_WAREHOUSE": str(tmp_path / file_name)})
    assert settings.warehouse_path == tmp_path / file_name


def test_the_cli_refuses_such_a_file_name_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TESSERA_WAREHOUSE", str(tmp_path / "sales;2024.duckdb"))
    assert main(["datagen", "--persons", "50"]) == 2
    out = capsys.readouterr().out.strip()
    assert "rename the file" in out and "Traceback" not in out
    assert not list(tmp_path.iterdir()), "nothing written"


def test_snowflake_target_lists_every_missing_variable() -> None:
    with pytest.raises(SettingsError) as err:
        Settings.from_env({"TESSERA_TARGET": "snowflake", "SNOWFLAKE_USER": "u"})
    message = str(err.value)
    for name in ("SNOWFLAKE_ACCOUNT", "SNOWFLAKE_DATABASE", "SNOWFLAKE_PASSWORD"):
        assert name in message
    assert "SNOWFLAKE_USER," not in message


def test_snowflake_password_never_renders() -> None:
    settings = Settings.from_env(
        {
            "TESSERA_TARGET": "snowflake",
            "SNOWFLAKE_ACCOUNT": "acme",
            "SNOWFLAKE_USER": "svc",
            "SNOWFLAKE_PASSWORD": "hunter2-secret",
            "SNOWFLAKE_DATABASE": "analytics",
        }
    )
    assert settings.snowflake is not None
    assert "hunter2-secret" not in repr(settings)
    assert "hunter2-secret" not in repr(settings.snowflake)
    assert settings.snowflake.password.get_secret_value() == "hunter2-secret"


def test_snowflake_password_under_dbts_secret_name_is_accepted() -> None:
    settings = Settings.from_env(
        {
            "TESSERA_TARGET": "snowflake",
            "SNOWFLAKE_ACCOUNT": "acme",
            "SNOWFLAKE_USER": "svc",
            "DBT_ENV_SECRET_SNOWFLAKE_PASSWORD": "hunter2-secret",
            "SNOWFLAKE_DATABASE": "analytics",
        }
    )
    assert settings.snowflake is not None
    assert settings.snowflake.password.get_secret_value() == "hunter2-secret"


def test_dbt_sees_secrets_only_under_dbts_secret_names(monkeypatch: pytest.MonkeyPatch) -> None:
    """dbt refuses DBT_ENV_SECRET_* in models and scrubs them from its logs; a credential
    dbt does not need (a destination's token) is not handed to dbt at all."""
    monkeypatch.setenv("SNOWFLAKE_PASSWORD", "hunter2-secret")
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "pat-na1-canary")
    monkeypatch.setenv("META_APP_SECRET", "meta-canary")
    monkeypatch.setenv("SNOWFLAKE_PRIVATE_KEY_PATH", "/keys/rsa.p8")
    env = Settings().dbt_env()
    assert env["DBT_ENV_SECRET_SNOWFLAKE_PASSWORD"] == "hunter2-secret"
    assert "SNOWFLAKE_PASSWORD" not in env
    assert "pat-na1-canary" not in env.values() and "meta-canary" not in env.values()
    assert env["SNOWFLAKE_PRIVATE_KEY_PATH"] == "/keys/rsa.p8"  # a path, which profiles.yml reads


def test_read_only_session_on_missing_file_explains_what_to_do(tmp_path: Path) -> None:
    wh = Warehouse(settings_for(tmp_path / "missing.duckdb"))
    with (
        pytest.raises(WarehouseError, match="does not exist.*tessera datagen"),
        wh.session(read_only=True),
    ):
        pass


def test_write_read_and_stream_round_trip(tmp_path: Path) -> None:
    wh = Warehouse(settings_for(tmp_path / "wh.duckdb"))
    frame = pd.DataFrame({"person_id": [f"p{i}" for i in range(2500)], "score": range(2500)})
    with wh.session() as s:
        assert s.write_df(frame, "ml", "scores", mode="replace") == 2500
        s.write_df(frame.head(10), "ml", "scores", mode="append")
        assert s.scalar("select count(*) from ml.scores") == 2510
        batches = list(s.iter_batches("select * from ml.scores order by score", batch_size=1000))
        assert sum(b.num_rows for b in batches) == 2510
        assert max(b.num_rows for b in batches) <= 1000
        assert s.table_exists("ml", "scores")
        assert [c for c, _ in s.columns("ml", "scores")] == ["person_id", "score"]
    with wh.session(read_only=True) as s:
        assert s.df("select sum(score) as total from ml.scores")["total"][0] == sum(
            range(2500)
        ) + sum(range(10))


def test_transaction_rolls_back_on_error(tmp_path: Path) -> None:
    wh = Warehouse(settings_for(tmp_path / "wh.duckdb"))
    with wh.session() as s:
        s.execute("create table t (x integer)")
        with pytest.raises(RuntimeError), s.transaction():
            s.execute("insert into t values (1)")
            raise RuntimeError("boom")
        assert s.scalar("select count(*) from t") == 0


def test_second_writer_gets_a_clear_error(tmp_path: Path) -> None:
    """DuckDB allows one writing process; the error must say so rather than a bare IOException."""
    import subprocess
    import sys

    path = tmp_path / "wh.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb,sys,time; c=duckdb.connect(sys.argv[1]); print('ready', flush=True);"
            " time.sleep(30)",
            str(path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        with (
            pytest.raises(WarehouseError, match="one writing process"),
            Warehouse(settings_for(path)).session(),
        ):
            pass
    finally:
        holder.kill()
        holder.wait()


def test_cli_reports_bad_target_without_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TESSERA_TARGET", "oracle")
    assert main(["build"]) == 2
    assert "not a supported target" in capsys.readouterr().out


@pytest.mark.parametrize("stem", ["identity", "Segments", "profiles", "tessera_sync", "raw"])
def test_a_warehouse_named_like_a_schema_is_refused(tmp_path: Path, stem: str) -> None:
    """DuckDB names the catalog after the file: `identity.duckdb` made every query on
    identity.<table> fail with "Ambiguous reference to catalog or schema"."""
    path = tmp_path / f"{stem}.duckdb"
    with pytest.raises(SettingsError, match=f"{stem!r} is also the name of one of the"):
        Settings.from_env({"TESSERA_WAREHOUSE": str(path)})
    assert Settings.from_env({"TESSERA_WAREHOUSE": str(tmp_path / f"{stem}_wh.duckdb")})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TESSERA_DUCKDB_MEMORY_LIMIT", "banana"),
        ("TESSERA_DUCKDB_MEMORY_LIMIT", "none"),
        ("TESSERA_SYNC_MEMORY_LIMIT", "6 parsecs"),
    ],
)
def test_a_memory_limit_that_is_not_a_size_is_a_settings_error(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=f"{name}='{value}' is not a memory size"):
        Settings.from_env({name: value})
    for good in ("6GB", "512 MiB", "80%"):
        Settings.from_env({name: good})


def test_a_file_where_a_directory_belongs_and_a_bad_port_are_settings_errors(
    tmp_path: Path,
) -> None:
    a_file = tmp_path / "notes.txt"
    a_file.write_text("x")
    for name in ("TESSERA_ARTIFACTS", "TESSERA_SYNC_TEMP_DIR"):
        with pytest.raises(SettingsError, match=f"{name}='{a_file}' is a file"):
            Settings.from_env({name: str(a_file)})
    snowflake = {
        "TESSERA_TARGET": "snowflake",
        "SNOWFLAKE_ACCOUNT": "acme",
        "SNOWFLAKE_USER": "svc",
        "SNOWFLAKE_PASSWORD": "pw",
        "SNOWFLAKE_DATABASE": "analytics",
    }
    for port in ("abc", "0", "70000"):
        with pytest.raises(SettingsError, match=f"SNOWFLAKE_PORT='{port}' is not a port"):
            Settings.from_env({**snowflake, "SNOWFLAKE_PORT": port})
    assert Settings.from_env({**snowflake, "SNOWFLAKE_PORT": "8443"}).snowflake.port == 8443
