"""Hostile or broken segment SQL: each is rejected with a specific, located message."""

from __future__ import annotations

import pytest

from tessera.segments.checks import check_segment_text
from tessera.segments.jinja import RelationResolver
from tessera.segments.validate import SegmentValidationError, validate_sql
from tessera.warehouse import Session

P = "profiles.customer_profiles"
S = "ml.person_scores"

# (case id, sql, issue code, fragment of the message)
HOSTILE = [
    ("ddl_create", f"create table segments.x as select person_id from {P}", "not_select", "CREATE"),
    ("ddl_drop", f"drop table {P}", "not_select", "DROP"),
    ("ddl_alter", f"alter table {P} add column x int", "not_select", "ALTER"),
    ("dml_insert", f"insert into segments.x select person_id from {P}", "not_select", "INSERT"),
    ("dml_update", f"update {P} set email = null", "not_select", "UPDATE"),
    ("dml_delete", f"delete from {P}", "not_select", "DELETE"),
    ("two_statements", f"select person_id from {P}; drop table {P}", "multiple_statements", "';'"),
    ("semicolon_then_comment", f"select person_id from {P}; -- x", "multiple_statements", "';'"),
    (
        "block_comment_then_drop",
        f"select person_id from {P} /* harmless */ ; drop table {P}",
        "multiple_statements",
        "';'",
    ),
    (
        "line_comment_hides_newline",
        f"select person_id from {P} -- just a comment\n; delete from {P}",
        "multiple_statements",
        "line 2",
    ),
    (
        "nested_comment_hides_drop",
        f"select person_id from {P} /* /* */ ; drop table {P}; /* */",
        "multiple_statements",
        "';' is not allowed anywhere",
    ),
    (
        "nested_comment",
        f"select person_id /* outer /* inner */ still comment */ from {P}",
        "nested_comment",
        "nested block comments",
    ),
    ("copy_out", f"copy {P} to '/tmp/out.csv'", "not_select", "COPY"),
    ("copy_query_out", f"copy (select * from {P}) to '/tmp/out.csv'", "not_select", "COPY"),
    ("attach", "attach '/tmp/other.duckdb' as other", "not_select", "ATTACH"),
    ("detach", "detach other", "not_select", "DETACH"),
    ("pragma", "pragma database_list", "not_select", "PRAGMA"),
    ("set", "set threads = 1", "not_select", "SET"),
    ("install", "install httpfs", "not_select", "INSTALL"),
    ("load", "load httpfs", "not_select", "LOAD"),
    ("export", "export database '/tmp/dump'", "not_select", "EXPORT"),
    ("call", "call pragma_version()", "not_select", "CALL"),
    ("read_csv", "select * from read_csv('/etc/passwd')", "file_access", "read_csv()"),
    (
        "read_parquet_s3",
        "select person_id from read_parquet('s3://bucket/people.parquet')",
        "file_access",
        "read_parquet()",
    ),
    ("file_path_table", "select * from '/etc/hosts.csv'", "file_access", "/etc/hosts.csv"),
    ("s3_url_table", "select * from 's3://bucket/people.parquet'", "file_access", "s3://"),
    ("glob", "select * from glob('/home/*')", "file_access", "glob()"),
    (
        "read_text_in_subquery",
        f"select person_id, (select content from read_text('/etc/passwd')) as c from {P}",
        "file_access",
        "read_text()",
    ),
    (
        "getenv",
        f"select person_id, getenv('SNOWFLAKE_PASSWORD') as pw from {P}",
        "function_not_allowed",
        "getenv()",
    ),
    (
        "current_setting",
        f"select person_id, current_setting('threads') as t from {P}",
        "function_not_allowed",
        "current_setting()",
    ),
    (
        "system_table_function",
        "select * from duckdb_settings()",
        "function_not_allowed",
        "duckdb_settings()",
    ),
    (
        "now_not_portable",
        f"select person_id, now() as t from {P}",
        "function_not_allowed",
        "current_timestamp",
    ),
    (
        "unknown_column",
        f"select person_id, favourite_colour from {P}",
        "unknown_column",
        "favourite_colour",
    ),
    (
        "unknown_qualified_column",
        f"select p.person_id, p.shoe_size from {P} p",
        "unknown_column",
        f"p.shoe_size does not exist in {P}",
    ),
    (
        "duplicate_person_id",
        f"select p.person_id, s.person_id from {P} p join {S} s on s.person_id = p.person_id "
        "where s.model = 'churn_90d'",
        "person_id_duplicate",
        "person_id is selected 2 times",
    ),
    ("missing_person_id", f"select email from {P}", "person_id_missing", "person_id"),
    (
        "renamed_person_id",
        f"select person_id as pid, email from {P}",
        "person_id_missing",
        "person_id",
    ),
    (
        "fake_person_id",
        f"select email as person_id from {P}",
        "person_id_not_a_person",
        "not 'customer_profiles.email'",
    ),
    (
        "cross_database",
        f"select person_id from tessera.{P}",
        "cross_database",
        "tessera.profiles.customer_profiles",
    ),
    (
        "raw_schema",
        "select person_id from raw.crm_contacts",
        "relation_not_allowed",
        "raw.crm_contacts",
    ),
    (
        "truth_schema",
        "select person_id from truth.identifier_person",
        "relation_not_allowed",
        "truth",
    ),
    (
        "unqualified_relation",
        "select person_id from customer_profiles",
        "unqualified_relation",
        "schema-qualified",
    ),
    (
        "fan_out_join",
        f"select p.person_id, g.id_value from {P} p join identity.identity_graph g "
        "on g.person_id = p.person_id",
        "not_unique",
        "identity.identity_graph",
    ),
    (
        "scores_without_model",
        f"select p.person_id, s.score from {P} p join {S} s on s.person_id = p.person_id",
        "not_unique",
        "bind s.model",
    ),
    (
        "union_all",
        f"select person_id from {P} union all select person_id from identity.persons",
        "not_unique",
        "UNION ALL",
    ),
    (
        "values_join_with_repeated_key",
        f"select p.person_id, w.weight from {P} p "
        "join (values ('champions', 1), ('champions', 2)) as w(segment, weight) "
        "on w.segment = p.rfm_segment",
        "not_unique",
        "several rows per person",
    ),
    ("select_into", f"select person_id into segments.copy from {P}", None, "INTO"),
    ("empty", "   ", "empty", "no SQL: the SQL holds only whitespace"),
    (
        "only_comments",
        "-- todo\n/* later; maybe */",
        "empty",
        "no SQL: the SQL holds only comments",
    ),
    ("syntax_error", "select person_id from where", "parse_error", "parse"),
    (
        "backslash_string",
        f"select person_id from {P} where email = 'a\\' or 1 = 1",
        "backslash_string",
        "backslashes",
    ),
    ("escape_string", f"select person_id from {P} where email = E'x'", "special_string", "E'...'"),
    ("dollar_string", f"select $$x$$ as a, person_id from {P}", "special_string", "dollar-quoted"),
    ("parameter", f"select person_id from {P} where email = ?", "parameter", "parameters"),
    ("summarize", f"summarize {P}", "not_select", "SUMMARIZE"),
    ("describe", f"describe {P}", "not_select", "DESCRIBE"),
    ("show_tables", "show tables", "not_select", "SHOW"),
    ("secrets", "select * from duckdb_secrets()", "function_not_allowed", "duckdb_secrets()"),
    (
        "pragma_function",
        "select * from pragma_table_info('profiles.customer_profiles')",
        "function_not_allowed",
        "pragma_table_info()",
    ),
    (
        "method_call_getenv",
        f"select person_id, email.getenv() as e from {P}",
        "function_not_allowed",
        "getenv()",
    ),
    (
        "lateral_getenv",
        f"select p.person_id from {P} p, lateral (select getenv('HOME') as g) l",
        "function_not_allowed",
        "getenv()",
    ),
    (
        "comma_join_read_csv",
        f"select p.person_id from {P} p, read_csv('/tmp/x.csv') r",
        "file_access",
        "read_csv()",
    ),
    (
        "getvariable",
        f"select person_id from {P} where email = getvariable('x')",
        "function_not_allowed",
        "getvariable()",
    ),
    (
        "recursive_cte",
        "with recursive r(n) as (select 1 union all select n + 1 from r where n < 1e9) "
        f"select person_id from {P}",
        "recursive_cte",
        "RECURSIVE",
    ),
    (
        "path_named_relation",
        'select person_id from segments."/etc/passwd.csv"',
        "file_access",
        "reads a file",
    ),
    (
        "missing_relation",
        "select person_id from segments.not_built_yet",
        "missing_relation",
        "build it first",
    ),
]


@pytest.mark.parametrize(
    ("sql", "code", "fragment"),
    [pytest.param(sql, code, fragment, id=case) for case, sql, code, fragment in HOSTILE],
)
def test_hostile_sql_is_rejected_with_a_specific_message(
    session: Session, sql: str, code: str | None, fragment: str
) -> None:
    with pytest.raises(SegmentValidationError) as caught:
        validate_sql(sql, name="hostile", columns_from=session)
    error = caught.value
    assert error.segment == "hostile"
    assert "hostile" in str(error)
    if code is not None:
        assert code in {i.code for i in error.issues}, str(error)
    assert fragment.lower() in str(error).lower(), str(error)


def test_battery_is_large_enough() -> None:
    assert len(HOSTILE) >= 25


def test_rejection_names_line_and_column(session: Session) -> None:
    sql = "select person_id,\n       getenv('HOME') as home\nfrom profiles.customer_profiles"
    with pytest.raises(SegmentValidationError) as caught:
        validate_sql(sql, name="where_is_it", columns_from=session)
    [issue] = caught.value.issues
    assert (issue.line, issue.column) == (2, 8)
    assert "where_is_it (line 2, column 8)" in str(caught.value)


def test_every_problem_is_reported_not_just_the_first(session: Session) -> None:
    sql = "select person_id, getenv('A') as a, sleep(1) as b from raw.crm_contacts"
    with pytest.raises(SegmentValidationError) as caught:
        validate_sql(sql, name="many", columns_from=session)
    codes = [i.code for i in caught.value.issues]
    assert codes.count("function_not_allowed") == 2
    assert "relation_not_allowed" in codes


def test_all_unknown_columns_are_named(session: Session) -> None:
    sql = "select p.person_id, p.a1, b2 from profiles.customer_profiles p"
    with pytest.raises(SegmentValidationError) as caught:
        validate_sql(sql, name="cols", columns_from=session)
    message = str(caught.value)
    assert "p.a1" in message and "'b2'" in message


@pytest.mark.parametrize(
    ("template", "fragment", "position"),
    [
        pytest.param(
            "select person_id, '{{ env_var(\"SNOWFLAKE_PASSWORD\") }}' as pw "
            "from {{ ref('customer_profiles') }}",
            "env_var",
            (1, 20),
            id="env_var",
        ),
        pytest.param(
            "{% set r = run_query('drop table profiles.customer_profiles') %}"
            "select person_id from {{ ref('customer_profiles') }}",
            "{% set r = run_query",
            (1, 1),
            id="run_query",
        ),
        pytest.param(
            "select person_id\nfrom {{ ref('customer_profiles') }}\n"
            "{% if target.type == 'snowflake' %}{{ adapter.drop_schema('x') }}{% endif %}",
            "{% if target.type",
            (3, 1),
            id="name_in_untaken_branch",
        ),
        pytest.param(
            "select person_id from {{ ref('customer_profiles') }} "
            "where '{{ ref.__globals__ }}' = ''",
            "ref.__globals__",
            (1, 61),
            id="dunder_attribute",
        ),
        pytest.param(
            "select person_id from {{ ref('stg_crm__contacts') }}",
            "ref('stg_crm__contacts') is not readable",
            (1, 23),
            id="ref_unreadable_model",
        ),
        pytest.param(
            "select person_id from {{ ref('customer_profiles') ",
            "{{ ref('customer_profiles') ",
            (1, 23),
            id="unclosed",
        ),
    ],
)
def test_hostile_jinja_is_refused_at_its_position(
    template: str, fragment: str, position: tuple[int, int]
) -> None:
    report = check_segment_text(template, "jinja_case", RelationResolver())
    assert not report.ok
    [issue] = report.issues
    assert issue.code == "jinja"
    assert fragment in issue.message
    assert (issue.line, issue.column) == position
