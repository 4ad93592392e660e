"""Which warehouse relations a query reads, walked with SQL's CTE scoping: a CTE is visible
only in the query that defines it and in the CTEs after it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlglot import exp

from tessera.segments.policy import SOURCE_DIALECT
from tessera.segments.sql_nodes import PLAIN_NAME, children, function_name, with_of

if TYPE_CHECKING:
    from tessera.segments.sql_safety import _Safety

MAX_SCANS = 500  # table scans once every CTE reference is expanded


class Scopes:
    """Walks a query with SQL's CTE scoping, collecting the warehouse relations it reads."""

    def __init__(self, safety: _Safety, report: bool) -> None:
        self.safety = safety
        self.report = report
        self.found: set[str] = set()
        self.scans = 0
        self.first_expensive: exp.Table | None = None

    def relations(self, tree: exp.Expression) -> set[str]:
        self.scans = self._walk(tree, {})
        return self.found

    def _walk(self, node: exp.Expression, visible: dict[str, int]) -> int:
        """Returns the table scans under `node` with CTE references expanded."""
        scans = 0
        with_ = with_of(node)
        if with_ is not None:
            if with_.args.get("recursive") and self.report:
                self.safety.add(
                    "recursive_cte",
                    "WITH RECURSIVE is not allowed in segments (unbounded work per refresh)",
                    with_,
                )
            visible = dict(visible)
            for cte in with_.expressions:
                body = self._walk(cte.this, visible)  # sees only the CTEs before it
                alias = cte.alias_or_name
                if not PLAIN_NAME.match(alias or ""):
                    if self.report:
                        self.safety.add(
                            "bad_cte_name",
                            f"CTE name {alias!r} must be a plain name (letters, digits, _)",
                            cte,
                        )
                    continue
                visible[alias.lower()] = body
        for child in children(node):
            if child is with_:
                continue
            if isinstance(child, exp.Table):
                scans += self._table(child, visible)
            scans += self._walk(child, visible)
        return scans

    def _table(self, table: exp.Table, visible: dict[str, int]) -> int:
        if not isinstance(table.this, exp.Identifier):
            if self.report and not isinstance(table.this, exp.Func):
                self.safety.add(
                    "table_function",
                    f"{table.sql(SOURCE_DIALECT)} is not a relation; read a warehouse relation",
                    table,
                )
            elif self.report and self.safety.function_allowed(table.this):
                self.safety.add(
                    "table_function",
                    f"table function {function_name(table.this)}() is not allowed; read a "
                    "warehouse relation",
                    table,
                )
            return 1
        name = table.name.lower()
        if not table.text("db") and not table.args.get("catalog") and name in visible:
            if visible[name] > MAX_SCANS and self.first_expensive is None:
                self.first_expensive = table
            return visible[name]
        if self.report:
            relation = self.safety.check_relation(table)
        else:
            db = table.text("db")
            relation = f"{db}.{table.name}".lower() if db else None
        if relation:
            self.found.add(relation)
        return 1
