"""One row per person: a segment selects `person_id` exactly once, as the person_id column of
a relation, and its uniqueness is proven (uniqueness.py) or, where the policy allows, left to
the runtime check."""

from __future__ import annotations

from typing import Protocol

from sqlglot import exp

from tessera.segments.columns import selects
from tessera.segments.policy import KEY_COLUMN, SOURCE_DIALECT, ValidationPolicy
from tessera.segments.uniqueness import person_id_is_unique


class _Reporter(Protocol):
    policy: ValidationPolicy

    def add(self, code: str, message: str, where: exp.Expression | None = None) -> None: ...

    def warn(self, code: str, message: str, where: exp.Expression | None = None) -> None: ...


def check_person_id(
    reporter: _Reporter, tree: exp.Expression, names: tuple[str, ...], expanded: bool
) -> None:
    lowered = [n.lower() for n in names]
    count = lowered.count(KEY_COLUMN)
    projections = selects(tree)
    has_star = any(isinstance(p, exp.Star) or p.is_star for p in projections)
    if count > 1:
        reporter.add(
            "person_id_duplicate",
            f"person_id is selected {count} times; select it exactly once",
            next((p for p in projections[1:] if p.alias_or_name.lower() == KEY_COLUMN), None)
            or tree,
        )
    elif count == 0 and (expanded or not has_star):
        reporter.add(
            "person_id_missing",
            "the segment must select a person_id column (one row per person)",
            tree,
        )
    elif count == 0:
        reporter.warn("person_id_unchecked", "SELECT * not expanded: no warehouse schema")
    duplicates = sorted({n for n in lowered if lowered.count(n) > 1 and n != KEY_COLUMN})
    if duplicates:
        reporter.add(
            "duplicate_column",
            f"output column(s) {', '.join(duplicates)} appear more than once",
            tree,
        )
    if count == 1 and isinstance(tree, exp.Select):
        projection = next(p for p in projections if p.alias_or_name.lower() == KEY_COLUMN)
        source = projection.unalias()
        parts = [source.this, *source.expressions] if isinstance(source, exp.Coalesce) else [source]
        if not all(isinstance(p, exp.Column) and p.name.lower() == KEY_COLUMN for p in parts):
            reporter.add(
                "person_id_not_a_person",
                "person_id must be the person_id column of a relation, not "
                f"{source.sql(SOURCE_DIALECT)!r}",
                projection,
            )


def check_uniqueness(reporter: _Reporter, qualified: exp.Expression) -> None:
    verdict = person_id_is_unique(qualified, reporter.policy.keys_of, KEY_COLUMN)
    if verdict.proven:
        return
    message = (
        "cannot prove one row per person_id: "
        + "; ".join(verdict.reasons)
        + ". Use GROUP BY person_id, SELECT DISTINCT, or QUALIFY row_number() over "
        "(partition by person_id order by ...) = 1"
    )
    if reporter.policy.require_proven_uniqueness:
        reporter.add("not_unique", message)
    else:
        reporter.warn("uniqueness_unproven", message + " (checked at runtime by check_unique)")
