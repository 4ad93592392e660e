"""The starter segments shipped in dbt_project/models/segments: metadata, validation, and the
DuckDB -> Snowflake transpile of each. (Building them with dbt needs the profiles models.)"""

from __future__ import annotations

import pytest
import sqlglot

from tessera.segments.catalog import load_catalog
from tessera.segments.checks import check_catalog
from tessera.segments.validate import check_unique, transpile_to_snowflake
from tessera.settings import DBT_PROJECT_DIR
from tessera.warehouse import Session

STARTERS = [
    "cart_abandoners",
    "high_value_churn_risk",
    "likely_buyers_30d",
    "lapsed_vips",
    "new_customers_onboarding",
    "email_engaged_non_buyers",
    "recent_buyers_suppression",
]
SEGMENTS_DIR = DBT_PROJECT_DIR / "models" / "segments"


def test_every_starter_segment_has_owner_cadence_and_syncs() -> None:
    catalog = load_catalog(SEGMENTS_DIR)
    assert set(STARTERS) <= set(catalog.names())
    for name in STARTERS:
        segment = catalog.get(name)
        assert segment.owner and segment.refresh and segment.syncs and segment.description


@pytest.mark.parametrize("name", STARTERS)
def test_starter_segment_validates_against_the_warehouse(session: Session, name: str) -> None:
    [report] = check_catalog(
        load_catalog(SEGMENTS_DIR), DBT_PROJECT_DIR, [name], columns_from=session
    )
    assert report.ok, "\n".join(str(i) for i in report.issues)
    assert report.validated is not None
    assert report.validated.output_columns[0] == "person_id"
    assert check_unique(session, report.validated).ok


@pytest.mark.parametrize("name", STARTERS)
def test_starter_segment_transpiles_to_snowflake(name: str) -> None:
    [report] = check_catalog(load_catalog(SEGMENTS_DIR), DBT_PROJECT_DIR, [name])
    assert report.snowflake_sql is not None, "\n".join(str(i) for i in report.issues)
    parsed = sqlglot.parse_one(report.snowflake_sql, read="snowflake")
    assert isinstance(parsed, sqlglot.exp.Select)
    final = next(cte for cte in parsed.find_all(sqlglot.exp.CTE) if cte.alias == "final")
    assert final.this.named_selects[0] == "person_id"
    assert "profiles.customer_profiles" in report.snowflake_sql


def test_transpile_rewrites_duckdb_idioms_for_snowflake() -> None:
    sql = (
        "select person_id, date_diff('day', last_order_at, current_timestamp) as days,\n"
        "  last_order_at::date as last_order_date, list_value(email, phone) as ids\n"
        "from profiles.customer_profiles\n"
        "where last_seen_at >= current_date - interval 30 day and email ilike '%@example.com'\n"
        "qualify row_number() over (partition by person_id order by last_seen_at desc) = 1"
    )
    snowflake = transpile_to_snowflake(sql, "idioms")
    assert "DATEDIFF(DAY, last_order_at, CURRENT_TIMESTAMP())" in snowflake
    assert "CAST(last_order_at AS DATE)" in snowflake
    assert "INTERVAL '30 DAY'" in snowflake
    assert "QUALIFY" in snowflake and "ILIKE" in snowflake


def test_transpile_failure_is_reported_as_a_validation_error() -> None:
    with pytest.raises(Exception, match="cannot transpile to Snowflake") as caught:
        transpile_to_snowflake("select person_id from profiles.customer_profiles where", "broken")
    assert "broken" in str(caught.value)
