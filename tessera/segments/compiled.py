"""Check what dbt will actually run: the compiled SQL and the merged config of each segment.

The static checks read the author's files; dbt decides what runs, after merging
dbt_project.yml, every YAML file and config() calls, and rendering the Jinja with its own
context. So the gate also asks dbt: `dbt compile --select path:models/segments` for the target
being built, with the build's own environment (dbt compiles these without opening or locking
the warehouse file: no query runs and the relation cache is not populated), then reads
manifest.json and refuses a segment whose compiled SQL differs from what the checker
rendered, or which carries hooks, a header, grants, another materialization, schema, alias or
database, tests other than the plain ones, unit tests, or sources declared in its
folder. A passing result is cached by the hash of everything that feeds the compile.

The compile writes to a scratch target path (never over the build's manifest or run results)
but shares dbt's parse cache (`partial_parse.msgpack`) with the project's target: it starts
from the build's cache and hands its own back, so on a fresh clone the project is parsed once
for the gate and the build that follows, not twice. The compile's graph (nodes, their
parents, schemas and names) is handed back too, as target/tessera_graph.json.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tessera.segments.issues import Issue, line_col
from tessera.settings import secrets_named_for_dbt

COMPILE_TIMEOUT_SECONDS = 300
CACHE_FILE = "tessera_segments_compiled.json"
PARSE_CACHE = "partial_parse.msgpack"  # dbt's own parse cache, in its target path
GRAPH_FILE = "tessera_graph.json"  # the compile's graph, for the build (never manifest.json)
ALLOWED_CONFIG_KEYS = frozenset(
    {"materialized", "schema", "tags", "meta", "docs", "enabled", "tmp_relation_type"}
)
ALLOWED_TESTS = frozenset({"unique", "not_null", "accepted_values", "relationships"})
_THREE_PART = re.compile(
    r'"?([A-Za-z_][A-Za-z0-9_$]*)"?\s*\.\s*"?([A-Za-z_][A-Za-z0-9_]*)"?\s*\.\s*"?'
    r'([A-Za-z_][A-Za-z0-9_]*)"?'
)


@dataclass(frozen=True)
class RenderedSegment:
    """What the static checks rendered, to compare with dbt's compiled SQL."""

    name: str
    sql: str
    sql_file: Path
    yml_file: Path | None
    to_template: Any  # callable (line, column) in `sql` -> (line, column) in the .sql file


def compiled_issues(
    project_dir: Path,
    segments: Mapping[str, RenderedSegment],
    segments_schema: str,
    target: str,
    env: Mapping[str, str] | None = None,
) -> list[Issue]:
    """Issues from dbt's own view of the segments (empty when dbt compiles what we checked)."""
    if not segments or not (project_dir / "dbt_project.yml").exists():
        return []  # no dbt project: dbt cannot build these either
    project_dir = project_dir.resolve()
    key = _cache_key(project_dir, target, segments)
    cache = project_dir / "target" / CACHE_FILE
    if _cached(cache, key):
        return []
    manifest, failure = _compile(project_dir, target, env)
    if manifest is None:
        return [_compile_failure(failure or "", segments, segments_schema)]
    issues = _manifest_issues(manifest, segments, segments_schema)
    if not issues:
        cache.parent.mkdir(parents=True, exist_ok=True)
        partial = cache.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps({"passed": key}))
        partial.replace(cache)  # atomic: concurrent gates never read half a file
    return issues


def _compile(
    project_dir: Path, target: str, env: Mapping[str, str] | None
) -> tuple[dict | None, str | None]:
    from tessera.dbt import dbt_executable

    run_env = secrets_named_for_dbt(dict(env if env is not None else os.environ))
    run_env["TESSERA_TARGET"] = target
    if target.startswith("duckdb") and not run_env.get("TESSERA_WAREHOUSE"):
        run_env["TESSERA_WAREHOUSE"] = ":memory:"  # the profile requires a path; none is opened
    run_env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    profiles_dir = project_dir if (project_dir / "profiles.yml").exists() else None
    with tempfile.TemporaryDirectory(prefix="tessera-segments-compile-") as scratch:
        shared_cache = project_dir / "target" / PARSE_CACHE
        scratch_cache = Path(scratch) / "target" / PARSE_CACHE
        handed_in = _copy_parse_cache(shared_cache, scratch_cache)
        command = [
            dbt_executable(),
            "compile",
            "--select",
            f"path:models/{_segments_folder(project_dir)}",
            "--project-dir",
            str(project_dir),
            "--target",
            target,
            "--target-path",
            str(Path(scratch) / "target"),
            "--log-path",
            str(Path(scratch) / "logs"),
            "--no-populate-cache",
            "--quiet",
        ]
        if profiles_dir is not None:
            command += ["--profiles-dir", str(profiles_dir)]
        try:
            proc = subprocess.run(
                command,
                cwd=project_dir,
                env=run_env,
                capture_output=True,
                text=True,
                timeout=COMPILE_TIMEOUT_SECONDS,
            )
        except subprocess.TimeoutExpired:
            return None, f"dbt compile did not finish within {COMPILE_TIMEOUT_SECONDS}s"
        manifest_path = Path(scratch) / "target" / "manifest.json"
        if proc.returncode != 0 or not manifest_path.exists():
            return None, (proc.stdout + "\n" + proc.stderr).strip()
        if scratch_cache.exists() and scratch_cache.read_bytes() != handed_in:
            _copy_parse_cache(scratch_cache, shared_cache)  # dbt parsed anew: share that
        manifest = json.loads(manifest_path.read_text())
        _write_graph(manifest, project_dir / "target" / GRAPH_FILE)
        return manifest, None


def _write_graph(manifest: dict, path: Path) -> None:
    """The project's graph from the compile's manifest, for `tessera build` to see which
    tests read only staging that no source feeds before the build has a manifest of its own
    (orchestration/empty_sources.py). Written whole or not at all; only a convenience."""
    keep = ("resource_type", "name", "schema", "alias", "depends_on")
    graph = {
        "nodes": {
            uid: {k: node.get(k) for k in keep} for uid, node in manifest.get("nodes", {}).items()
        },
        "sources": {
            uid: {"source_name": s.get("source_name"), "name": s.get("name")}
            for uid, s in manifest.get("sources", {}).items()
        },
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps(graph))
        partial.replace(path)
    except OSError:
        pass


def _copy_parse_cache(source: Path, destination: Path) -> bytes | None:
    """Copy dbt's parse cache whole or not at all (a reader never sees half a file); a
    missing or unreadable cache only means dbt parses in full. Returns the bytes copied."""
    try:
        data = source.read_bytes()
        destination.parent.mkdir(parents=True, exist_ok=True)
        partial = destination.with_suffix(f".{os.getpid()}.tmp")
        partial.write_bytes(data)
        partial.replace(destination)
        return data
    except OSError:
        return None


def _segments_folder(project_dir: Path) -> str:
    from tessera.segments.jinja import project_vars_of

    return str(project_vars_of(project_dir).get("segments_schema") or "segments")


def _compile_failure(output: str, segments: Mapping[str, RenderedSegment], schema: str) -> Issue:
    """Name the segment dbt refused (its guard message names the file), or the first one."""
    message = _first_error(output)
    for name, segment in segments.items():
        if f"models/{schema}/{name}." in output:
            return Issue(
                name,
                "dbt_refused",
                f"dbt refuses this segment: {message}",
                1,
                1,
                file=str(segment.sql_file),
            )
    name, segment = next(iter(segments.items()))
    other = re.search(rf"models/{re.escape(schema)}/([^/\s:]+)\.(sql|ya?ml)\b", output)
    if other:  # dbt parses every segment: one not being checked can stop the compile
        other_name, suffix = other.group(1), other.group(2)
        return Issue(
            other_name,
            "dbt_refused",
            f"dbt refuses this file, so no segment compiles: {message} "
            f"(`tessera segments validate {other_name}` shows where)",
            1,
            1,
            file=str(segment.sql_file.parent / f"{other_name}.{suffix}"),
        )
    return Issue(
        name,
        "dbt_refused",
        f"dbt cannot compile the segments: {message}",
        1,
        1,
        file=str(segment.sql_file),
    )


def _first_error(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for index, line in enumerate(lines):
        if "segment boundary:" in line:
            return line.split("segment boundary:", 1)[1].strip()
        if "Error" in line and index + 1 < len(lines):
            return f"{line} {lines[index + 1]}"[:500]
    return (lines[-1] if lines else "no output")[:500]


def _manifest_issues(
    manifest: dict, segments: Mapping[str, RenderedSegment], schema: str
) -> list[Issue]:
    issues: list[Issue] = []
    prefix = f"models/{schema}/"
    nodes = manifest.get("nodes", {})
    by_name = {
        n["name"]: n
        for n in nodes.values()
        if n.get("resource_type") == "model" and n.get("original_file_path", "").startswith(prefix)
    }
    for name, segment in segments.items():
        node = by_name.get(name)
        if node is None:
            issues.append(_issue(segment, "dbt_missing", "dbt does not see this segment"))
            continue
        issues.extend(_node_issues(node, segment, schema))
    for node in nodes.values():
        attached = str(node.get("attached_node") or "")
        name = attached.rsplit(".", 1)[-1]
        if node.get("resource_type") == "test" and name in segments:
            test = (node.get("test_metadata") or {}).get("name")
            if test not in ALLOWED_TESTS or (node.get("test_metadata") or {}).get("namespace"):
                issues.append(
                    _issue(segments[name], "dbt_test", f"dbt runs test {node['name']} on it")
                )
            if node.get("config", {}).get("store_failures") or node.get("config", {}).get("where"):
                issues.append(
                    _issue(segments[name], "dbt_test", f"test {node['name']} stores or filters")
                )
    for unit_test in manifest.get("unit_tests", {}).values():
        if unit_test.get("model") in segments:
            issues.append(
                _issue(
                    segments[unit_test["model"]],
                    "unit_test",
                    f"unit test {unit_test['name']} would run this segment's SQL outside the "
                    "segment sandbox; segments have no unit tests",
                )
            )
    for source in manifest.get("sources", {}).values():
        if str(source.get("original_file_path", "")).startswith(prefix):
            some = next(iter(segments.values()))
            issues.append(
                Issue(
                    some.name,
                    "source_in_segments",
                    f"source {source['source_name']}.{source['name']} is declared in "
                    f"{source['original_file_path']}; sources are declared by the project",
                    1,
                    1,
                    file=source["original_file_path"],
                )
            )
    return issues


def _node_issues(node: dict, segment: RenderedSegment, schema: str) -> list[Issue]:
    issues = []
    config = node.get("config", {})
    for key in node.get("unrendered_config", {}):
        if key.replace("-", "_") not in ALLOWED_CONFIG_KEYS:
            issues.append(_issue(segment, "dbt_config", f"dbt sets '{key}' on it", key))
    owned = {
        "materialized": (config.get("materialized"), "segment"),
        "schema": (node.get("schema"), schema),
        "alias": (node.get("alias"), segment.name),
    }
    for key, (value, expected) in owned.items():
        if str(value).lower() != expected.lower():
            issues.append(
                _issue(segment, "dbt_config", f"dbt would build it with {key}={value!r}", key)
            )
    for key in ("pre-hook", "post-hook", "sql_header", "grants", "location", "contract"):
        value = config.get(key)
        if key == "contract" and isinstance(value, dict):
            value = value.get("enforced")
        if value:
            issues.append(_issue(segment, "dbt_config", f"dbt would run it with {key}", key))
    compiled = node.get("compiled_code")
    if compiled is None:
        issues.append(_issue(segment, "dbt_missing", "dbt did not compile this segment"))
        return issues
    ours = _normalise(segment.sql)
    theirs = _normalise(_two_part(compiled))
    if ours != theirs:
        offset = _first_difference(segment.sql, _two_part(compiled))
        line, column = segment.to_template(*line_col(segment.sql, offset))
        issues.append(
            Issue(
                segment.name,
                "dbt_differs",
                "dbt compiles this segment to different SQL than the checker rendered (Jinja "
                "that depends on the build context?); it is refused",
                line,
                column,
                file=str(segment.sql_file),
            )
        )
    return issues


def _issue(segment: RenderedSegment, code: str, message: str, key: str | None = None) -> Issue:
    """An issue at `key` in the segment's YAML when it is there, else at the .sql's start."""
    if key and segment.yml_file is not None and segment.yml_file.exists():
        text = segment.yml_file.read_text()
        for pattern in (key, key.replace("-", "_"), key.replace("_", "-")):
            match = re.search(rf"^(\s*)\+?{re.escape(pattern)}\s*:", text, re.MULTILINE)
            if match:
                line, column = line_col(text, match.start() + len(match.group(1)))
                return Issue(segment.name, code, message, line, column, file=str(segment.yml_file))
    return Issue(segment.name, code, message, 1, 1, file=str(segment.sql_file))


def _two_part(sql: str) -> str:
    """`"db"."schema"."table"` (dbt's relation names) -> `schema.table`, as the checker renders."""
    return _THREE_PART.sub(lambda m: f"{m.group(2)}.{m.group(3)}", sql)


def _normalise(sql: str) -> str:
    return _collapse(sql)[0]


def _collapse(text: str) -> tuple[str, list[int]]:
    """Lower-cased text with whitespace runs as one space, and each character's offset."""
    chars: list[str] = []
    offsets: list[int] = []
    for offset, char in enumerate(text):
        if char.isspace():
            if chars and chars[-1] != " ":
                chars.append(" ")
                offsets.append(offset)
            continue
        chars.append(char.lower())
        offsets.append(offset)
    while chars and chars[-1] == " ":
        chars.pop()
        offsets.pop()
    return "".join(chars), offsets


def _first_difference(ours: str, theirs: str) -> int:
    """Offset in `ours` where the two stop matching (whitespace runs compare equal)."""
    a, offsets = _collapse(ours)
    b, _ = _collapse(theirs)
    index = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), None)
    if index is None:
        index = min(len(a), len(b))
    return offsets[index] if index < len(offsets) else max(0, len(ours) - 1)


def _cache_key(project_dir: Path, target: str, segments: Mapping[str, RenderedSegment]) -> str:
    digest = hashlib.sha256()
    digest.update(target.encode())
    try:
        import dbt.version

        digest.update(str(dbt.version.__version__).encode())
    except ImportError:
        pass
    paths = [project_dir / "dbt_project.yml", project_dir / "profiles.yml"]
    paths += sorted((project_dir / "macros").rglob("*"))
    paths += sorted((project_dir / "models").rglob("*.yml"))
    paths += sorted((project_dir / "models").rglob("*.yaml"))
    paths += sorted((project_dir / "models" / _segments_folder(project_dir)).glob("*"))
    for path in paths:
        if path.is_file():
            digest.update(str(path.relative_to(project_dir)).encode())
            digest.update(path.read_bytes())
    for name in sorted(segments):
        digest.update(name.encode())
        digest.update(segments[name].sql.encode())
    return digest.hexdigest()


def _cached(cache: Path, key: str) -> bool:
    try:
        return json.loads(cache.read_text()).get("passed") == key
    except (OSError, ValueError):
        return False
