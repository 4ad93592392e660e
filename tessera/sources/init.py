"""`tessera sources init`: write the tessera_sources block of dbt_project.yml from what a
warehouse holds, so every later build reads the same tables without looking for them.

Per source: the contract's tables where they are (raw, or the one schema holding all its
required tables), else the loader schema an adapter recognises, else off. Settings already in
the block that init does not decide (tables renames, adapter options) are kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tessera.sources.config import read_source_vars
from tessera.sources.contract import load_contract
from tessera.sources.resolve import contract_schemas, resolve_with_catalog
from tessera.warehouse import Session

DECIDED = ("enabled", "adapter", "schema", "database")


@dataclass(frozen=True)
class InitDecision:
    source: str
    entry: dict[str, Any]
    because: str


def decide(session: Session) -> list[InitDecision]:
    contract = load_contract()
    current = read_source_vars()
    resolutions, catalog, database = resolve_with_catalog(session, contract, current)
    decisions = []
    for resolution in resolutions:
        settings = resolution.settings
        kept = {k: v for k, v in (current.get(resolution.source) or {}).items() if k not in DECIDED}
        entry: dict[str, Any] = {}
        where = settings.database or database
        if resolution.mode == "off":
            entry, because = {"enabled": False}, "switched off already"
        elif resolution.mode == "contract":
            entry = {"enabled": True, "schema": settings.contract_schema}
            because = resolution.reason
        elif resolution.mode == "adapter" and resolution.adapter is not None:
            schema = resolution.tables[0].schema
            entry = {"enabled": True, "adapter": resolution.adapter.name, "schema": schema}
            because = resolution.reason
        else:
            schemas = contract_schemas(catalog, where, settings, contract)
            if len(schemas) == 1:
                entry = {"enabled": True, "schema": schemas[0]}
                because = f"contract tables found in {where}.{schemas[0]}"
            else:
                entry = {"enabled": False}
                because = (
                    f"contract tables in several schemas ({', '.join(schemas)}): "
                    "set its schema by hand"
                    if schemas
                    else resolution.reason
                )
        if settings.database and entry.get("enabled"):
            entry["database"] = settings.database
        decisions.append(InitDecision(resolution.source, {**entry, **kept}, because))
    return decisions
