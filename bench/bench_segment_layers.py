"""Which defence alone stops each hostile segment, and how long the gate takes.

For every case in tests/segments/hostile_cases.py: the gate (`check_project`, without
dbt's compile) on its own, timed; then `dbt build --select path:models/segments` of that
case alone on a real warehouse (`scale` persons, canaries planted, restored before each
case) with the project in four variants:

- `none`: no defence, the project as before issue 16 (stock table materialization, no
  guard macros, no sandbox);
- `guard`: the dbt guard only (segments run as plain tables in the warehouse instance);
- `sandbox`: the DuckDB sandbox only (guard macros switched off);
- `all`: the project as shipped.

A case is *stopped* by a variant when the build changes nothing outside the case's own
table, puts no canary (raw PII, a file's text, an environment secret) in any segment table,
writes no file and finishes within the timeout. `refused` counts builds that failed.
"""

from __future__ import annotations

import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "segments"))

from hostile_cases import HOSTILE  # noqa: E402
from hostile_harness import (  # noqa: E402
    Pipeline,
    build_pipeline,
    canaries_in_segments,
    changes,
    copy_project,
    put_cases,
    snapshot,
)

from tessera.segments.checks import check_project  # noqa: E402

VARIANTS = ("none", "guard", "sandbox", "all")
CASE_TIMEOUT_SECONDS = 120
GUARD_MACROS = (
    "tessera_guard_node",
    "tessera_guard_segment_run",
    "tessera_refuse_segment",
    "tessera_refuse_segment_unit_test",
)
PLAIN_SEGMENT = """{% materialization segment, adapter='duckdb' %}
    {%- do tessera_guard_segment_run(model) -%}
    {%- set target_relation = this.incorporate(type='table') -%}
    {%- call statement('main') -%}
        create or replace table {{ target_relation }} as (
{{ sql }}
        )
    {%- endcall -%}
    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}"""


def variant_project(source: Path, destination: Path, variant: str) -> Path:
    project = copy_project(destination)
    shutil.copy(source / "canary.txt", project / "canary.txt")
    macros = project / "macros" / "segments"
    if variant in ("none", "sandbox"):
        for file in macros.glob("*.sql"):
            text = file.read_text()
            for name in GUARD_MACROS:
                text = re.sub(
                    r"(\{% macro " + name + r"\([^)]*\) -%\})",
                    r"\1{%- do return(none) -%}",
                    text,
                )
            file.write_text(text)
    if variant in ("none", "guard"):
        file = macros / "materializations.sql"
        text = file.read_text()
        start = text.index("{% materialization segment, adapter='duckdb' %}")
        end = text.index("{% endmaterialization %}", start) + len("{% endmaterialization %}")
        file.write_text(text[:start] + PLAIN_SEGMENT + text[end:])
    if variant == "none":
        config = project / "dbt_project.yml"
        config.write_text(
            config.read_text().replace("+materialized: segment", "+materialized: table")
        )
    return project


def run(scale: int, workdir: Path) -> dict:
    metrics: dict = {"cases": len(HOSTILE)}
    gate = copy_project(workdir / "gate_project")
    seconds = []
    refused = 0
    for case in HOSTILE:
        put_cases(gate, [case])
        started = time.perf_counter()
        result = check_project(gate, compile_with_dbt=False)
        seconds.append(time.perf_counter() - started)
        refused += not result.ok
    metrics["gate_stops"] = refused
    metrics["gate_median_s"] = statistics.median(seconds)
    metrics["gate_max_s"] = max(seconds)

    base = build_pipeline(workdir / "warehouse", scale)
    pristine = base.settings.warehouse_path.with_suffix(".pristine")
    shutil.copy(base.settings.warehouse_path, pristine)
    matrix: dict[str, dict[str, str]] = {}
    for variant in VARIANTS:
        project = variant_project(base.project, workdir / f"project_{variant}", variant)
        pipeline = Pipeline(project=project, settings=base.settings, env=base.env)
        stopped = refused_builds = hangs = 0
        for case in HOSTILE:
            shutil.copy(pristine, base.settings.warehouse_path)
            base.settings.warehouse_path.with_suffix(".duckdb.wal").unlink(missing_ok=True)
            put_cases(project, [case])
            before = snapshot(pipeline)
            try:
                proc = pipeline.dbt(
                    "build", "--select", "path:models/segments", timeout=CASE_TIMEOUT_SECONDS
                )
                failed, hung = proc.returncode != 0, False
            except subprocess.TimeoutExpired:
                failed, hung = True, True
            own = {("segments", case.name), ("segments", f"{case.name}_nested")}
            damage = changes(before, snapshot(pipeline), own) + canaries_in_segments(pipeline)
            outcome = "hang" if hung else ("damage" if damage else "stopped")
            matrix.setdefault(case.id, {})[variant] = outcome + ("/refused" if failed else "")
            stopped += outcome == "stopped"
            refused_builds += failed
            hangs += hung
        put_cases(project, [])
        metrics[f"{variant}_stops"] = stopped
        metrics[f"{variant}_refused"] = refused_builds
        metrics[f"{variant}_hangs"] = hangs
    damaged_without_defence = sorted(c for c, v in matrix.items() if v["none"] != "stopped")
    metrics["damaging_without_defence"] = len(damaged_without_defence)
    (workdir / "layers.json").write_text(
        __import__("json").dumps({"metrics": metrics, "matrix": matrix}, indent=1)
    )
    print(f"layer matrix: {workdir / 'layers.json'}", file=sys.stderr)
    return metrics
