"""The contract as README's table (tests/sources check that README shows exactly this)."""

from __future__ import annotations

from tessera.sources.contract import Contract, load_contract

SOURCE_ORDER = ("segment", "shop", "crm", "esp", "ads", "helpdesk", "pos", "cmp")


def contract_table(contract: Contract | None = None) -> str:
    contract = contract or load_contract()
    lines = [
        "| source.table | key | required columns | identifier columns (type) | load timestamp |",
        "|---|---|---|---|---|",
    ]
    order = {name: i for i, name in enumerate(SOURCE_ORDER)}
    for source in sorted(contract.sources, key=lambda s: order.get(s.name, len(order))):
        for table in source.tables:
            optional = "" if table.required else " (optional table)"
            ids = ", ".join(
                f"`{c.name}` ({c.id_type if c.id_type != 'subject_type' else 'per subject_type'})"
                for c in table.identifier_columns
            )
            lines.append(
                f"| `{table.qualified_name}`{optional} | {', '.join(table.key)} "
                f"| {', '.join(table.required_columns)} | {ids or '-'} "
                f"| `{table.loaded_at_field}` |"
            )
    return "\n".join(lines)
