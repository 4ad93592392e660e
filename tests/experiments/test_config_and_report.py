"""Bad experiment YAML fails with file, line, column and key (in Python and in dbt), and the
report of an empty or tiny experiment says so in words instead of crashing."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from tessera.cli import main
from tessera.dbt import DbtError, run_dbt
from tessera.experiments.config import ExperimentConfigError, load_experiments
from tessera.settings import Settings

GOOD = """version: 2
models:
  - name: {segment}
    config:
      meta:
        syncs: [a_sync]
        experiments:
          - name: {name}
            arms: {arms}
            start_date: "2026-01-01"
            outcome: purchase
            window_days: {window}
"""


def write(
    folder: Path,
    name: str = "exp_a",
    arms: str = "{treatment: 90, holdout: 10}",
    window: str = "30",
    segment: str = "seg_a",
    file: str = "seg_a.yml",
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / file
    path.write_text(GOOD.format(name=name, arms=arms, window=window, segment=segment))
    return path


@pytest.mark.parametrize(
    ("arms", "window", "expected"),
    [
        (
            "{treatment: 90, holdout: 20}",
            "30",
            "seg_a.yml:9:19: models[seg_a].config.meta."
            "experiments[0].arms: shares add up to 110, not 100",
        ),
        ("{treatment: 90, control: 10}", "30", "holdout_arm: 'holdout' is not one of the arms"),
        ("{treatment: 100, holdout: 0}", "30", "arms.holdout: share 0 must be a positive number"),
        ("[90, 10]", "30", "arms: must map at least two arm names"),
        (
            "{treatment: 90, holdout: 10}",
            "0",
            "seg_a.yml:12:26: models[seg_a].config.meta."
            "experiments[0].window_days: must be a whole number 1-3650",
        ),
        ("{treatment: 90, holdout: 10}", "thirty", "window_days: must be a whole number"),
    ],
)
def test_invalid_declarations_name_file_line_column_and_key(
    tmp_path: Path, arms: str, window: str, expected: str
) -> None:
    write(tmp_path, arms=arms, window=window)
    with pytest.raises(ExperimentConfigError) as info:
        load_experiments(tmp_path)
    assert expected in str(info.value)
    assert str(tmp_path / "seg_a.yml") in str(info.value)


def test_unknown_keys_missing_keys_and_duplicate_names(tmp_path: Path) -> None:
    path = write(tmp_path)
    path.write_text(path.read_text().replace("outcome: purchase", "outcom: purchase"))
    write(tmp_path, segment="seg_b", file="seg_b.yml")  # same experiment name, another file
    with pytest.raises(ExperimentConfigError) as info:
        load_experiments(tmp_path)
    message = str(info.value)
    assert "experiments[0].outcom: unknown key" in message
    assert "experiments[0].outcome: is required" in message
    # seg_a's experiment is refused, so seg_b's is the only exp_a: no duplicate is claimed
    assert "already declared" not in message
    path.write_text(path.read_text().replace("outcom: purchase", "outcome: purchase"))
    with pytest.raises(
        ExperimentConfigError,
        match=r"seg_b.yml:8: name: experiment 'exp_a' is "
        r"already declared in .*seg_a.yml:8",
    ):
        load_experiments(tmp_path)


def test_the_valid_declaration_loads(tmp_path: Path) -> None:
    write(tmp_path, arms="{email: 45, sms: 45, holdout: 10}")
    (exp,) = load_experiments(tmp_path)
    assert exp.segment == "seg_a" and exp.syncs == ("a_sync",) and exp.salt == "exp_a"
    assert [(a.name, a.bucket_low, a.bucket_high) for a in exp.arms] == [
        ("email", 0, 4500),
        ("sms", 4500, 9000),
        ("holdout", 9000, 10000),
    ]
    assert exp.holdout.name == "holdout" and len(exp.treatments) == 2


def test_dbt_refuses_the_same_declaration_naming_file_and_key(tmp_path: Path) -> None:
    project = tmp_path / "dbt_project"
    shutil.copytree(
        Settings.from_env({}).dbt_project_dir,
        project,
        ignore=shutil.ignore_patterns("target", "logs", ".user.yml"),
    )
    yml = project / "models" / "segments" / "lapsed_vips.yml"
    yml.write_text(
        yml.read_text().replace("{treatment: 70, holdout: 30}", "{treatment: 70, holdout: 40}")
    )
    settings = dataclasses.replace(
        Settings.from_env({}),
        warehouse_path=tmp_path / "wh.duckdb",
        artifacts_dir=tmp_path / "artifacts",
        dbt_project_dir=project,
        dbt_profiles_dir=project,
    )
    with pytest.raises(DbtError) as info:
        run_dbt(settings, ["compile", "--select", "experiment_arms"], stream=False)
    assert (
        "models/segments/lapsed_vips.yml: models[lapsed_vips].config.meta.experiments[0].arms: "
        "shares add up to 110, not 100" in str(info.value)
    )


def test_report_of_an_empty_and_a_tiny_experiment(
    built: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TESSERA_WAREHOUSE", str(built.warehouse_path))
    assert main(["experiments", "report", "exp_future"]) == 0
    out = capsys.readouterr().out
    assert "0 persons assigned" in out and "No one is assigned yet" in out
    assert "2099-01-01" in out

    assert main(["experiments", "report", "exp_tiny_split"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "3 persons assigned" in out
    assert "Too few persons for an interval" in out or "intervals are wide" in out
    assert "Traceback" not in out

    assert main(["experiments", "report", "no_such_experiment"]) == 1
    out = " ".join(capsys.readouterr().out.split())
    assert "no experiment named 'no_such_experiment'" in out and "exp_split" in out

    assert main(["experiments", "list"]) == 0
    out = capsys.readouterr().out
    assert "exp_split" in out and "exp_tiny_split" in out
