"""Cartesian products: joins that multiply two unbounded inputs without an equality between
them are refused before they run."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlglot import exp

from tessera.segments.sql_nodes import small_number

if TYPE_CHECKING:
    from tessera.segments.sql_safety import _Safety

SMALL_ROWS = 1_000  # VALUES / LIMIT at most this many rows: joining it cannot explode
MAX_SMALL_PRODUCT = 1_000_000


class Cartesian:
    """Refuses joins that multiply two unbounded inputs without an equality between them."""

    def __init__(self, safety: _Safety) -> None:
        self.safety = safety

    def check(self, tree: exp.Expression) -> None:
        sizes: dict[str, int | None] = {}
        for cte in tree.find_all(exp.CTE):
            sizes[cte.alias_or_name.lower()] = rows_bound(cte.this)
        for select in tree.find_all(exp.Select):
            self._check_select(select, sizes)

    def _check_select(self, select: exp.Select, sizes: dict[str, int | None]) -> None:
        from_ = select.args.get("from_") or select.args.get("from")
        if from_ is None:
            return
        items = [(from_.this, None)] + [(j.this, j) for j in select.args.get("joins") or []]
        if len(items) < 2:
            return
        aliases = [alias_of(item) for item, _ in items]
        bounds = [source_bound(item, sizes) for item, _ in items]
        edges = equalities(select.args.get("where"))
        for (_, join), alias in zip(items[1:], aliases[1:], strict=True):
            if join is not None:
                if (
                    join.args.get("using")
                    or join.args.get("method")
                    or join.args.get("kind")
                    in (
                        "SEMI",
                        "ANTI",
                    )
                ):
                    edges |= {frozenset({alias, other}) for other in aliases}
                edges |= equalities(join.args.get("on"))
        big = [a for a, b in zip(aliases, bounds, strict=True) if b is None]
        small_product = 1
        for bound in bounds:
            if bound is not None:
                small_product *= max(bound, 1)
        if small_product > MAX_SMALL_PRODUCT and len(items) > 1:
            self.safety.add(
                "cartesian_product",
                f"the joined inputs can multiply to over {MAX_SMALL_PRODUCT:,} rows",
                select,
            )
            return
        if len(big) < 2:
            return
        linked = {big[0]}
        changed = True
        while changed:
            changed = False
            for edge in edges:
                if edge & linked and not edge <= linked:
                    linked |= edge
                    changed = True
        unlinked = [a for a in big if a not in linked]
        if unlinked:
            item = items[aliases.index(unlinked[0])][0]
            self.safety.add(
                "cartesian_product",
                f"{big[0]} and {unlinked[0]} are joined without an equality between them: a "
                "cartesian product of two unbounded inputs. Join on a key (e.g. person_id)",
                item,
            )


def rows_bound(query: exp.Expression) -> int | None:
    """An upper bound on the rows a query returns, or None when it is unbounded."""
    if isinstance(query, exp.Subquery):
        return rows_bound(query.this)
    if isinstance(query, exp.Values):
        return len(query.expressions)
    if isinstance(query, exp.Select):
        limit = query.args.get("limit")
        if limit is not None:
            value = limit.args.get("expression")
            if isinstance(value, exp.Literal) and small_number(value.this, SMALL_ROWS):
                return int(float(value.this))
        grouped = query.args.get("group") is not None
        aggregated = any(
            isinstance(p.unalias(), exp.AggFunc) for p in query.expressions
        ) and not any(p.find(exp.Window) for p in query.expressions)
        if aggregated and not grouped:
            return 1
        if query.args.get("from_") is None and query.args.get("from") is None:
            return 1
    return None


def source_bound(item: exp.Expression, sizes: dict[str, int | None]) -> int | None:
    if isinstance(item, exp.Table):
        if isinstance(item.this, exp.Identifier) and not item.text("db"):
            return sizes.get(item.name.lower())
        return None
    if isinstance(item, exp.Subquery | exp.Values):
        return rows_bound(item)
    if isinstance(item, exp.Lateral | exp.Unnest):
        return SMALL_ROWS  # one row's list or a correlated lookup
    return None


def alias_of(item: exp.Expression) -> str:
    return (item.alias_or_name or "").lower()


def equalities(condition: exp.Expression | None) -> set[frozenset[str]]:
    """Pairs of table aliases that an equality in `condition` must link for a row to pass:
    equalities among its AND-ed terms, and under an OR only the links every branch makes
    (`a.id = b.id or true` links nothing)."""
    if condition is None:
        return set()
    node = condition.unnest()
    if isinstance(node, exp.And | exp.Or):
        parts = [equalities(part) for part in operands(node, type(node))]
        if isinstance(node, exp.And):
            return set().union(*parts)
        return set.intersection(*parts)
    edges: set[frozenset[str]] = set()
    if isinstance(node, exp.EQ | exp.NullSafeEQ):
        left = {c.table.lower() for c in node.left.find_all(exp.Column) if c.table}
        right = {c.table.lower() for c in node.right.find_all(exp.Column) if c.table}
        edges |= {frozenset({a, b}) for a in left for b in right if a != b}
    return edges


def operands(node: exp.Expression, kind: type[exp.Expression]) -> list[exp.Expression]:
    """The terms of a chain of one operator (`a and b and c`), without recursion."""
    found, stack = [], [node]
    while stack:
        item = stack.pop()
        unwrapped = item.unnest()
        if isinstance(unwrapped, kind):
            stack += [unwrapped.right, unwrapped.left]
        else:
            found.append(unwrapped)
    return found
