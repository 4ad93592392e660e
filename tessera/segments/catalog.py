"""Discover segments: `models/segments/<name>.sql` plus dbt YAML whose `config.meta` says
who owns the segment, how often it refreshes and which syncs use it."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from tessera.settings import Settings
from tessera.yaml_strict import YamlFileError, load_yaml_file

SEGMENT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
# Tables Tessera keeps in the segments schema itself; no segment may take these names.
RESERVED_NAMES = frozenset({"segment_membership", "segment_sizes"})
SYNCS_SUFFIX = ".syncs.yml"  # reverse-ETL sync files may sit beside the segments they send
REFRESH_CADENCE = re.compile(r"^(\d+[mh]|hourly|daily|weekly)$")


class CatalogError(ValueError):
    """Segment files are missing or malformed; `problems` names each file, line and column."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(
            "segment catalog has problems:\n" + "\n".join(f"  - {p}" for p in problems)
        )


def _at(path: Path, line: int = 1, column: int = 1) -> str:
    return f"{path.name} (line {line}, column {column})"


def _name_position(path: Path, name: str) -> tuple[int, int]:
    """Where a model entry `- name: <name>` is in a YAML file (1, 1 if not found)."""
    positions = _name_positions(path, name)
    return positions[0] if positions else (1, 1)


def _name_positions(path: Path, name: str) -> list[tuple[int, int]]:
    """Every line and column where a model entry `- name: <name>` is in a YAML file."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return []
    pattern = re.compile(r"^(\s*-?\s*)name:\s*['\"]?" + re.escape(name) + r"['\"]?\s*$")
    return [
        (number, len(match.group(1)) + 1)
        for number, text in enumerate(lines, start=1)
        if (match := pattern.match(text))
    ]


class SegmentMeta(BaseModel):
    """The `meta` block of a segment model (extra keys are kept for other tools)."""

    model_config = ConfigDict(extra="allow")

    owner: str = Field(min_length=1, description="team or person answerable for the segment")
    refresh: str = Field(description="15m, 2h, hourly, daily or weekly")
    syncs: list[str] = Field(default_factory=list, description="syncs that use the segment")

    @field_validator("refresh")
    @classmethod
    def _cadence(cls, value: str) -> str:
        if not REFRESH_CADENCE.match(value):
            raise ValueError(
                f"refresh {value!r} is not a cadence: use e.g. 15m, 2h, hourly, daily, weekly"
            )
        return value


class Segment(BaseModel):
    name: str
    description: str = Field(min_length=1)
    tags: list[str] = Field(default_factory=list)
    meta: SegmentMeta
    sql_path: Path
    yml_path: Path

    @property
    def owner(self) -> str:
        return self.meta.owner

    @property
    def refresh(self) -> str:
        return self.meta.refresh

    @property
    def syncs(self) -> list[str]:
        return self.meta.syncs

    def read_sql(self) -> str:
        return self.sql_path.read_text()


class SegmentCatalog(BaseModel):
    directory: Path
    segments: dict[str, Segment]

    def get(self, name: str) -> Segment:
        if name not in self.segments:
            known = ", ".join(sorted(self.segments)) or "none"
            raise CatalogError([f"no segment named {name!r} (known: {known})"])
        return self.segments[name]

    def names(self) -> list[str]:
        return sorted(self.segments)


def segments_dir(settings: Settings) -> Path:
    return settings.dbt_project_dir / "models" / "segments"


def load_catalog(directory: Path) -> SegmentCatalog:
    """Every segment in `directory`; CatalogError lists all problems found, not just one."""
    problems: list[str] = []
    entries: dict[str, tuple[dict, Path]] = {}
    if not directory.is_dir():
        raise CatalogError([f"segments folder {directory} does not exist"])
    yml_paths = sorted([*directory.glob("*.yml"), *directory.glob("*.yaml")])
    for yml_path in [p for p in yml_paths if not p.name.endswith(SYNCS_SUFFIX)]:
        for name, (entry, path) in _model_entries(yml_path, problems).items():
            if name in entries:
                problems.append(
                    f"{_at(path, *_name_position(path, name))}: segment {name!r} is also "
                    f"described in {entries[name][1].name}"
                )
                continue
            entries[name] = (entry, path)

    segments: dict[str, Segment] = {}
    sql_names = {p.stem: p for p in sorted(directory.glob("*.sql"))}
    for name, sql_path in sql_names.items():
        if not SEGMENT_NAME.match(name):
            problems.append(
                f"{_at(sql_path)}: segment names are lower-case letters, digits and _, "
                f"starting with a letter (at most 63){_rename_hint(name)}"
            )
            continue
        if name in RESERVED_NAMES:
            problems.append(f"{_at(sql_path)}: {name!r} is reserved for Tessera's own table")
            continue
        if name not in entries:
            problems.append(
                f"{_at(sql_path)}: no YAML metadata; add {name}.yml with description, "
                "config.meta.owner and config.meta.refresh"
            )
            continue
        entry, yml_path = entries[name]
        segment = _segment_from_entry(name, entry, sql_path, yml_path, problems)
        if segment is not None:
            segments[name] = segment
    for name, (_, yml_path) in entries.items():
        if name not in sql_names:
            problems.append(
                f"{_at(yml_path, *_name_position(yml_path, name))}: describes {name!r} but "
                f"there is no {name}.sql"
            )
    if problems:
        raise CatalogError(problems)
    return SegmentCatalog(directory=directory, segments=segments)


def _rename_hint(name: str) -> str:
    """`; rename it to my_segment.sql` for `My Segment.sql`, when such a name is possible."""
    suggestion = re.sub(r"[^a-z0-9_]+", "_", name.lower()).strip("_")[:63]
    if suggestion and not suggestion[0].isalpha():
        suggestion = f"segment_{suggestion}"[:63]
    if not SEGMENT_NAME.match(suggestion) or suggestion in RESERVED_NAMES:
        return ""
    return f"; rename it to {suggestion}.sql (and its YAML entry to {suggestion})"


def _model_entries(path: Path, problems: list[str]) -> dict[str, tuple[dict, Path]]:
    try:
        data = load_yaml_file(path)
    except YamlFileError as exc:
        problems.append(f"{_at(path, exc.line or 1, exc.column or 1)}: {exc.problem}")
        return {}
    if data is None:
        problems.append(f"{_at(path)}: file is empty")
        return {}
    if not isinstance(data, dict) or not isinstance(data.get("models"), list):
        problems.append(f"{_at(path)}: expected a top-level 'models:' list (dbt properties file)")
        return {}
    found: dict[str, tuple[dict, Path]] = {}
    repeats: dict[str, int] = {}
    for index, entry in enumerate(data["models"]):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            problems.append(f"{_at(path)}: models[{index}] needs a 'name'")
            continue
        name = entry["name"]
        if name in found:
            repeats[name] = repeats.get(name, 0) + 1
            positions = _name_positions(path, name)
            line, column = positions[repeats[name]] if len(positions) > repeats[name] else (1, 1)
            problems.append(
                f"{_at(path, line, column)}: segment {name!r} is described twice in this "
                "file; keep one entry"
            )
            continue
        found[name] = (entry, path)
    return found


def _segment_from_entry(
    name: str, entry: dict, sql_path: Path, yml_path: Path, problems: list[str]
) -> Segment | None:
    config = entry.get("config") or {}
    if not isinstance(config, dict):
        problems.append(
            f"{_at(yml_path, *_name_position(yml_path, name))}: config must be a mapping"
        )
        return None
    # dbt >= 1.10 wants meta and tags under config; older files have them at the top level.
    meta = config.get("meta", entry.get("meta"))
    tags = config.get("tags", entry.get("tags", []))
    if isinstance(tags, str):
        tags = [tags]
    try:
        return Segment(
            name=name,
            description=(entry.get("description") or "").strip(),
            tags=tags,
            meta=meta if meta is not None else {},
            sql_path=sql_path,
            yml_path=yml_path,
        )
    except ValidationError as exc:
        for error in exc.errors():
            location = ".".join(str(part) for part in error["loc"])
            if location.startswith("meta"):
                location = "config." + location
            problems.append(
                f"{_at(yml_path, *_name_position(yml_path, name))}: {name}.{location}: "
                f"{error['msg']}"
            )
        return None
