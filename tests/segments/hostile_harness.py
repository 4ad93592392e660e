"""A real warehouse to attack, and how to tell whether an attack changed anything.

Used by tests/segments/test_hostile_*.py and bench/bench_segment_layers.py: a project copy,
generated raw data with planted canaries (a PII row, a file next to the project, a secret in
the build's environment), the project built once, and snapshots that compare every relation
(tables by content, views by definition) and every file around the project and warehouse.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb
from hostile_cases import CANARY_ENV, CANARY_FILE_TEXT, CANARY_PII, Case

from tessera.datagen import generate
from tessera.dbt import dbt_executable
from tessera.settings import Settings
from tessera.warehouse import Warehouse

REPO_PROJECT = Path(__file__).resolve().parents[2] / "dbt_project"
# The identity models append one row per connected-components iteration to this run log on
# every build, and identity_stats reports from it: changes the project makes on every build,
# whatever the segments do.
RUN_LOGS = frozenset({("identity", "identity_cc_runs"), ("identity", "identity_stats")})


def copy_project(destination: Path) -> Path:
    shutil.copytree(
        REPO_PROJECT, destination, ignore=shutil.ignore_patterns("target", "logs", ".user.yml")
    )
    return destination


def put_cases(project: Path, cases: list[Case]) -> None:
    """The starter segments plus `cases` in models/segments (replacing earlier cases)."""
    folder = project / "models" / "segments"
    shutil.rmtree(folder)
    shutil.copytree(REPO_PROJECT / "models" / "segments", folder)
    for case in cases:
        for file, text in case.texts().items():
            (folder / file).parent.mkdir(parents=True, exist_ok=True)
            (folder / file).write_text(text)


@dataclass
class Pipeline:
    project: Path
    settings: Settings
    env: dict[str, str]
    baseline: dict = field(default_factory=dict)

    def dbt(self, *args: str, timeout: int = 1800) -> subprocess.CompletedProcess:
        return subprocess.run(
            [
                dbt_executable(),
                *args,
                "--project-dir",
                str(self.project),
                "--profiles-dir",
                str(self.project),
            ],
            cwd=self.project,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def statuses(self) -> dict[str, str]:
        results = json.loads((self.project / "target" / "run_results.json").read_text())
        return {r["unique_id"].split(".")[-1]: r["status"] for r in results["results"]}


def build_pipeline(root: Path, persons: int, timeout_seconds: int = 15) -> Pipeline:
    """Generated data with canaries, the project built, scores written, starters built."""
    project = copy_project(root / "project")
    settings = dataclasses.replace(
        Settings.from_env({}),
        warehouse_path=root / "warehouse" / "wh.duckdb",
        artifacts_dir=root / "artifacts",
        dbt_project_dir=project,
        dbt_profiles_dir=project,
    )
    settings.warehouse_path.parent.mkdir(parents=True)
    env = settings.dbt_env()
    env["TESSERA_CANARY"] = CANARY_ENV  # a secret in the build's environment
    # A sandboxed segment that never ends is stopped after this many seconds (default 600;
    # shortened so the unbounded cases end within a test run: each of them waits this long in
    # every build). The slowest case that must finish, 120^3 rows, takes ~1.5 s when idle.
    env["TESSERA_SEGMENT_TIMEOUT_SECONDS"] = str(timeout_seconds)
    generate(
        Warehouse(settings), persons=persons, seed=7, end_date=date(2026, 10, 31), progress=False
    )
    (project / "canary.txt").write_text(CANARY_FILE_TEXT + "\n")
    with Warehouse(settings).session() as session:
        session.execute(
            "insert into raw.crm_contacts select * replace ("
            f"'{CANARY_PII}' as company, 'C-CANARY' as contact_id, 'canary@leak.test' as email,"
            " null as phone, null as external_user_id) from raw.crm_contacts limit 1"
        )
    pipeline = Pipeline(project=project, settings=settings, env=env)
    core = pipeline.dbt("run", "--exclude", "path:models/segments")
    if core.returncode != 0:
        raise RuntimeError(core.stdout[-3000:])
    with Warehouse(settings).session() as session:
        session.execute("create schema if not exists ml")
        session.execute(
            "create table ml.person_scores as select p.person_id, m.model, 'v1' as model_version,"
            " (hash(p.person_id || m.model) % 1000) / 1000.0 as score,"
            " 1 + hash(p.person_id || m.model) % 10 as decile, timestamp '2026-10-31' as scored_at,"
            " 'recency' as reason_1, 'frequency' as reason_2, 'monetary' as reason_3"
            " from identity.persons p cross join (values ('purchase_30d'), ('churn_90d')) m(model)"
        )
        # The shapes ml/lifetime.py and ml/clusters.py publish (their columns, not their fits).
        session.execute(
            "create table ml.person_lifetime_value as select person_id,"
            " 1 + hash(person_id) % 5 as purchase_days,"
            " (hash(person_id || 'alive') % 1000) / 1000.0 as p_alive,"
            " 20 + hash(person_id) % 80 as expected_order_value,"
            " (hash(person_id || 'clv') % 5000) / 10.0 as predicted_clv_365d"
            " from identity.persons"
        )
        session.execute(
            "create table ml.person_clusters as select person_id,"
            " 1 + hash(person_id) % 4 as cluster_id,"
            " ['loyal regulars', 'one-time buyers', 'browsers', 'lapsed']"
            "[(1 + hash(person_id) % 4)::integer]"
            " as cluster_label from identity.persons"
        )
    starters = pipeline.dbt("build", "--select", "path:models/segments")
    if starters.returncode != 0:
        raise RuntimeError(starters.stdout[-3000:])
    pipeline.baseline = snapshot(pipeline)
    return pipeline


def snapshot(pipeline: Pipeline) -> dict:
    """Every relation (tables by content, views by definition) and every file around.

    Floating-point columns are rounded: DuckDB's parallel sums differ in the last bits from
    one rebuild to the next, which is not a change anyone made."""
    state: dict = {"relations": {}, "files": set()}
    with duckdb.connect(str(pipeline.settings.warehouse_path), read_only=True) as con:
        rows = con.execute(
            "select table_schema, table_name, table_type from information_schema.tables"
        ).fetchall()
        columns: dict[tuple[str, str], list[tuple[str, str]]] = {}
        for schema, table, column, kind in con.execute(
            "select table_schema, table_name, column_name, data_type "
            "from information_schema.columns order by ordinal_position"
        ).fetchall():
            columns.setdefault((schema, table), []).append((column, kind))
        views = {
            (schema, name): sql
            for schema, name, sql in con.execute(
                "select schema_name, view_name, sql from duckdb_views() where not internal"
            ).fetchall()
        }
        for schema, name, kind in rows:
            if kind == "VIEW":
                state["relations"][(schema, name)] = ("view", views.get((schema, name)))
                continue
            parts = [
                f'round("{c}", 6)::varchar'
                if t in ("DOUBLE", "FLOAT", "REAL")
                else f'"{c}"::varchar'
                for c, t in columns[(schema, name)]
            ]
            row = f"md5(concat_ws('|', {', '.join(parts)}))"
            digest = con.execute(
                f"select count(*), md5(coalesce(string_agg({row}, '' order by {row}), '')) "
                f'from "{schema}"."{name}"'
            ).fetchone()
            state["relations"][(schema, name)] = ("table", digest)
    for root in (pipeline.project, pipeline.settings.warehouse_path.parent):
        for path in root.rglob("*"):
            if path.is_file() and not {"target", "logs"} & set(path.parts):
                state["files"].add(str(path))
    return state


def changes(before: dict, after: dict, own: set[tuple[str, str]]) -> list[str]:
    """What changed outside `own` relations and the run logs, and which files appeared."""
    found = []
    for key in sorted(set(before["relations"]) | set(after["relations"])):
        if key in own or key in RUN_LOGS:
            continue
        if before["relations"].get(key) != after["relations"].get(key):
            found.append(
                f"{key[0]}.{key[1]}: {before['relations'].get(key)} -> "
                f"{after['relations'].get(key)}"
            )
    new_files = sorted(after["files"] - before["files"])
    found += [f"new file {f}" for f in new_files if not f.endswith(".wal")]
    return found


def canaries_in_segments(pipeline: Pipeline) -> list[str]:
    """Segment tables holding a canary: a raw column no readable relation has, a file's text
    or a secret from the environment."""
    hits = []
    canaries = (CANARY_PII, CANARY_FILE_TEXT, CANARY_ENV)
    with duckdb.connect(str(pipeline.settings.warehouse_path), read_only=True) as con:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_type = 'BASE TABLE' and table_schema = 'segments'"
        ).fetchall()
        for schema, name in tables:
            text = con.execute(
                f"select coalesce(string_agg(t::varchar, '|'), '') from \"{schema}\".\"{name}\" t"
            ).fetchone()[0]
            hits += [f"{schema}.{name} holds {c}" for c in canaries if c in text]
    return hits
