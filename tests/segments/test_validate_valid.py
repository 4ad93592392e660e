"""Realistic segment SQL is accepted, and what validation learns about it is right."""

from __future__ import annotations

import pytest

from tessera.segments.checks import check_segment_text
from tessera.segments.jinja import RelationResolver, render_segment_sql
from tessera.segments.validate import (
    SegmentValidationError,
    ValidationPolicy,
    check_unique,
    find_issues,
    validate_sql,
)
from tessera.warehouse import Session

P = "profiles.customer_profiles"
S = "ml.person_scores"

VALID = [
    pytest.param(f"select person_id, email from {P} where consent_email", id="plain_filter"),
    pytest.param(f"select * from {P} where clv_quintile = 5", id="select_star"),
    pytest.param(
        f"select p.person_id, p.email, s.score from {P} p "
        f"join {S} s on s.person_id = p.person_id and s.model = 'churn_90d' where s.decile >= 8",
        id="scores_join_bound_in_on",
    ),
    pytest.param(
        f"select p.person_id, s.score from {P} p left join {S} s "
        "on s.person_id = p.person_id where s.model = 'purchase_30d'",
        id="scores_join_bound_in_where",
    ),
    pytest.param(
        f"with churn as (select person_id, score from {S} where model = 'churn_90d'),\n"
        f"profiles as (select * from {P})\n"
        "select profiles.person_id, profiles.email, churn.score\n"
        "from profiles join churn on churn.person_id = profiles.person_id",
        id="import_ctes",
    ),
    pytest.param(
        "select g.person_id, count(*) as identifiers from identity.identity_graph g "
        "group by g.person_id having count(*) > 1",
        id="group_by_person",
    ),
    pytest.param(
        "select distinct person_id from identity.identity_graph where id_type = 'email'",
        id="distinct",
    ),
    pytest.param(
        f"select person_id, score from {S} "
        "qualify row_number() over (partition by person_id order by score desc) = 1",
        id="qualify_first_row",
    ),
    pytest.param(
        f"select p.person_id from {P} p join identity.persons using (person_id) "
        "where p.last_order_at >= current_date - interval 30 day",
        id="using_join_and_interval",
    ),
    pytest.param(
        f"select person_id from {P} where person_id in "
        "(select person_id from identity.identity_graph where id_type = 'phone')",
        id="semi_join_subquery",
    ),
    pytest.param(
        f"select person_id from {P} except select person_id from identity.persons "
        "where not is_known",
        id="except",
    ),
    pytest.param(
        f"select person_id, lower(trim(email)) as email,\n"
        "  coalesce(first_name, '') || ' ' || coalesce(last_name, '') as full_name,\n"
        "  date_diff('day', last_order_at, current_timestamp) as days_since,\n"
        "  round(revenue_total, 2) as revenue,\n"
        "  case when clv_quintile >= 4 then 'high' else 'standard' end as tier\n"
        f"from {P} -- a comment is fine\n/* so is this */",
        id="functions_and_comments",
    ),
]


@pytest.mark.parametrize("sql", VALID)
def test_valid_segments_are_accepted(session: Session, sql: str) -> None:
    validated = validate_sql(sql, name="ok", columns_from=session)
    assert validated.output_columns.count("person_id") == 1
    assert not [w for w in validated.warnings if w.severity == "error"]
    result = check_unique(session, validated)  # the static proof agrees with the data
    assert result.ok


def test_select_star_expands_to_the_warehouse_columns(session: Session) -> None:
    validated = validate_sql(f"select * from {P}", columns_from=session)
    assert validated.output_columns[:3] == ("person_id", "email", "phone")
    assert validated.relations == (P,)


def test_offline_validation_checks_rules_but_warns_about_columns() -> None:
    issues, validated = find_issues(f"select person_id, nope from {P}", "offline")
    assert validated is not None
    assert [i.code for i in issues] == ["columns_not_checked"]
    assert issues[0].severity == "warning"


def test_unproven_uniqueness_can_be_left_to_the_runtime_check(session: Session) -> None:
    sql = f"select p.person_id, s.score from {P} p join {S} s on s.person_id = p.person_id"
    lenient = ValidationPolicy(require_proven_uniqueness=False)
    validated = validate_sql(sql, name="fanout", policy=lenient, columns_from=session)
    assert [w.code for w in validated.warnings] == ["uniqueness_unproven"]
    with pytest.raises(SegmentValidationError, match="400 rows, 200 distinct person_ids"):
        check_unique(session, validated)


def test_allowed_relations_are_configurable(session: Session) -> None:
    policy = ValidationPolicy(allowed_relations=frozenset({P}))
    with pytest.raises(SegmentValidationError, match="ml.person_scores is not readable"):
        validate_sql(f"select person_id from {S} where model = 'churn_90d'", policy=policy)


def test_jinja_refs_resolve_to_relations_and_keep_positions(session: Session) -> None:
    template = (
        "{# a comment\n   over two lines #}\n"
        "select p.person_id, s.score\n"
        "from {{ ref('customer_profiles') }} p\n"
        "join {{ source('ml', 'person_scores') }} s on s.person_id = p.person_id\n"
        "where s.model = 'churn_90d' and s.decile >= {{ var('min_decile') }} and p.nope > 1"
    )
    resolver = RelationResolver(vars={"min_decile": 8})
    sql = render_segment_sql(template, "jinja_ok", resolver)
    assert "from profiles.customer_profiles p" in sql
    assert "join ml.person_scores s" in sql
    assert "s.decile >= 8" in sql
    report = check_segment_text(template, "jinja_ok", resolver, columns_from=session)
    [issue] = report.errors
    assert issue.code == "unknown_column"
    # where `nope` is in the file (line 6, after the var block), not in the rendered SQL
    assert (issue.line, issue.column) == (6, 75)


def test_segments_can_read_other_segments(session: Session) -> None:
    known = {"segments": {"vips": {"person_id": "VARCHAR", "email": "VARCHAR"}}}
    validated = validate_sql(
        f"select v.person_id, p.country from segments.vips v join {P} p "
        "on p.person_id = v.person_id",
        columns_from=session,
        known_schema=known,
    )
    assert validated.output_columns == ("person_id", "country")


def test_every_allowlisted_function_is_a_sqlglot_function_class() -> None:
    from sqlglot import exp

    from tessera.segments.policy import DEFAULT_ALLOWED_FUNCTIONS

    missing = [n for n in DEFAULT_ALLOWED_FUNCTIONS if not isinstance(getattr(exp, n, None), type)]
    assert not missing, f"not sqlglot classes (renamed in an upgrade?): {missing}"
    assert all(issubclass(getattr(exp, n), exp.Func) for n in DEFAULT_ALLOWED_FUNCTIONS)
