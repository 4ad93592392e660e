"""Small helpers over sqlglot trees that the segment checks share."""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlglot import exp

from tessera.segments.policy import SOURCE_DIALECT

PLAIN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def with_of(node: exp.Expression) -> exp.With | None:
    value = node.args.get("with_") if "with_" in node.args else node.args.get("with")
    return value if isinstance(value, exp.With) else None


def children(node: exp.Expression) -> Iterable[exp.Expression]:
    for value in node.args.values():
        if isinstance(value, exp.Expression):
            yield value
        elif isinstance(value, list):
            yield from (v for v in value if isinstance(v, exp.Expression))


def function_name(node: exp.Expression) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    if isinstance(node, exp.Func):
        return {"ReadCSV": "read_csv", "ReadParquet": "read_parquet", "ReadJSON": "read_json"}.get(
            type(node).__name__, node.sql_name().lower()
        )
    return node.sql(SOURCE_DIALECT)


def small_number(text: object, limit: int) -> bool:
    try:
        return 0 <= float(str(text)) <= limit
    except ValueError:
        return False
