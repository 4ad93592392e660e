"""The Snowflake path against a fakesnow server: validation reads Snowflake's
information_schema, check_unique runs the transpiled SQL, membership SQL runs as written."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import datetime

import pytest

from tessera.segments.membership import refresh_membership
from tessera.segments.validate import check_unique, validate_sql
from tessera.settings import Settings, SnowflakeSettings
from tessera.warehouse import Session, Warehouse


@pytest.fixture(scope="module")
def snowflake_session(fakesnow_snowflake: SnowflakeSettings) -> Iterator[Session]:
    snowflake = fakesnow_snowflake
    settings = dataclasses.replace(Settings.from_env({}), target="snowflake", snowflake=snowflake)
    with Warehouse(settings).session() as session:
        session.execute("create schema if not exists profiles")
        session.execute("create schema if not exists segments")
        session.execute(
            "create or replace table profiles.customer_profiles as "
            "select column1 as person_id, column2 as email, column3 as last_order_at "
            "from values ('a', 'a@x.com', '2026-11-01'::timestamp), "
            "('b', 'b@y.com', '2026-11-20'::timestamp), ('c', 'c@x.com', null)"
        )
        yield session


def test_validate_and_check_unique_on_snowflake(snowflake_session: Session) -> None:
    segment = validate_sql(
        "select person_id, lower(email) as email from profiles.customer_profiles\n"
        "where email ilike '%@x.com'\n"
        "  and coalesce(last_order_at, timestamp '2000-01-01') < current_date - interval 1 day",
        name="x_customers",
        columns_from=snowflake_session,
    )
    assert segment.output_columns == ("person_id", "email")
    result = check_unique(snowflake_session, segment)
    assert (result.rows, result.distinct_person_ids) == (2, 2)


def test_membership_sql_runs_on_snowflake(snowflake_session: Session) -> None:
    session = snowflake_session
    for day, members in ((1, ["a", "b"]), (2, ["b", "c"]), (3, ["a", "c"])):
        values = ", ".join(f"('{m}')" for m in members)
        session.execute(
            f"create or replace table segments.vips as select column1 as person_id "
            f"from values {values}"
        )
        [change] = refresh_membership(session, ["vips"], measured_at=datetime(2026, 11, day))
        assert change.size == 2
    assert session.scalar("select count(*) from segments.segment_membership") == 4
    assert (
        session.scalar("select count(*) from segments.segment_membership where exited_at is null")
        == 2
    )
    assert (
        session.scalar("select count(*) from segments.segment_membership where person_id = 'a'")
        == 2
    )  # entered, left, came back
    assert session.scalar("select count(*) from segments.segment_sizes") == 3
