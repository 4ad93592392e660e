"""Where each contract source lives and whether it is on: var `tessera_sources`.

The one place is the `tessera_sources` var in `dbt_project/dbt_project.yml` (a `--vars`
override on the dbt command line replaces it for that run). dbt reads it in
`macros/sources/tessera_sources_config.sql`; this module reads the same block with the same
defaults for the Python side (`tessera sources check | init`, the sensor).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tessera.settings import DBT_PROJECT_DIR

ENABLED_VALUES = {
    "true": "on", "on": "on", "yes": "on",
    "false": "off", "off": "off", "no": "off",
    "auto": "auto", "none": "auto",
}  # fmt: skip
NO_ADAPTER = {"none", "raw", "false", ""}
# the keys of tessera_sources.<source> the build reads, and each adapter's own options
# (macro tessera_adapter_setting)
SETTING_KEYS = ("enabled", "database", "schema", "tables", "adapter")
ADAPTER_OPTIONS = {"hubspot": ("user_id_property",)}
ADAPTER_ALIASES = {"rudderstack": "segment"}
BLOCK_START = "  # >>> tessera_sources"
BLOCK_END = "  # <<< tessera_sources"


class SourceConfigError(ValueError):
    """The tessera_sources var is malformed; the message names the file and the setting."""


@dataclass(frozen=True)
class SourceSettings:
    """One source's settings, defaults applied (the dbt macro tessera_source_config)."""

    name: str
    enabled: str = "auto"  # auto | on | off
    database: str | None = None  # None: the target's database
    schema: str | None = None  # None: raw for contract tables, else discovered
    tables: dict[str, str] = field(default_factory=dict)
    adapter: str | None = None  # set by name
    discover: bool = True  # no `adapter` key: loader shapes are looked for
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def contract_schema(self) -> str:
        return self.schema or "raw"

    def table_name(self, table: str) -> str:
        return self.tables.get(table) or table


def dbt_project_file(project_dir: Path = DBT_PROJECT_DIR) -> Path:
    return project_dir / "dbt_project.yml"


def read_source_vars(project_dir: Path = DBT_PROJECT_DIR) -> dict[str, Any]:
    path = dbt_project_file(project_dir)
    try:
        project = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise SourceConfigError(f"{path}: not valid YAML: {exc}") from exc
    value = (project.get("vars") or {}).get("tessera_sources") or {}
    if not isinstance(value, dict):
        raise SourceConfigError(f"{path}: vars.tessera_sources must be a mapping, got {value!r}")
    return value


def source_settings(
    name: str, raw_vars: dict[str, Any], adapters_of_source: list[str] | None = None
) -> SourceSettings:
    raw = raw_vars.get(name) or {}
    where = f"var tessera_sources.{name}"
    if not isinstance(raw, dict):
        raise SourceConfigError(f"{where} must be a mapping, got {raw!r}")
    flag = str(raw.get("enabled", "auto")).lower()
    if flag not in ENABLED_VALUES:
        raise SourceConfigError(f"{where}.enabled must be auto, true or false, got {flag!r}")
    enabled = ENABLED_VALUES[flag]
    adapter = raw.get("adapter")
    if adapter is None or str(adapter).lower() in NO_ADAPTER:
        adapter = None
    else:
        adapter = ADAPTER_ALIASES.get(str(adapter), str(adapter))
        if adapters_of_source is not None and adapter not in adapters_of_source:
            choices = ", ".join([*adapters_of_source, "none"]) or "none"
            raise SourceConfigError(
                f"{where}.adapter {raw.get('adapter')!r} is not an adapter of this source; "
                f"choose one of {choices}"
            )
    tables = raw.get("tables") or {}
    if not isinstance(tables, dict):
        raise SourceConfigError(f"{where}.tables must map table names to yours, got {tables!r}")
    for key in ("database", "schema"):
        if isinstance(raw.get(key), (dict, list)):
            raise SourceConfigError(f"{where}.{key} must be a name, got {raw[key]!r}")
    for table, yours in tables.items():
        if isinstance(yours, (dict, list)):
            raise SourceConfigError(
                f"{where}.tables.{table} must be your table's name, got {yours!r}"
            )
    return SourceSettings(
        name=name,
        enabled=enabled,
        database=raw.get("database") or None,
        schema=raw.get("schema") or None,
        # as the build reads it: an empty name is the table's own
        tables={str(k): str(v) for k, v in tables.items() if v is not None and str(v)},
        adapter=adapter,
        discover="adapter" not in raw and enabled != "off",
        settings=dict(raw),
    )


def unknown_sources(raw_vars: dict[str, Any], known: list[str]) -> list[str]:
    return sorted(set(raw_vars) - set(known))


def unknown_settings(
    raw_vars: dict[str, Any],
    sources: dict[str, tuple[list[str], list[str]]],
) -> list[str]:
    """What the build ignores in the tessera_sources block, which is a typo more often than
    not: a source that is not in the contract, a key of a source that nothing reads, a
    `tables` entry that is neither a contract table of the source nor a table of one of its
    adapters' loaders. sources: name -> (its table names and its loaders', its adapters)."""
    problems = []
    for name in unknown_sources(raw_vars, list(sources)):
        problems.append(
            f"var tessera_sources.{name} is not a source (sources: {', '.join(sources)}): "
            "the build ignores it"
        )
    for name, (tables, adapters) in sources.items():
        raw = raw_vars.get(name)
        if not isinstance(raw, dict):
            continue
        options = [o for a in adapters for o in ADAPTER_OPTIONS.get(a, ())]
        for key in sorted(set(raw) - {*SETTING_KEYS, *options}):
            problems.append(
                f"var tessera_sources.{name}.{key} is not a setting "
                f"({', '.join([*SETTING_KEYS, *options])}): the build ignores it"
            )
        mapped = raw.get("tables")
        for table in sorted(set(mapped) - set(tables)) if isinstance(mapped, dict) else ():
            problems.append(
                f"var tessera_sources.{name}.tables.{table} is not a table of {name} "
                f"({', '.join(tables)}): the build ignores it"
            )
    return problems


def render_block(entries: dict[str, dict[str, Any]]) -> str:
    """The tessera_sources block of dbt_project.yml, between its markers."""
    lines = [
        BLOCK_START + " (written by `tessera sources init`; edit freely)",
        "  tessera_sources:",
    ]
    for name, entry in entries.items():
        body = yaml.safe_dump(entry, default_flow_style=True, sort_keys=False, width=1000).strip()
        lines.append(f"    {name}: {body}")
    lines.append(BLOCK_END)
    return "\n".join(lines)


def write_block(entries: dict[str, dict[str, Any]], project_dir: Path = DBT_PROJECT_DIR) -> Path:
    """Replace the tessera_sources block of dbt_project.yml (between its markers), leaving
    every other line as it is."""
    path = dbt_project_file(project_dir)
    text = path.read_text()
    pattern = re.compile(
        rf"^{re.escape(BLOCK_START)}.*?^{re.escape(BLOCK_END)}[^\n]*$", re.M | re.S
    )
    if not pattern.search(text):
        raise SourceConfigError(
            f"{path}: no `{BLOCK_START.strip()}` ... `{BLOCK_END.strip()}` block under vars: to "
            "rewrite; add those two marker lines around vars.tessera_sources"
        )
    new_text = pattern.sub(lambda _: render_block(entries), text, count=1)
    check = (yaml.safe_load(new_text).get("vars") or {}).get("tessera_sources")
    if check != entries:
        raise SourceConfigError(f"{path}: the rewritten block does not read back as written")
    path.write_text(new_text)
    return path
