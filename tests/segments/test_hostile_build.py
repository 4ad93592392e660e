"""Without the checker, a plain `dbt build` of every hostile case changes nothing outside the
case's own table, leaks no canary and writes no file: the dbt guard and the DuckDB sandbox
hold on their own.

One real warehouse per module (hostile_harness.py). Every hostile case the project parses
goes into one plain `dbt build` of the whole project (the guard and the sandbox act per node,
the same whatever the selection: a `--select path:models/segments` build of the same cases
added ~2.5 minutes to the suite and nothing a whole-project build does not show); each case
dbt refuses at parse gets its own plain `dbt build`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from hostile_cases import CANARY_ENV, HOSTILE, VALID, Case
from hostile_harness import (
    REPO_PROJECT,
    Pipeline,
    build_pipeline,
    canaries_in_segments,
    changes,
    put_cases,
    snapshot,
)

from tessera.segments.checks import check_project
from tessera.warehouse import Warehouse

PERSONS = 120
RUN_CASES = [c for c in HOSTILE if c.dbt == "run"]
PARSE_CASES = [c for c in HOSTILE if c.dbt == "parse"]
# Cases whose own table builds, with why that is harmless: only readable data, in its own
# table. Every other case dbt parses must fail in the sandbox or the materialization.
BUILDS_HARMLESSLY = {
    "yml_unit_test_sql_fixture": "its SQL is a plain select; the unit test is refused",
    "yml_seed_config": "properties for a seed that does not exist; its SQL is plain",
    "yml_billion_laughs": "extra top-level keys dbt ignores; its SQL is plain",
    "dialect_nested_comment": "DuckDB reads the raw subquery as part of the comment",
    "dialect_bidi_override": "the override character sits in a comment",
    "res_600_parentheses": "DuckDB evaluates 1 inside 600 parentheses",
    "res_huge_file": "the padding is comments",
    "res_triple_cross_join": "120^3 rows of readable data in its own table",
    "res_join_on_true": "a product of readable relations in its own table",
    "res_comma_join": "a product of readable relations in its own table",
    "res_cte_explosion": "DuckDB materialises CTEs read twice; readable data only",
    "file_subfolder_model": "its own SQL is plain; the nested model fails in the sandbox",
    # DuckDB reads these differently from Snowflake; in DuckDB each is a select on readable data
    "dialect_backslash_quote": "DuckDB reads 'a\\' as a string: all profiles, readable",
    "dialect_dollar_string": "a constant",
    "dialect_escape_string": "a constant",
    "dialect_nul_byte": "a constant with a NUL",
    "dialect_zero_width": "DuckDB skips the character",
    # system views and settings exist in the sandbox too, but describe only the sandbox
    "fn_current_setting": "the sandbox's temp_directory setting, which is empty",
    "rel_cte_forward_reference": "the sandbox's views: select * from __tessera_source_0",
    "rel_cte_scope_duckdb_databases": "the sandbox's in-memory databases, no paths",
    "rel_cte_scope_pg_settings": "the sandbox's settings",
    "rel_duckdb_settings": "the sandbox's settings",
    "rel_information_schema": "the sandbox's catalog: copies of the readable relations",
    # written afresh (the second half of the battery)
    "yml_relationships_to_staging": "its SQL is plain; the test reading staging is refused",
    "rel_duckdb_secrets": "the sandbox lists no secret (persistent secrets are off there)",
    "rel_getvariable": "the sandbox has no variables: null",
    "res_join_on_inequality": "a product of readable relations in its own table",
    "res_join_on_or_true": "a product of readable relations in its own table",
    "res_union_3000": "3000 constant rows and readable data",
    "res_and_chain_5000": "DuckDB evaluates 5000 true conditions",
    "res_nested_functions_900": "DuckDB evaluates abs() 900 deep",
    "file_uppercase_yml": "dbt reads only .yml and .yaml: the .YML file is ignored",
}


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    yield build_pipeline(tmp_path_factory.mktemp("hostile_build"), PERSONS)


# A whole-project build with every case beside it, and each segment starts a sandbox worker
# (importing DuckDB and pyarrow took 2.6 s at a load average of 20 on 2 cores).
@pytest.mark.timeout(2400)
def test_every_parsed_hostile_case_changes_nothing_outside_its_table(pipeline: Pipeline) -> None:
    put_cases(pipeline.project, RUN_CASES)
    try:
        before = snapshot(pipeline)
        proc = pipeline.dbt("build")
        after = snapshot(pipeline)
        statuses = pipeline.statuses()
    finally:
        put_cases(pipeline.project, [])
    own = {("segments", c.name) for c in RUN_CASES} | {
        ("segments", "seg_file_subfolder_model_nested")
    }
    changed = changes(before, after, own)
    assert not changed, "\n".join(changed)
    assert canaries_in_segments(pipeline) == []
    assert proc.returncode != 0  # the hostile nodes fail
    built = sorted(c.id for c in RUN_CASES if statuses.get(c.name) == "success")
    assert [i for i in built if i not in BUILDS_HARMLESSLY] == []
    refused = [c.id for c in RUN_CASES if statuses.get(c.name) in ("error", "skipped")]
    assert len(refused) + len(built) == len(RUN_CASES), statuses
    assert statuses.get("leak") == "error"  # yml_unit_test_sql_fixture's unit test
    results = json.loads((pipeline.project / "target" / "run_results.json").read_text())
    probes = [r["status"] for r in results["results"] if "to_staging_email" in r["unique_id"]]
    assert probes == ["error"]  # the relationships test that would read staging
    # the rest of the project builds around them: this was a real build
    assert statuses.get("lapsed_vips") == "success"
    assert statuses.get("customer_profiles") == "success"
    assert statuses.get("identity_graph") == "success"


def test_each_case_dbt_refuses_at_parse_changes_nothing(pipeline: Pipeline) -> None:
    spec = {
        "project": str(pipeline.project),
        "starters": str(REPO_PROJECT / "models" / "segments"),
        "cases": [{"id": c.id, "files": c.texts()} for c in PARSE_CASES],
    }
    spec_path = pipeline.project.parent / "parse_cases.json"
    out_path = pipeline.project.parent / "parse_results.json"
    spec_path.write_text(json.dumps(spec))
    before = snapshot(pipeline)
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("dbt_builds.py")), str(spec_path)]
        + [str(out_path)],
        cwd=pipeline.project,
        env=pipeline.env,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    changed = changes(before, snapshot(pipeline), set())
    assert not changed, "\n".join(changed)
    results = json.loads(out_path.read_text())
    wrong = {
        case.id: results[case.id]["error"][-400:]
        for case in PARSE_CASES
        if results[case.id]["success"] or case.dbt_says not in results[case.id]["error"]
    }
    assert wrong == {}


def test_a_case_that_hangs_dbt_itself_changes_nothing(pipeline: Pipeline) -> None:
    """dbt renders a model's Jinja when it parses the project, before any project code runs,
    so `{{ 9 ** (9 ** 9) }}` keeps dbt's own renderer busy; nothing is connected yet. dbt
    reaches that model within the 30 s it is given (its start and a whole parse of the project
    take ~8 s on an idle 2-core machine); the power, about 370 million digits, takes far longer."""
    [case] = [c for c in HOSTILE if c.dbt == "hang"]
    put_cases(pipeline.project, [case])
    before = snapshot(pipeline)
    try:
        finished: int | None = pipeline.dbt("build", timeout=30).returncode
    except subprocess.TimeoutExpired:
        finished = None
    finally:
        put_cases(pipeline.project, [])
    assert finished != 0
    changed = changes(before, snapshot(pipeline), set())
    assert not changed, "\n".join(changed)


def test_valid_tricky_segments_pass_every_check_and_build_in_the_sandbox(
    pipeline: Pipeline,
) -> None:
    put_cases(pipeline.project, VALID)
    try:
        with Warehouse(pipeline.settings).session(read_only=True) as session:
            checked = check_project(pipeline.project, columns_from=session)
        assert checked.ok, "\n".join(str(e) for e in checked.errors)
        proc = pipeline.dbt("build", "--select", "path:models/segments")
        statuses = pipeline.statuses()
    finally:
        put_cases(pipeline.project, [])
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert all(statuses[c.name] == "success" for c in VALID)
    with duckdb.connect(str(pipeline.settings.warehouse_path), read_only=True) as con:
        scores = con.execute("select count(*) from segments.seg_ok_person_scores").fetchone()[0]
        other = con.execute("select count(*) from segments.seg_ok_reads_other_segment").fetchone()
        ml = con.execute(
            "select count(*), count(distinct cluster_label), min(predicted_clv_365d) "
            "from segments.seg_ok_ml_lifetime_value_and_clusters"
        ).fetchone()
    assert scores > 0 and other[0] > 0
    assert ml[0] > 0 and ml[1] > 1 and ml[2] > 10  # predicted LTV and clusters, as filtered


@pytest.mark.parametrize(
    ("call", "variable", "refusal"),
    [
        ("env_var", "TESSERA_CANARY_PLAIN", "segments cannot read environment variables"),
        # around the project's env_var; a secret so named is still refused by dbt itself
        (
            "builtins.env_var",
            "DBT_ENV_SECRET_TESSERA_CANARY",
            "Secret env vars are allowed only in profiles.yml",
        ),
    ],
    ids=["plain", "dbt_secret"],
)
def test_a_segment_cannot_print_an_environment_variable(
    pipeline: Pipeline, call: str, variable: str, refusal: str
) -> None:
    """dbt renders a segment's Jinja at parse, before the guard: with dbt's own env_var,
    `log(env_var(...))` would print any variable of dbt's environment. The project's env_var
    refuses in a segment without reading it; DBT_ENV_SECRET_* names (profiles.yml reads the
    Snowflake ones so) are refused by dbt itself and scrubbed from its logs."""
    [case] = [c for c in HOSTILE if c.id == "jinja_log_secret"]
    leak = Case(
        "jinja_log_env", "jinja", case.sql.replace("env_var('HOME')", f"{call}('{variable}')")
    )
    put_cases(pipeline.project, [leak])
    pipeline.env[variable] = CANARY_ENV
    try:
        proc = pipeline.dbt("build", "--select", leak.name)
    finally:
        del pipeline.env[variable]
        put_cases(pipeline.project, [])
    assert proc.returncode != 0
    assert refusal in proc.stdout, proc.stdout[-2000:]
    logs = "".join(f.read_text() for f in (pipeline.project / "logs").glob("*.log"))
    assert CANARY_ENV not in proc.stdout + proc.stderr + logs
