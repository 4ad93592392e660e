"""A dbt process started ahead of its command (tessera/dbt.py PrestartedDbt) that parses the
project while the caller works: the command then runs on that parse, unless it asks for a
project dbt would parse differently (other vars), where it parses for itself."""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from tessera.dbt import PrestartedDbt, run_dbt
from tessera.settings import Settings
from tests.fresh_project import copy_project

PARSE_EVENTS = {"PartialParsingSkipParsing", "PartialParsingEnabled", "UnableToPartialParse"}
LIST_MODELS = ["ls", "--resource-type", "model", "--output", "name"]


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = copy_project(tmp_path_factory.mktemp("prestart"))
    settings = dataclasses.replace(
        Settings(),
        warehouse_path=root / "warehouse.duckdb",
        dbt_project_dir=root / "dbt_project",
        dbt_profiles_dir=root / "dbt_project",
        artifacts_dir=root / "artifacts",
    )
    run_dbt(settings, ["parse"], stream=False)  # the parse cache a first build leaves behind
    return settings


def invocations_since(log: Path, offset: int) -> list[tuple[str, set[str]]]:
    """(dbt command, names of its events) per invocation logged after `offset`."""
    events: dict[str, list[dict]] = {}
    with log.open() as f:
        f.seek(offset)
        for line in f:
            if line.startswith("{"):
                event = json.loads(line)
                events.setdefault(event["info"]["invocation_id"], []).append(event)
    out = []
    for evs in events.values():
        done = next(e for e in evs if e["info"]["name"] == "CommandCompleted")
        out.append((done["data"]["command"].split()[-1], {e["info"]["name"] for e in evs}))
    return out


def list_models(settings: Settings, *extra: str) -> list[tuple[str, set[str]]]:
    """`dbt ls` (with `extra` flags) through a dbt prestarted to parse without vars; the dbt
    invocations it logged."""
    log = settings.dbt_project_dir / "logs" / "dbt.log"
    offset = log.stat().st_size
    prestarted = PrestartedDbt(settings, parse=True)
    run_dbt(
        settings,
        [*LIST_MODELS, *extra],
        console=Console(file=io.StringIO()),
        label="ls",
        prestarted=prestarted,
    )
    return invocations_since(log, offset)


def listed(settings: Settings) -> list[str]:
    """The model names `dbt ls` printed (run_dbt's log of the streamed run)."""
    return (settings.artifacts_dir / "logs" / "dbt_ls.log").read_text().split()


def test_the_command_runs_on_the_project_parsed_while_it_waited(settings: Settings) -> None:
    (parse, parse_events), (command, events) = list_models(settings)
    assert (parse, command) == ("parse", "ls")
    assert "PartialParsingSkipParsing" in parse_events  # the cache, read while it waited
    assert not events & PARSE_EVENTS  # the command parsed nothing itself
    assert "customer_profiles" in listed(settings)


def test_a_command_with_other_vars_parses_for_itself(settings: Settings) -> None:
    invocations = list_models(settings, "--vars", '{"profile_lookback_days": 5}')
    command, events = invocations[-1]
    assert command == "ls" and "UnableToPartialParse" in events  # vars changed: reparsed
    assert "customer_profiles" in listed(settings)
