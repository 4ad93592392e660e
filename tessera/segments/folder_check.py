"""The segments folder itself, checked before any segment's SQL is: it exists, holds only
segment SQL and YAML, every file is UTF-8, the YAML only describes segments (yaml_policy.py)
and the catalog loads. Files are named relative to the dbt project."""

from __future__ import annotations

import re
from pathlib import Path

from tessera.segments.catalog import (
    RESERVED_NAMES,
    SEGMENT_NAME,
    SYNCS_SUFFIX,
    CatalogError,
    SegmentCatalog,
    load_catalog,
)
from tessera.segments.issues import Issue, line_col
from tessera.segments.jinja import RelationResolver
from tessera.segments.yaml_policy import check_segment_yaml, segment_files


def check_folder(
    project_dir: Path, resolver: RelationResolver
) -> tuple[SegmentCatalog | None, list[Issue]]:
    """The folder's catalog and no issues, or None and what is wrong with the folder."""
    folder = project_dir / "models" / resolver.segments_schema
    if not folder.is_dir():
        return None, [
            Issue("segments", "no_folder", f"{folder} does not exist", 1, 1, file=str(folder))
        ]
    issues: list[Issue] = []
    sql_files, yaml_files, refused = segment_files(folder)
    for path, why in refused:
        issues.append(Issue(path.stem, "file_not_allowed", why, 1, 1, file=_rel(project_dir, path)))
    undecodable = [_not_utf8(project_dir, path) for path in [*sql_files, *yaml_files]]
    if any(undecodable):
        issues.extend(issue for issue in undecodable if issue is not None)
        return None, issues  # nothing else can read these files
    names_in_folder = frozenset(
        p.stem for p in sql_files if SEGMENT_NAME.match(p.stem) and p.stem not in RESERVED_NAMES
    )
    readable_models = frozenset(r.split(".", 1)[1] for r in resolver.readable)
    for path in yaml_files:
        syncs_file = path.name.endswith(SYNCS_SUFFIX)
        text = path.read_text()
        for problem in check_segment_yaml(text, names_in_folder, readable_models, syncs_file):
            issues.append(
                Issue(
                    path.stem,
                    "yaml_not_allowed",
                    problem.message,
                    problem.line,
                    problem.column,
                    file=_rel(project_dir, path),
                )
            )
    try:
        catalog = load_catalog(folder)
    except CatalogError as exc:
        issues.extend(_catalog_issues(exc, project_dir, folder))
        return None, issues
    return (None if issues else catalog), issues


def project_relative(project_dir: Path, file: str | None) -> str | None:
    return None if file is None else _rel(project_dir, Path(file))


def _catalog_issues(exc: CatalogError, project_dir: Path, folder: Path) -> list[Issue]:
    issues = []
    for problem in exc.problems:
        match = re.match(r"^(.+?) \(line (\d+), column (\d+)\): (.*)$", problem, re.DOTALL)
        if match:
            file, line, column, message = match.groups()
            issues.append(
                Issue(
                    Path(file).stem,
                    "catalog",
                    message,
                    int(line),
                    int(column),
                    file=_rel(project_dir, folder / file),
                )
            )
        else:
            issues.append(
                Issue("segments", "catalog", problem, 1, 1, file=_rel(project_dir, folder))
            )
    return issues


def _not_utf8(project_dir: Path, path: Path) -> Issue | None:
    """dbt reads model and YAML files as UTF-8: anything else is refused where it breaks."""
    data = path.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        prefix = data[: exc.start].decode("utf-8", errors="replace")
        line, column = line_col(prefix, len(prefix))
        return Issue(
            path.stem,
            "not_utf8",
            f"byte 0x{data[exc.start]:02x} is not UTF-8; save the file as UTF-8",
            line,
            column,
            file=_rel(project_dir, path),
        )
    return None


def _rel(project_dir: Path, path: Path) -> str:
    try:
        return str(path.relative_to(project_dir))
    except ValueError:
        return str(path)
