"""Static proof that a qualified segment query returns at most one row per person_id.

A query's keys are sets of output columns that are unique together. They come from, in
order of strength: a single-row aggregate, GROUP BY, DISTINCT [ON], QUALIFY row_number()
over (partition by ...) = 1, or the driving relation's key when every join binds the joined
relation's whole key (to a literal or an already-joined column), so that it cannot fan out.
What cannot be proven here is checked at runtime by `validate.check_unique`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sqlglot import exp
from sqlglot.optimizer.scope import Scope, build_scope

Key = frozenset[str]
ColumnRef = tuple[str, str]  # (source alias, column name)
RelationKeys = Callable[[str], tuple[tuple[str, ...], ...]]


@dataclass
class UniquenessVerdict:
    proven: bool
    reasons: list[str] = field(default_factory=list)


def person_id_is_unique(
    qualified: exp.Expression, relation_keys: RelationKeys, key_column: str = "person_id"
) -> UniquenessVerdict:
    """`qualified` must have gone through sqlglot's qualify (aliases and columns explicit)."""
    scope = build_scope(qualified)
    if scope is None:
        return UniquenessVerdict(False, ["the query could not be analysed"])
    reasons: list[str] = []
    keys = _KeyFinder(relation_keys, reasons).keys(scope)
    proven = any(key <= {key_column} for key in keys)
    if not proven and not reasons:
        reasons.append(
            "nothing makes person_id unique (no GROUP BY person_id, no DISTINCT, and the "
            "driving relation is not keyed by person_id)"
        )
    return UniquenessVerdict(proven, [] if proven else reasons)


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[ColumnRef, ColumnRef] = {}

    def find(self, item: ColumnRef) -> ColumnRef:
        self.parent.setdefault(item, item)
        while self.parent[item] != item:
            self.parent[item] = self.parent[self.parent[item]]
            item = self.parent[item]
        return item

    def union(self, a: ColumnRef, b: ColumnRef) -> None:
        self.parent[self.find(a)] = self.find(b)


@dataclass
class _KeyFinder:
    relation_keys: RelationKeys
    reasons: list[str]
    depth: int = 0

    def keys(self, scope: Scope) -> set[Key]:
        expression = scope.expression
        if isinstance(expression, exp.SetOperation):
            left, _right = scope.set_operation_scopes
            if isinstance(expression, exp.Union):
                if expression.args.get("distinct"):
                    return {frozenset(expression.named_selects)}
                self._reason("UNION ALL can repeat a person_id; use UNION (distinct)")
                return set()
            return self._nested(left)  # INTERSECT / EXCEPT keep a subset of the left rows
        if isinstance(expression, exp.Lateral) and isinstance(expression.this, exp.Subquery):
            expression = expression.this.this  # a lateral subquery: keys of its SELECT
        if isinstance(expression, exp.Select):
            return self._select_keys(expression, scope)
        if isinstance(expression, exp.Values):
            return _values_keys(expression)
        return set()

    def _nested(self, scope: Scope) -> set[Key]:
        return _KeyFinder(self.relation_keys, self.reasons, self.depth + 1).keys(scope)

    def _reason(self, message: str) -> None:
        if self.depth == 0:
            self.reasons.append(message)

    def _select_keys(self, select: exp.Select, scope: Scope) -> set[Key]:
        outputs = {p.alias_or_name: p.unalias() for p in select.expressions}
        equivalent = _UnionFind()
        for left, right in _equalities(select.args.get("where")):
            if isinstance(left, exp.Column) and isinstance(right, exp.Column):
                equivalent.union(_ref(left), _ref(right))
        for join in select.args.get("joins") or []:
            if not join.side and join.kind not in ("SEMI", "ANTI"):
                for left, right in _equalities(join.args.get("on")):
                    if isinstance(left, exp.Column) and isinstance(right, exp.Column):
                        equivalent.union(_ref(left), _ref(right))

        if not select.args.get("group") and _has_plain_aggregate(select):
            return {frozenset()}
        group = select.args.get("group")
        if group is not None:
            key = _output_key(group.expressions, outputs, equivalent)
            return {key} if key is not None else set()

        keys: set[Key] = set()
        distinct = select.args.get("distinct")
        if distinct is not None:
            on = distinct.args.get("on")
            columns = on.expressions if isinstance(on, exp.Tuple) else ([on] if on else [])
            key = _output_key(columns, outputs, equivalent) if on else frozenset(outputs)
            if key is not None:
                keys.add(key)
        partition = _qualify_first_row_partition(select.args.get("qualify"))
        if partition is not None:
            key = _output_key(partition, outputs, equivalent)
            if key is not None:
                keys.add(key)
        for row_key in self._join_keys(select, scope):
            key = _output_key(
                [exp.column(c, table=a) for a, c in sorted(row_key)], outputs, equivalent
            )
            if key is not None:
                keys.add(key)
        return keys

    def _source_keys(self, source: object) -> set[Key] | None:
        """Keys of a FROM/JOIN source, None when it is not something we can reason about."""
        if isinstance(source, Scope):
            return self._nested(source)
        if isinstance(source, exp.Table) and source.db:
            return {frozenset(k) for k in self.relation_keys(f"{source.db}.{source.name}")}
        return None

    def _join_keys(self, select: exp.Select, scope: Scope) -> set[frozenset[ColumnRef]]:
        from_ = select.args.get("from_")
        if from_ is None:
            return {frozenset()}
        driving = from_.this.alias_or_name
        driving_keys = self._source_keys(scope.sources.get(driving))
        if not driving_keys:
            self._reason(
                f"the driving relation {_describe(scope.sources.get(driving), driving)} "
                "has no known key"
            )
            return set()
        where_equalities = _equalities(select.args.get("where"))
        # `where s.model = 'churn'` fixes that key column: the rest of the key is unique.
        fixed = _bound_columns(driving, where_equalities, joined=set())
        row_keys = {frozenset((driving, c) for c in key - fixed) for key in driving_keys}
        joined = {driving}
        for join in select.args.get("joins") or []:
            alias = join.this.alias_or_name
            if join.kind in ("SEMI", "ANTI"):
                continue
            if join.side in ("RIGHT", "FULL"):
                self._reason(f"{join.side} JOIN of {alias} can add rows; use LEFT or INNER")
                return set()
            source = scope.sources.get(alias)
            joined_keys = self._source_keys(source)
            equalities = _equalities(join.args.get("on")) + where_equalities
            bound = _bound_columns(alias, equalities, joined)
            joined.add(alias)
            if joined_keys and any(key <= bound for key in joined_keys):
                continue  # at most one joined row per driving row
            described = _describe(source, alias)
            if not joined_keys:
                self._reason(f"join to {described} may fan out: it has no known key")
                return set()
            wanted = min(joined_keys, key=len)
            unbound = sorted(wanted - bound)
            self._reason(
                f"join to {described} may return several rows per person: its key "
                f"({', '.join(sorted(wanted))}) is not fully bound; bind "
                + ", ".join(f"{alias}.{c}" for c in unbound)
                + " with an equality (e.g. a literal) or aggregate by person_id"
            )
            row_keys = {
                rk | frozenset((alias, c) for c in jk - bound)
                for rk in row_keys
                for jk in joined_keys
            }
        return row_keys


def _values_keys(values: exp.Values) -> set[Key]:
    """Columns of a VALUES list whose literals are all different are keys of it."""
    names = values.alias_column_names
    rows = [row.expressions if isinstance(row, exp.Tuple) else [row] for row in values.expressions]
    keys: set[Key] = set()
    for index, name in enumerate(names):
        cells = [row[index] for row in rows if index < len(row)]
        if (
            len(cells) == len(rows)
            and all(isinstance(c, exp.Literal) for c in cells)
            and len({(c.is_string, c.this) for c in cells}) == len(cells)
        ):
            keys.add(frozenset({name}))
    return keys


def _describe(source: object, alias: str) -> str:
    if isinstance(source, exp.Table):
        return f"{source.db}.{source.name}" + (f" (alias {alias})" if alias != source.name else "")
    return alias


def _ref(column: exp.Column) -> ColumnRef:
    return (column.table, column.name)


def _conjuncts(condition: exp.Expression | None) -> list[exp.Expression]:
    if condition is None:
        return []
    if isinstance(condition, exp.Where):
        condition = condition.this
    if isinstance(condition, exp.Paren):
        return _conjuncts(condition.this)
    if isinstance(condition, exp.And):
        return _conjuncts(condition.left) + _conjuncts(condition.right)
    return [condition]


def _equalities(condition: exp.Expression | None) -> list[tuple[exp.Expression, exp.Expression]]:
    return [(c.left, c.right) for c in _conjuncts(condition) if isinstance(c, exp.EQ)]


def _bound_columns(
    alias: str,
    equalities: list[tuple[exp.Expression, exp.Expression]],
    joined: set[str],
) -> frozenset[str]:
    bound: set[str] = set()
    for left, right in equalities:
        for this, other in ((left, right), (right, left)):
            if not (isinstance(this, exp.Column) and this.table == alias):
                continue
            if isinstance(other, exp.Literal) or (
                isinstance(other, exp.Column) and other.table in joined
            ):
                bound.add(this.name)
    return frozenset(bound)


def _has_plain_aggregate(select: exp.Select) -> bool:
    for projection in select.expressions:
        for agg in projection.find_all(exp.AggFunc):
            node = agg.parent
            inside_window_or_subquery = False
            while node is not None and node is not projection:
                if isinstance(node, (exp.Window, exp.Query)):
                    inside_window_or_subquery = True
                    break
                node = node.parent
            if not inside_window_or_subquery and not isinstance(agg.parent, exp.Window):
                return True
    return False


def _qualify_first_row_partition(qualify: exp.Expression | None) -> list[exp.Expression] | None:
    """Partition columns of `QUALIFY row_number() over (partition by ...) = 1` (or <= 1)."""
    if qualify is None:
        return None
    for condition in _conjuncts(qualify.this if isinstance(qualify, exp.Qualify) else qualify):
        if not isinstance(condition, (exp.EQ, exp.LTE, exp.LT)):
            continue
        window, bound = condition.left, condition.right
        limit = 2 if isinstance(condition, exp.LT) else 1
        if (
            isinstance(window, exp.Window)
            and isinstance(window.this, exp.RowNumber)
            and isinstance(bound, exp.Literal)
            and bound.is_int
            and int(bound.this) == limit
        ):
            return list(window.args.get("partition_by") or [])
    return None


def _output_key(
    columns: Iterable[exp.Expression],
    outputs: dict[str, exp.Expression],
    equivalent: _UnionFind,
) -> Key | None:
    """Output names carrying every column of a source-level key, or None if one is missing."""
    names: set[str] = set()
    for column in columns:
        if not isinstance(column, exp.Column):
            return None
        target = equivalent.find(_ref(column))
        name = next(
            (
                out
                for out, expression in outputs.items()
                if _carries(expression, target, equivalent)
            ),
            None,
        )
        if name is None:
            return None
        names.add(name)
    return frozenset(names)


def _carries(expression: exp.Expression, target: ColumnRef, equivalent: _UnionFind) -> bool:
    if isinstance(expression, exp.Column):
        return equivalent.find(_ref(expression)) == target
    if isinstance(expression, exp.Coalesce):  # what qualify makes of JOIN ... USING
        parts = [expression.this, *expression.expressions]
        return all(isinstance(p, exp.Column) for p in parts) and all(
            equivalent.find(_ref(p)) == target for p in parts
        )
    return False
