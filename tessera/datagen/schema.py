"""The tables the demo generator writes: the source contract's raw tables, and its truth.

The raw tables are the source contract (`tessera.sources.contract`, read from the dbt sources
YAML), which the generator writes to like any loader; only the generator's ground truth is
defined here. Column order is the column order written. Types are DuckDB types; the Snowflake
loader maps them (VARCHAR -> TEXT, TIMESTAMP -> TIMESTAMP_NTZ, DOUBLE -> FLOAT).

Raw values are deliberately messy (see `tessera.datagen.mess`): emails padded and
mixed-case, phones in many formats, placeholder ids. Staging normalises; raw keeps them.
"""

from __future__ import annotations

from dataclasses import dataclass

from tessera.sources.contract import load_contract


@dataclass(frozen=True)
class RawTable:
    name: str
    description: str
    columns: tuple[tuple[str, str, str], ...]  # (name, duckdb type, description)
    loaded_at_field: str

    @property
    def column_names(self) -> list[str]:
        return [c[0] for c in self.columns]

    def ddl(self, schema: str = "raw") -> str:
        cols = ", ".join(f"{name} {type_}" for name, type_, _ in self.columns)
        return f"create table if not exists {schema}.{self.name} ({cols})"


def _contract_table(source: str, table: str) -> RawTable:
    """A table of the source contract (tessera.sources.contract), as the generator writes it."""
    spec = load_contract().table(source, table)
    return RawTable(
        name=spec.name,
        description=spec.description,
        columns=tuple((c.name, c.data_type.upper(), c.description) for c in spec.columns),
        loaded_at_field=spec.loaded_at_field,
    )


# The generator writes every contract table but shop.customers (optional: the shop's accounts
# reach identity through orders.user_id here).
EVENTS = _contract_table("segment", "events")
ORDERS = _contract_table("shop", "orders")
ORDER_ITEMS = _contract_table("shop", "order_items")
RETURNS = _contract_table("shop", "returns")
CRM_CONTACTS = _contract_table("crm", "crm_contacts")
EMAIL_EVENTS = _contract_table("esp", "email_events")
AD_CLICKS = _contract_table("ads", "ad_clicks")
SUPPORT_TICKETS = _contract_table("helpdesk", "support_tickets")
POS_PURCHASES = _contract_table("pos", "pos_purchases")
CONSENTS = _contract_table("cmp", "consents")

RAW_TABLES: tuple[RawTable, ...] = (
    EVENTS,
    ORDERS,
    ORDER_ITEMS,
    RETURNS,
    CRM_CONTACTS,
    EMAIL_EVENTS,
    AD_CLICKS,
    SUPPORT_TICKETS,
    POS_PURCHASES,
    CONSENTS,
)

TRUTH_IDENTIFIER_PERSON = RawTable(
    name="identifier_person",
    description=(
        "Ground truth written by the generator for tests and benchmarks only; no model reads "
        "it. One row per (id_type, normalised id_value, person_key). A shared device appears "
        "once per person who used it. Placeholder values are not listed."
    ),
    loaded_at_field="",
    columns=(
        (
            "id_type",
            "VARCHAR",
            "email, phone, anonymous_id, device_id, user_id, crm_id, loyalty_id.",
        ),
        ("id_value", "VARCHAR", "Normalised value: email trimmed and lower-cased, phone E.164."),
        ("person_key", "BIGINT", "The hidden person the identifier belongs to."),
    ),
)

TRUTH_IDENTIFIER_EVIDENCE = RawTable(
    name="identifier_evidence",
    description=(
        "Ground truth of what the data can prove, for scoring identity resolution. An "
        "identifier of exactly one person is listed when some raw record carries it together "
        "with another identifier of that person (an identify call with user_id and "
        "anonymous_id, an order with email and phone ...); placeholders and identifiers "
        "shared by several persons (a household tablet) carry no evidence. Records chain: "
        "identifiers of one person connected through such records form an evidence group, "
        "and each row names one member of its group (linked_id_type, linked_id_value). The "
        "groups are the connected components of these rows taken as edges (an append can "
        "join groups of an earlier run). An identifier absent here never appears with "
        "another of its person's identifiers: no resolver can link it."
    ),
    loaded_at_field="",
    columns=(
        ("id_type", "VARCHAR", "Identifier type, as in truth.identifier_person."),
        ("id_value", "VARCHAR", "Normalised value, as in truth.identifier_person."),
        ("person_key", "BIGINT", "The hidden person both identifiers belong to."),
        ("linked_id_type", "VARCHAR", "Type of an identifier in the same evidence group."),
        ("linked_id_value", "VARCHAR", "Its normalised value."),
    ),
)

TRUTH_PERSONS = RawTable(
    name="persons",
    description="Ground truth per hidden person: latent traits used to drive behaviour.",
    loaded_at_field="",
    columns=(
        ("person_key", "BIGINT", "Hidden person."),
        ("household_key", "BIGINT", "Household (persons in one household share a device)."),
        ("country", "VARCHAR", "Country code."),
        ("propensity", "DOUBLE", "Latent purchase propensity in [0, 1]."),
        ("is_registered", "BOOLEAN", "Has a shop account (user_id)."),
        ("churned_at", "TIMESTAMP", "When the person stopped engaging; null if active."),
    ),
)

ID_TYPES: tuple[str, ...] = (
    "user_id",
    "crm_id",
    "email",
    "phone",
    "loyalty_id",
    "device_id",
    "anonymous_id",
)
