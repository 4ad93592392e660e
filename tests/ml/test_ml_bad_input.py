"""Bad input to `tessera ml ...`: a clear one-line error naming the problem and where, no
traceback (no crash), and nothing lost: champions, registry files and published scores stay.

One trained warehouse per module (synthetic feature tables, purchase_30d trained once); each
test works on its own copy of the warehouse and the artifacts dir.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

import ml.as_of
import ml.registry
from ml.config import MLConfig
from ml.errors import MLError
from ml.pipeline import score_registered, train_and_register
from ml.registry import Registry
from orchestration.cli import main
from tessera.settings import Settings
from tessera.warehouse import Warehouse
from tests.ml.conftest import fast_config, make_settings, write_synthetic

MODEL = "purchase_30d"


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Synthetic tables, purchase_30d trained (champion) and scored once."""
    settings = make_settings(tmp_path_factory.mktemp("ml_bad_input"))
    write_synthetic(settings)
    config = fast_config(bootstrap_rounds=0)
    train_and_register(settings, config, MODEL)
    score_registered(settings, config, MODEL)
    return settings


@pytest.fixture
def copy(trained: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """This test's own copy of the trained warehouse and artifacts, set for the CLI."""
    settings = dataclasses.replace(
        trained,
        warehouse_path=tmp_path / "warehouse.duckdb",
        artifacts_dir=tmp_path / "artifacts",
    )
    shutil.copy(trained.warehouse_path, settings.warehouse_path)
    shutil.copytree(trained.artifacts_dir, settings.artifacts_dir)
    for key, value in cli_env(settings).items():
        monkeypatch.setenv(key, value)
    return settings


def cli_env(settings: Settings) -> dict[str, str]:
    return {
        "TESSERA_TARGET": "duckdb",
        "TESSERA_WAREHOUSE": str(settings.warehouse_path),
        "TESSERA_ARTIFACTS": str(settings.artifacts_dir),
        "TESSERA_THREADS": "1",
        "COLUMNS": "400",  # one line per message
    }


def run_cli(settings: Settings, *args: str) -> subprocess.CompletedProcess:
    """The real CLI in a child process: a crash inside LightGBM shows as a return code."""
    return subprocess.run(
        [sys.executable, "-m", "orchestration.cli", *args],
        env={**os.environ, **cli_env(settings)},
        capture_output=True,
        text=True,
        timeout=300,
    )


def version_dir(settings: Settings) -> Path:
    registry = Registry(settings.artifacts_dir)
    return registry.model_dir(MODEL) / registry.resolve(MODEL, None)


def scores(settings: Settings) -> list[tuple]:
    with Warehouse(settings).session(read_only=True) as session:
        frame = session.df(
            "select model, model_version, count(*) as n, count(distinct person_id) as persons, "
            "round(sum(score), 6) as total from ml.person_scores group by all order by 1"
        )
    return [tuple(row) for row in frame.itertuples(index=False)]


@pytest.mark.parametrize("strip_checksum", [False, True], ids=["checksum", "no-checksum"])
def test_truncated_model_file_is_refused_not_a_crash(copy: Settings, strip_checksum: bool) -> None:
    folder = version_dir(copy)
    if strip_checksum:  # a version saved before the registry recorded checksums
        manifest = json.loads((folder / "manifest.json").read_text())
        manifest.pop("model_sha256", None)
        (folder / "manifest.json").write_text(json.dumps(manifest))
    model = folder / "model.txt"
    model.write_bytes(model.read_bytes()[: model.stat().st_size // 2])
    before = scores(copy)
    done = run_cli(copy, "ml", "score", "--model", MODEL)
    assert done.returncode == 1, (done.returncode, done.stdout, done.stderr)
    assert f"{model} is corrupt" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr
    assert scores(copy) == before


def test_edited_model_file_fails_its_checksum(copy: Settings, capsys) -> None:
    model = version_dir(copy) / "model.txt"
    model.write_text(model.read_text().replace("learning_rate", "learning_rat", 1))
    assert main(["ml", "score", "--model", MODEL]) == 1
    assert "does not match the model_sha256" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{}", "features.json is corrupt: key 'features' is missing"),
        ("[]", "features.json is corrupt: expected a JSON object, got list"),
        ('{"features": 5}', "features.json is corrupt: key 'features' is not a list"),
    ],
)
def test_malformed_features_json_is_named(copy: Settings, capsys, content, message) -> None:
    (version_dir(copy) / "features.json").write_text(content)
    before = scores(copy)
    assert main(["ml", "score", "--model", MODEL]) == 1
    out = capsys.readouterr().out
    assert message in out and "internal error" not in out
    assert scores(copy) == before


def test_features_json_not_matching_the_model_is_refused(copy: Settings, capsys) -> None:
    path = version_dir(copy) / "features.json"
    raw = json.loads(path.read_text())
    numeric = next(f for f in raw["features"] if f not in raw["categorical"])
    raw["features"] = [f for f in raw["features"] if f != numeric]
    path.write_text(json.dumps(raw))
    assert main(["ml", "score", "--model", MODEL]) == 1
    assert "features.json does not match" in capsys.readouterr().out


def test_champion_pointer_without_a_version_is_named(copy: Settings, capsys) -> None:
    pointer = Registry(copy.artifacts_dir).model_dir(MODEL) / "champion.json"
    pointer.write_text("{}")
    assert main(["ml", "score", "--model", MODEL]) == 1
    out = capsys.readouterr().out
    assert "champion.json is corrupt: key 'version'" in out and "internal error" not in out


def test_champion_pointer_to_a_missing_version_is_named(copy: Settings, capsys) -> None:
    pointer = Registry(copy.artifacts_dir).model_dir(MODEL) / "champion.json"
    raw = json.loads(pointer.read_text())
    pointer.write_text(json.dumps({**raw, "version": "20990101T000000Z"}))
    assert main(["ml", "score", "--model", MODEL]) == 1
    assert "names version '20990101T000000Z', which has no model.txt" in capsys.readouterr().out


def test_a_version_is_a_folder_of_its_model_never_a_path(copy: Settings, capsys) -> None:
    """--version ../other_model/V used to score purchase_30d with another model's booster
    and publish it under purchase_30d (rc 0, scores silently wrong)."""
    registry = Registry(copy.artifacts_dir)
    other = registry.model_dir("churn_90d") / "20200101T000000Z"
    shutil.copytree(version_dir(copy), other)  # any foreign model folder
    before = scores(copy)
    escape = "../churn_90d/20200101T000000Z"
    assert main(["ml", "score", "--model", MODEL, "--version", escape]) == 1
    assert f"model {MODEL} has no version {escape!r}" in capsys.readouterr().out
    pointer = registry.model_dir(MODEL) / "champion.json"
    pointer.write_text(json.dumps({**json.loads(pointer.read_text()), "version": escape}))
    assert main(["ml", "score", "--model", MODEL]) == 1
    assert "champion.json is corrupt: key 'version'" in capsys.readouterr().out
    assert scores(copy) == before


def test_training_replaces_an_unreadable_champion(copy: Settings) -> None:
    """A corrupt champion used to make every later training fail after all its work (or crash
    it), so the task could never get a working champion again without hand repairs."""
    registry = Registry(copy.artifacts_dir)
    old = registry.resolve(MODEL, None)
    model = registry.model_dir(MODEL) / old / "model.txt"
    model.write_bytes(model.read_bytes()[:5000])
    outcome = train_and_register(copy, fast_config(bootstrap_rounds=0), MODEL)
    assert outcome.promoted
    assert "cannot be loaded" in outcome.decision["reason"]
    assert registry.resolve(MODEL, None) == outcome.version != old
    registry.load(MODEL)  # the new champion loads
    log = (registry.model_dir(MODEL) / "promotions.jsonl").read_text().splitlines()
    json.loads(log[-1], parse_constant=lambda c: pytest.fail(f"{c} in promotions.jsonl"))


def test_a_saved_version_has_model_txt_last_and_a_checksum(copy: Settings) -> None:
    folder = version_dir(copy)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert len(manifest["model_sha256"]) == 64
    assert not (folder / "model.txt.tmp").exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("min_positive: 10\n", "unknown key min_positive (did you mean min_positives?)"),
        ("min_positives: lots\n", "key min_positives: Input should be a valid integer"),
        ("lightgbm: {num_leaf: 3}\n", "unknown key lightgbm.num_leaf (did you mean num_leaves?)"),
        ("score_batch_rows: 0\n", "key score_batch_rows: Input should be greater than 0"),
        ("min_positives: -1\n", "key min_positives: Input should be greater than or equal to 1"),
        ("lightgbm: {learning_rate: 0}\n", "key lightgbm.learning_rate"),
        ("fallback_days: -5\n", "key fallback_days is not an ml setting"),
        ("models: 5\n", "key models must be a list"),
        ("models:\n  - {task: purchase_30d, horizon_days: 0}\n", "models[0].horizon_days"),
        ("cluster_k_min: 5\ncluster_k_max: 3\n", "cluster_k_max 3 is below cluster_k_min 5"),
        ("min_positives: [\n", "ml.yml:2:1: not valid YAML: expected the node content"),
        ("", "holds no settings (empty, or only comments)"),  # ran with every default
        ("# min_positives: 5\n", "holds no settings (empty, or only comments)"),
        (
            "min_positives: 5\nmin_positives: 50\n",
            "ml.yml:2:1: not valid YAML: key 'min_positives'",
        ),
    ],
)
def test_config_mistakes_are_one_line_naming_the_key(tmp_path: Path, text, message) -> None:
    path = tmp_path / "ml.yml"
    path.write_text(text)
    with pytest.raises(MLError) as caught:
        MLConfig.load(path)
    assert message in str(caught.value)
    assert str(path) in str(caught.value)
    assert "\n" not in str(caught.value) and "errors.pydantic.dev" not in str(caught.value)


def test_as_of_outside_the_data_is_refused_before_anything_is_rebuilt() -> None:
    check_as_of = ml.as_of.check_as_of
    span = (date(2024, 12, 7), date(2026, 12, 6))
    check_as_of(date(2026, 12, 7), span)  # the default scoring cutoff
    check_as_of(date(2024, 12, 8), span)
    with pytest.raises(MLError, match="--as-of 2030-01-01 is after the data ends"):
        check_as_of(date(2030, 1, 1), span)
    with pytest.raises(MLError, match="--as-of 2020-01-01 is too early"):
        check_as_of(date(2020, 1, 1), span)
    with pytest.raises(MLError, match="too early"):
        check_as_of(date(2024, 12, 7), span)


def test_artifacts_dir_that_is_a_file_fails_before_training(copy: Settings, tmp_path, capsys):
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("x")
    os.environ["TESSERA_ARTIFACTS"] = str(blocker)  # restored by monkeypatch in `copy`
    for verb in ("train", "score", "evaluate", "cluster"):
        # a settings error since 755c15d: named with its variable, exit 2, nothing runs
        assert main(["ml", verb, "--model", MODEL] if verb != "cluster" else ["ml", verb]) == 2
        out = capsys.readouterr().out
        assert f"TESSERA_ARTIFACTS='{blocker}' is a file" in out, out
        assert "boosting" not in out and "training rows" not in out
    with pytest.raises(MLError, match="is a file"):
        ml.registry.check_artifacts_dir(blocker / "sub")


def test_scoring_twice_keeps_one_row_per_person(copy: Settings) -> None:
    config = fast_config(bootstrap_rounds=0)
    before = scores(copy)
    score_registered(copy, config, MODEL)
    assert scores(copy) == before
    ((model, _version, rows, persons, _total),) = before
    assert model == MODEL and rows == persons


@pytest.mark.parametrize("problem", ["missing", "directory", "not duckdb"])
def test_an_unusable_warehouse_fails_first_in_one_line_before_any_model(
    copy: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys, problem: str
) -> None:
    """`ml score` (and evaluate) used to go model by model, reporting each one's own failure,
    before failing on the warehouse; every ml command now checks it first, with the message
    every other command gives, and touches nothing."""
    path = tmp_path / "elsewhere.duckdb"
    expected = f"WarehouseError: could not open DuckDB warehouse {path}: "
    if problem == "missing":
        expected = f"MissingWarehouseError: DuckDB warehouse {path} does not exist."
    elif problem == "directory":
        path.mkdir()
        expected += "it is a directory"
    else:
        path.write_text("not a database\n")
        expected += "it is not a valid DuckDB database file"
    monkeypatch.setenv("TESSERA_WAREHOUSE", str(path))
    champion = (Registry(copy.artifacts_dir).model_dir(MODEL) / "champion.json").read_text()
    models = ["--model", "churn_90d", "--model", MODEL]  # the first has no champion
    for verb in ("score", "evaluate", "train", "cluster"):
        assert main(["ml", verb, *(models if verb != "cluster" else [])]) == 1, verb
        lines = capsys.readouterr().out.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(expected), (verb, lines)
    assert (Registry(copy.artifacts_dir).model_dir(MODEL) / "champion.json").read_text() == champion
    assert problem != "missing" or not path.exists()  # never created
