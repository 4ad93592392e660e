"""The adapters: loader schemas Tessera maps into the contract (models/adapters/<adapter>/).

The same registry as the dbt macro `tessera_adapters()`, with the loaders' tables read from
each adapter's sources YAML. A test compiles the project and checks that both agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from tessera.settings import DBT_PROJECT_DIR
from tessera.sources.contract import ContractSource, load_sources_yaml


@dataclass(frozen=True)
class Signature:
    """How a loader's schema is recognised: `tables` (any one, or all) holding one of
    `columns`."""

    tables: tuple[str, ...]
    any: bool
    columns: tuple[str, ...]


@dataclass(frozen=True)
class Adapter:
    name: str
    source: str  # the contract source it feeds
    provides: tuple[str, ...]  # the contract tables its models provide
    dbt_source: str
    loader: str  # who writes that shape
    signature: Signature

    def model(self, table: str) -> str:
        return f"adapter_{self.name}__{table}"

    def loader_tables(self, project_dir: Path = DBT_PROJECT_DIR) -> ContractSource:
        return _loader_tables(project_dir, self.name, self.dbt_source)


ADAPTERS: tuple[Adapter, ...] = (
    Adapter(
        name="segment",
        source="segment",
        provides=("events",),
        dbt_source="segment_warehouse",
        loader="Segment or RudderStack warehouse schema (tracks, pages, identifies ...)",
        signature=Signature(("tracks", "pages", "identifies"), True, ("anonymous_id",)),
    ),
    Adapter(
        name="shopify_fivetran",
        source="shop",
        provides=("orders", "order_items", "returns", "customers"),
        dbt_source="shopify_fivetran",
        loader="Shopify as Fivetran lands it (order, order_line, customer ...)",
        signature=Signature(("order", "order_line"), False, ("_fivetran_synced",)),
    ),
    Adapter(
        name="hubspot",
        source="crm",
        provides=("crm_contacts",),
        dbt_source="hubspot",
        loader="HubSpot contacts as Fivetran (contact) or Airbyte (contacts) lands them",
        signature=Signature(("contact", "contacts"), True, ("property_email", "properties_email")),
    ),
)
ALIASES = {"rudderstack": "segment"}


def adapter(name: str) -> Adapter:
    name = ALIASES.get(name, name)
    for candidate in ADAPTERS:
        if candidate.name == name:
            return candidate
    known = ", ".join([a.name for a in ADAPTERS] + list(ALIASES))
    raise KeyError(f"no adapter {name!r} (adapters: {known})")


def adapters_of(source: str) -> list[Adapter]:
    return [a for a in ADAPTERS if a.source == source]


@cache
def _loader_tables(project_dir: Path, name: str, dbt_source: str) -> ContractSource:
    path = project_dir / "models" / "adapters" / name / f"_{name}__sources.yml"
    for source in load_sources_yaml(path, strict=False):
        if source.name == dbt_source:
            return source
    raise KeyError(f"{path}: no source {dbt_source!r}")
