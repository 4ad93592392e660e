"""The source contract: which tables Tessera reads, their columns, types and meaning.

The contract is written once, as the dbt sources YAML of each staging folder
(`dbt_project/models/staging/<source>/_<source>__sources.yml`): dbt reads it to build, and
this module reads the same files for everything outside dbt (`tessera sources check` and
`init`, the sensor, the demo generator, the README table). Per column: `data_type`,
`description`, and in `config.meta` whether it is `required` and, for identifiers, the
`id_type` (email, phone, user_id, crm_id, loyalty_id, device_id, anonymous_id). Per table:
`config.loaded_at_field` (the load timestamp incremental runs and the sensor follow) and in
`config.meta` whether the table is `required` and its `key`. Per source: freshness
thresholds in hours (`config.meta.freshness_hours`).

Where each source lives and whether it is on is not part of the contract: that is the
`tessera_sources` var (tessera.sources.config).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from tessera.settings import DBT_PROJECT_DIR

ID_TYPES: tuple[str, ...] = (
    "user_id",
    "crm_id",
    "email",
    "phone",
    "loyalty_id",
    "device_id",
    "anonymous_id",
)
DATA_TYPES: tuple[str, ...] = ("varchar", "timestamp", "double", "integer", "boolean")


class ContractError(ValueError):
    """The contract YAML is malformed; the message names the file and the entry."""


@dataclass(frozen=True)
class ContractColumn:
    name: str
    data_type: str
    description: str
    required: bool
    # the identifier type this column holds; "subject_type" when another column names it
    id_type: str | None = None


@dataclass(frozen=True)
class ContractTable:
    source: str
    name: str
    description: str
    columns: tuple[ContractColumn, ...]
    loaded_at_field: str
    key: tuple[str, ...]
    required: bool

    @property
    def qualified_name(self) -> str:
        return f"{self.source}.{self.name}"

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    @property
    def identifier_columns(self) -> list[ContractColumn]:
        return [c for c in self.columns if c.id_type]

    def column(self, name: str) -> ContractColumn:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(f"{self.qualified_name} has no column {name!r}")

    def ddl(self, schema: str = "raw", name: str | None = None) -> str:
        """CREATE TABLE for this table in DuckDB types (VARCHAR, TIMESTAMP, DOUBLE ...)."""
        cols = ", ".join(f"{c.name} {c.data_type.upper()}" for c in self.columns)
        return f"create table if not exists {schema}.{name or self.name} ({cols})"


@dataclass(frozen=True)
class ContractSource:
    name: str
    description: str
    tables: tuple[ContractTable, ...]
    freshness_warn_hours: int
    freshness_error_hours: int
    path: Path

    def table(self, name: str) -> ContractTable:
        for table in self.tables:
            if table.name == name:
                return table
        known = ", ".join(t.name for t in self.tables)
        raise KeyError(f"source {self.name!r} has no table {name!r} (it has {known})")

    @property
    def required_tables(self) -> list[ContractTable]:
        return [t for t in self.tables if t.required]


@dataclass(frozen=True)
class Contract:
    sources: tuple[ContractSource, ...]

    def source(self, name: str) -> ContractSource:
        for source in self.sources:
            if source.name == name:
                return source
        known = ", ".join(s.name for s in self.sources)
        raise KeyError(f"no source {name!r} in the contract (sources: {known})")

    def table(self, source: str, table: str) -> ContractTable:
        return self.source(source).table(table)

    @property
    def source_names(self) -> list[str]:
        return [s.name for s in self.sources]

    @property
    def tables(self) -> list[ContractTable]:
        return [t for s in self.sources for t in s.tables]


def contract_files(project_dir: Path = DBT_PROJECT_DIR) -> list[Path]:
    return sorted((project_dir / "models" / "staging").glob("*/_*__sources.yml"))


@cache
def load_contract(project_dir: Path = DBT_PROJECT_DIR) -> Contract:
    """The contract as the sources YAML of the staging folders declares it."""
    sources = [source for path in contract_files(project_dir) for source in load_sources_yaml(path)]
    if not sources:
        raise ContractError(f"no contract sources YAML under {project_dir / 'models/staging'}")
    return Contract(tuple(sources))


def _yaml(path: Path) -> dict:
    try:
        return yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ContractError(f"{path}: not valid YAML: {exc}") from exc


def _meta(entry: dict) -> dict:
    return (entry.get("config") or {}).get("meta") or entry.get("meta") or {}


def _source(path: Path, entry: dict, strict: bool = True) -> ContractSource:
    name = entry["name"]
    hours = _meta(entry).get("freshness_hours") or {}
    loaded_at = (entry.get("config") or {}).get("loaded_at_field") or ""
    tables = tuple(_table(path, name, t, loaded_at, strict) for t in entry.get("tables") or [])
    if not tables:
        raise ContractError(f"{path}: source {name!r} declares no tables")
    return ContractSource(
        name=name,
        description=" ".join(str(entry.get("description", "")).split()),
        tables=tables,
        freshness_warn_hours=int(hours.get("warn", 24)),
        freshness_error_hours=int(hours.get("error", 48)),
        path=path,
    )


def load_sources_yaml(path: Path, strict: bool = True) -> list[ContractSource]:
    """Every source of one sources YAML, read with the contract's conventions. The adapters'
    YAML describes the loaders' tables the same way, but names only the columns the adapter
    must know (strict=False: keys and load timestamps need not be declared columns)."""
    return [_source(path, entry, strict) for entry in _yaml(path).get("sources") or []]


def _table(
    path: Path, source: str, entry: dict, default_loaded_at: str = "", strict: bool = True
) -> ContractTable:
    where = f"{path}: {source}.{entry.get('name')}"
    meta = _meta(entry)
    columns = tuple(_column(where, c) for c in entry.get("columns") or [])
    names = [c.name for c in columns]
    loaded_at = (entry.get("config") or {}).get("loaded_at_field") or default_loaded_at
    key = tuple(meta.get("key") or ())
    for column in (*key, *([loaded_at] if loaded_at else [])) if strict else ():
        if column not in names:
            raise ContractError(f"{where}: key or loaded_at_field {column!r} is not a column")
    return ContractTable(
        source=source,
        name=entry["name"],
        description=" ".join(str(entry.get("description", "")).split()),
        columns=columns,
        loaded_at_field=loaded_at,
        key=key,
        required=bool(meta.get("required", False)),
    )


def _column(where: str, entry: dict) -> ContractColumn:
    meta = _meta(entry)
    data_type = str(entry.get("data_type") or "").lower()
    if data_type not in DATA_TYPES:
        raise ContractError(
            f"{where}.{entry.get('name')}: data_type {data_type!r} is not one of "
            f"{', '.join(DATA_TYPES)}"
        )
    id_type = meta.get("id_type")
    if id_type is not None and id_type not in (*ID_TYPES, "subject_type"):
        raise ContractError(f"{where}.{entry['name']}: unknown id_type {id_type!r}")
    return ContractColumn(
        name=entry["name"],
        data_type=data_type,
        description=" ".join(str(entry.get("description", "")).split()),
        required=bool(meta.get("required", False)),
        id_type=id_type,
    )
