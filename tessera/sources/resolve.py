"""Which tables each source is read from on a given warehouse: the Python twin of the dbt
macro `tessera_source` (macros/sources/), for `tessera sources check | init` and the sensor.

Per source, in order: off when `enabled: false`; the contract's own tables when every
required one exists where the settings say (unless an adapter is named); else the first
adapter of the source whose loader tables are found (the named one, or, with no `adapter`
key, any adapter of that source by its signature); else absent, which breaks the build only
when `enabled: true`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from tessera.sources.adapters import Adapter, adapters_of
from tessera.sources.config import SourceSettings, read_source_vars, source_settings
from tessera.sources.contract import Contract, ContractTable, load_contract
from tessera.warehouse import Session


@dataclass(frozen=True)
class PhysicalTable:
    """A table Tessera reads: a contract table or a loader's table, where it is (or would be)."""

    logical: str  # the contract's (or the loader's) name for it
    database: str
    schema: str
    name: str  # as the warehouse stores it when it exists
    loaded_at_field: str
    columns: dict[str, str] = field(default_factory=dict)  # lower name -> data type
    exists: bool = False
    spec: ContractTable | None = None
    column_names: dict[str, str] = field(default_factory=dict)  # lower name -> as stored

    def sql(self, dialect: str) -> str:
        quoted = f'"{self.schema}"."{self.name}"'
        return f'"{self.database}".{quoted}' if dialect == "snowflake" else quoted

    @property
    def location(self) -> str:
        return f"{self.database}.{self.schema}.{self.name}"


@dataclass(frozen=True)
class Resolution:
    source: str
    settings: SourceSettings
    mode: str  # contract | adapter | off | absent
    tables: list[PhysicalTable]
    reason: str
    adapter: Adapter | None = None
    error: str | None = None  # what fails `tessera build`

    @property
    def is_read(self) -> bool:
        return self.mode in ("contract", "adapter")


class Catalog:
    """The columns of every table that could be a source, read in one query per database."""

    def __init__(self, rows: list[tuple[str, str, str, str, str]]) -> None:
        # (database, schema, table, column, data_type), names as stored
        self._tables: dict[tuple[str, str, str], dict[str, str]] = defaultdict(dict)
        self._columns: dict[tuple[str, str, str], dict[str, str]] = defaultdict(dict)
        self._names: dict[tuple[str, str, str], tuple[str, str]] = {}
        for database, schema, table, column, data_type in rows:
            key = (database.lower(), schema.lower(), table.lower())
            self._tables[key][column.lower()] = str(data_type)
            self._columns[key][column.lower()] = column
            self._names[key] = (schema, table)

    @classmethod
    def read(cls, session: Session, databases: list[str], names: set[str]) -> Catalog:
        rows: list[tuple[str, str, str, str, str]] = []
        in_list = ", ".join(f"'{n.lower()}'" for n in sorted(names))
        for database in databases:
            if session.dialect == "duckdb":
                sql = (
                    "select table_catalog, table_schema, table_name, column_name, data_type "
                    f"from information_schema.columns where lower(table_name) in ({in_list}) "
                    f"and lower(table_catalog) = '{database.lower()}'"
                )
            else:
                sql = (
                    f"select '{database}', table_schema, table_name, column_name, data_type "
                    f"from {database}.information_schema.columns "
                    f"where lower(table_name) in ({in_list})"
                )
            frame = session.df(sql)
            rows.extend(tuple(str(v) for v in row) for row in frame.itertuples(index=False))
        return cls(rows)

    def columns(self, database: str, schema: str, table: str) -> dict[str, str] | None:
        key = (database.lower(), schema.lower(), table.lower())
        return dict(self._tables[key]) if key in self._tables else None

    def stored_columns(self, database: str, schema: str, table: str) -> dict[str, str]:
        return dict(self._columns.get((database.lower(), schema.lower(), table.lower()), {}))

    def stored_name(self, database: str, schema: str, table: str) -> tuple[str, str]:
        return self._names.get((database.lower(), schema.lower(), table.lower()), (schema, table))

    def schemas_with(self, database: str, table: str, any_column: tuple[str, ...]) -> set[str]:
        wanted = {c.lower() for c in any_column}
        return {
            schema
            for (db, schema, name), columns in self._tables.items()
            if db == database.lower() and name == table.lower() and wanted & set(columns)
        }


def default_database(session: Session) -> str:
    """The target's database: DuckDB's catalog (the file's name), Snowflake's session one."""
    return str(session.scalar("select current_database()"))


def resolve_all(
    session: Session,
    contract: Contract | None = None,
    raw_vars: dict | None = None,
) -> list[Resolution]:
    return resolve_with_catalog(session, contract, raw_vars)[0]


def resolve_with_catalog(
    session: Session,
    contract: Contract | None = None,
    raw_vars: dict | None = None,
) -> tuple[list[Resolution], Catalog, str]:
    """The resolutions, the catalog they were decided on, and the target's database."""
    contract = contract or load_contract()
    raw_vars = read_source_vars() if raw_vars is None else raw_vars
    database = default_database(session)
    settings = [
        source_settings(s.name, raw_vars, [a.name for a in adapters_of(s.name)])
        for s in contract.sources
    ]
    names = set()
    for setting in settings:
        for table in contract.source(setting.name).tables:
            names.add(setting.table_name(table.name))
        for candidate in adapters_of(setting.name):
            for table in candidate.loader_tables().tables:
                names.add(setting.table_name(table.name))
    databases = sorted({s.database or database for s in settings})
    catalog = Catalog.read(session, databases, names)
    resolutions = [
        resolve(contract, setting, catalog, setting.database or database) for setting in settings
    ]
    return resolutions, catalog, database


def contract_schemas(
    catalog: Catalog, database: str, settings: SourceSettings, contract: Contract
) -> list[str]:
    """Schemas of `database` that hold every required table of the source's contract with
    its required columns (where `tessera sources init` may point a source)."""
    found: set[str] | None = None
    for table in contract.source(settings.name).required_tables:
        schemas = {
            schema
            for schema in catalog.schemas_with(
                database, settings.table_name(table.name), tuple(table.required_columns)
            )
            if set(c.lower() for c in table.required_columns)
            <= set(catalog.columns(database, schema, settings.table_name(table.name)) or {})
        }
        found = schemas if found is None else found & schemas
    return sorted(found or ())


def resolve(
    contract: Contract, settings: SourceSettings, catalog: Catalog, database: str
) -> Resolution:
    source = contract.source(settings.name)
    contract_tables = [
        _physical(
            catalog, database, settings.contract_schema, settings, t.name, t.loaded_at_field, t
        )
        for t in source.tables
    ]
    if settings.enabled == "off":
        return Resolution(settings.name, settings, "off", [], "switched off (enabled: false)")
    missing = [t for t in contract_tables if t.spec and t.spec.required and not t.exists]
    if settings.adapter is None and not missing:
        return Resolution(
            settings.name,
            settings,
            "contract",
            contract_tables,
            f"contract tables in {database}.{settings.contract_schema}",
        )
    candidates = (
        adapters_of(settings.name)
        if settings.adapter is None and settings.discover
        else [a for a in adapters_of(settings.name) if a.name == settings.adapter]
    )
    problems = []
    for candidate in candidates:
        schemas = _discover(catalog, database, settings, candidate)
        if len(schemas) == 1:
            schema = schemas[0]
            tables = [
                _physical(catalog, database, schema, settings, t.name, t.loaded_at_field, t)
                for t in candidate.loader_tables().tables
            ]
            how = "named" if settings.adapter else "found"
            return Resolution(
                settings.name,
                settings,
                "adapter",
                tables,
                f"adapter {candidate.name} ({how}) on {database}.{schema}",
                adapter=candidate,
            )
        if len(schemas) > 1:
            problems.append(
                f"tables of the {candidate.name} adapter's shape are in schemas "
                f"{', '.join(schemas)}: set tessera_sources.{settings.name}.schema (and adapter: "
                f"{candidate.name}) to the one to read"
            )
    if settings.adapter is not None:
        reason = (
            f"adapter {settings.adapter} is set but no {settings.adapter} tables "
            f"({'/'.join(candidates[0].signature.tables)}) are in {database}"
            + (f".{settings.schema}" if settings.schema else "")
        )
    else:
        reason = "no table " + ", ".join(t.location for t in missing)
        if candidates:
            reason += ", and no loader schema of the shape of adapter " + ", ".join(
                f"{a.name} ({'/'.join(a.signature.tables)})" for a in candidates
            )
    reason = "; ".join([reason, *problems])
    return Resolution(
        settings.name,
        settings,
        "absent",
        missing or contract_tables,
        reason,
        error=reason if settings.enabled == "on" else None,
    )


def _discover(
    catalog: Catalog, database: str, settings: SourceSettings, candidate: Adapter
) -> list[str]:
    signature = candidate.signature
    per_table = [
        catalog.schemas_with(database, settings.table_name(t), signature.columns)
        for t in signature.tables
    ]
    if signature.any:
        schemas = set().union(*per_table)
    else:
        schemas = set.intersection(*per_table) if per_table else set()
    if settings.schema:
        schemas = {s for s in schemas if s == settings.schema.lower()}
    return sorted(schemas)


def _physical(
    catalog: Catalog,
    database: str,
    schema: str,
    settings: SourceSettings,
    logical: str,
    loaded_at: str,
    spec: ContractTable,
) -> PhysicalTable:
    name = settings.table_name(logical)
    columns = catalog.columns(database, schema, name)
    stored_schema, stored_name = catalog.stored_name(database, schema, name)
    return PhysicalTable(
        logical=logical,
        database=database,
        schema=stored_schema,
        name=stored_name,
        loaded_at_field=loaded_at,
        columns=columns or {},
        exists=columns is not None,
        spec=spec,
        column_names=catalog.stored_columns(database, schema, name),
    )
