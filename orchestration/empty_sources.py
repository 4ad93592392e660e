"""Data tests that guard nothing on this warehouse: those on staging of contract tables that
no source feeds (issue 20, "small data is quick").

A warehouse with only `raw.orders` builds the staging of every other contract table empty
(`tessera_source()`: the contract's columns, no rows), and dbt would still run some forty
`unique` / `not_null` / `accepted_values` tests on those empty views, ~50 ms of dbt each.
`tessera build` leaves out a test when every model it reads descends only from contract
tables that are built empty, as the sources' resolution (the Python twin of the macro) says
before the build: a source switched off or absent, or a contract table missing from a source
read from its contract tables. Everything else is tested as before, marts, segments and
what syncs read included.

Nothing rests on that reasoning alone: after the build, each model those tests read is asked
for a row, and the tests of any model that has one run then (`dbt test`). So a source that
appears later, even while the build runs, is tested on the first build that reads it.

The graph comes from the project's target path: the last build's manifest, or on a fresh
clone the graph the segment gate's compile leaves there, used only when no file dbt parses is
newer; without one nothing is left out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from tessera.settings import Settings


@dataclass(frozen=True)
class SkippedTests:
    """Tests left out of a build, and the models they read."""

    names: tuple[str, ...] = ()
    # test name -> the models it reads, as (schema, identifier)
    relations: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    sources: tuple[str, ...] = ()  # the absent sources or tables, for the console line

    def __bool__(self) -> bool:
        return bool(self.names)


def empty_source_ids(settings: Settings, manifest: dict) -> tuple[set[str], list[str]]:
    """dbt source ids that the build reads as no rows, and a label per absent source/table."""
    from tessera.sources.adapters import adapters_of
    from tessera.sources.resolve import resolve_all
    from tessera.warehouse import Warehouse

    with Warehouse(settings).session(read_only=True) as session:
        resolutions = resolve_all(session)
    by_name: dict[tuple[str, str], str] = {
        (s["source_name"], s["name"]): uid for uid, s in manifest.get("sources", {}).items()
    }
    empty: set[str] = set()
    labels: list[str] = []

    def mark(source_name: str, table: str | None = None) -> None:
        empty.update(
            uid for (s, t), uid in by_name.items() if s == source_name and table in (None, t)
        )

    for resolution in resolutions:
        if resolution.mode == "adapter":
            continue  # read from a loader's tables: nothing provably empty
        # off, absent or the contract's own tables: no adapter's loader tables are read
        for candidate in adapters_of(resolution.source):
            mark(candidate.dbt_source)
        if resolution.mode in ("off", "absent"):
            mark(resolution.source)
            labels.append(resolution.source)
        else:
            for table in resolution.tables:
                if not table.exists:
                    mark(resolution.source, table.logical)
                    labels.append(f"{resolution.source}.{table.logical}")
    return empty, labels


def tests_on_empty_models(
    manifest: dict, empty_sources: set[str]
) -> dict[str, list[tuple[str, str]]]:
    """Tests (name -> relations read) whose every model descends from empty sources only."""
    nodes = manifest.get("nodes", {})
    verdict: dict[str, bool] = {}

    def only_empty(uid: str) -> bool:
        if uid in verdict:
            return verdict[uid]
        verdict[uid] = False  # a cycle (none in dbt) or an unknown node: not empty
        if uid.startswith("source."):
            verdict[uid] = uid in empty_sources
            return verdict[uid]
        node = nodes.get(uid)
        if node is None or node.get("resource_type") != "model":
            return False
        parents = node.get("depends_on", {}).get("nodes", [])
        verdict[uid] = bool(parents) and all(only_empty(p) for p in parents)
        return verdict[uid]

    out: dict[str, list[tuple[str, str]]] = {}
    for node in nodes.values():
        if node.get("resource_type") != "test":
            continue
        parents = node.get("depends_on", {}).get("nodes", [])
        if parents and all(p.startswith("model.") and only_empty(p) for p in parents):
            out[node["name"]] = [
                (nodes[p]["schema"], nodes[p].get("alias") or nodes[p]["name"]) for p in parents
            ]
    return out


def manifest_if_fresh(project_dir: Path) -> dict | None:
    """The last build's manifest, else the segment gate's graph, whichever is no older than
    every file dbt parses."""
    from tessera.dbt_manifest import manifest_is_stale
    from tessera.segments.compiled import GRAPH_FILE

    for name in ("manifest.json", GRAPH_FILE):
        path = project_dir / "target" / name
        try:
            if path.exists() and not manifest_is_stale(path, project_dir):
                return json.loads(path.read_text())
        except (OSError, ValueError):
            continue
    return None


def tests_to_skip(settings: Settings, vars: str | None) -> SkippedTests:
    """The tests a build of this warehouse may leave out (none when in doubt)."""
    if vars is not None and "tessera_sources" in vars:
        return SkippedTests()  # the build reads sources differently from dbt_project.yml
    manifest = manifest_if_fresh(settings.dbt_project_dir)
    if manifest is None:
        return SkippedTests()
    empty, labels = empty_source_ids(settings, manifest)
    if not empty:
        return SkippedTests()
    tests = tests_on_empty_models(manifest, empty)
    return SkippedTests(tuple(sorted(tests)), tests, tuple(labels))


def tests_with_rows(settings: Settings, skipped: SkippedTests) -> list[str]:
    """Skipped tests that read a model which has rows after all (run them)."""
    from tessera.warehouse import Warehouse

    relations = sorted({r for rels in skipped.relations.values() for r in rels})
    if not relations:
        return []
    has_rows = set()
    with Warehouse(settings).session(read_only=True) as session:
        for schema, identifier in relations:
            # not built (deselected, or the build stopped before it): nothing to test.
            # schema.identifier, not dbt's relation name: that names the catalog as dbt
            # attached the file, and DuckDB calls a file named main.duckdb `main_db`.
            if session.table_exists(schema, identifier) and session.scalar(
                f"select count(*) from (select 1 from {schema}.{identifier} limit 1)"
            ):
                has_rows.add((schema, identifier))
    return sorted(
        name
        for name, rels in skipped.relations.items()
        if any(relation in has_rows for relation in rels)
    )
