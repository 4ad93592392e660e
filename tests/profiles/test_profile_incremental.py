"""Incremental profile refresh: equals a full rebuild and leaves untouched persons alone.

A generated warehouse is built in full, new activity is appended (a replayed week of every
source, a week of tessera.datagen.append_activity, a late-arriving event, a new visitor, a
record merging two known persons, a consent change, and cases for each path of the refresh:
see profile_activity.add_delta_cases), the profiles are refreshed incrementally, and the
result is compared with a --full-refresh of a copy of the same warehouse (same identity
state, same as_of). Persons with only new records are combined from their stored row (delta),
the others recomputed from their whole history (full): both must give the full rebuild's row.
"""

from __future__ import annotations

from datetime import datetime

import duckdb
import pytest
from profile_activity import add_delta_cases, add_edge_cases, replay_last_week
from profile_helpers import (
    assert_same_rows,
    copy_warehouse,
    dbt,
    generate_year,
    read_table,
    scalar,
    settings_for,
)

from tessera.datagen import append_activity
from tessera.dbt import DbtError
from tessera.warehouse import Warehouse

VARS = {"as_of": "2026-11-20 00:00:00"}
PROFILE_MODELS = [
    "int_record_identifiers",
    "int_identifier_records",
    "profile_as_of",
    "int_profile_facts",
    "int_profile_recent_activity",
    "customer_profiles",
]


@pytest.fixture(scope="module")
def refreshed(tmp_path_factory: pytest.TempPathFactory) -> dict:
    base = tmp_path_factory.mktemp("profile_incremental")
    warehouse = generate_year(base, persons=1500, seed=11)
    target = base / "dbt_target"
    dbt(warehouse, target, ["run", "--select", "+customer_profiles"], vars=VARS)
    persons_before = set(read_table(warehouse, "profiles.customer_profiles")["person_id"])

    # the generator first: it continues record ids from the numeric ones it wrote
    append_activity(
        Warehouse(settings_for(warehouse)),
        seed=3,
        start=datetime(2026, 11, 1),
        end=datetime(2026, 11, 8),
        persons_fraction=0.05,
    )
    replay_last_week(warehouse, "w1")
    used = add_edge_cases(warehouse, "w1")
    paths = add_delta_cases(warehouse, "w1")
    # an untouched person (oldest activity, not in the edge cases) gets a marker value: an
    # incremental run that recomputed everyone would overwrite it
    with duckdb.connect(str(warehouse)) as con:
        sentinel = con.execute(
            "select person_id from profiles.int_profile_facts "
            "where person_id not in (select person_id from identity.identity_graph "
            "  where id_value in (?, ?, ?)) "
            "order by last_record_at, person_id limit 1",
            [used["user_id"], used["lone_email"], used["late_anonymous_id"]],
        ).fetchone()[0]
        con.execute(
            "update profiles.int_profile_facts set events_count = -1 where person_id = ?",
            [sentinel],
        )
    dbt(warehouse, target, ["run", "--select", "+customer_profiles"], vars=VARS)

    full = copy_warehouse(warehouse, base / "full.duckdb")
    dbt(
        full,
        base / "dbt_target_full",
        ["run", "--full-refresh", "--select", *PROFILE_MODELS],
        vars=VARS,
    )
    return {
        "incremental": warehouse,
        "full": full,
        "sentinel": sentinel,
        "used": used,
        "paths": paths,
        "persons_before": persons_before,
    }


def test_untouched_person_is_not_recomputed(refreshed) -> None:
    events = scalar(
        refreshed["incremental"],
        f"select events_count from profiles.int_profile_facts "
        f"where person_id = '{refreshed['sentinel']}'",
    )
    assert events == -1


# when and how a row was written, not what it says
BOOKKEEPING = ["watermark_indexed", "watermark_identity", "refresh_path"]


@pytest.mark.parametrize("relation", ["profiles.int_profile_facts", "profiles.customer_profiles"])
def test_incremental_equals_full_rebuild(refreshed, relation: str) -> None:
    sentinel = refreshed["sentinel"]
    incremental = read_table(refreshed["incremental"], relation)
    full = read_table(refreshed["full"], relation)
    incremental = incremental.drop(columns=BOOKKEEPING, errors="ignore")
    full = full.drop(columns=BOOKKEEPING, errors="ignore")
    # the sentinel row differs by construction (see the test above); everything else must not
    keep_inc = incremental["person_id"] != sentinel
    keep_full = full["person_id"] != sentinel
    assert_same_rows(incremental[keep_inc], full[keep_full], ["person_id"])
    assert len(incremental) == len(full)


def test_profiles_follow_identity(refreshed) -> None:
    wh = refreshed["incremental"]
    persons = set(read_table(wh, "identity.persons")["person_id"])
    profiles = read_table(wh, "profiles.customer_profiles")
    assert set(profiles["person_id"]) == persons
    merged_away = set(
        read_table(wh, "identity.person_merges", order_by="old_person_id")["old_person_id"]
    )
    assert merged_away, "the edge cases should have merged two persons"
    assert not merged_away & set(profiles["person_id"])
    assert persons - refreshed["persons_before"], "the new visitor should have a profile"


def test_new_records_reach_the_profiles(refreshed) -> None:
    wh = refreshed["incremental"]
    used = refreshed["used"]
    merged = scalar(
        wh,
        "select p.consent_email from profiles.customer_profiles p "
        "join identity.identity_graph g on g.person_id = p.person_id "
        f"where g.id_type = 'email' and g.id_value = '{used['lone_email']}'",
    )
    assert merged is False  # the revocation recorded after the first build
    user_row = scalar(
        wh,
        "select count(*) from profiles.customer_profiles p "
        "join identity.identity_graph g on g.person_id = p.person_id "
        f"where g.id_type = 'user_id' and g.id_value = '{used['user_id']}' "
        f"and p.emails_count >= 1",
    )
    assert user_row == 1


def test_each_change_takes_its_path(refreshed) -> None:
    facts = read_table(refreshed["incremental"], "profiles.int_profile_facts").set_index(
        "person_id"
    )
    paths = refreshed["paths"]
    expected = {
        "new_category": "delta",
        "late_event": "delta",
        "known_category": "full",
        "changed_order": "full",
        "same_day_event": "full",
        "new_consent": "delta",
        "stale_consent": "full",
    }
    assert {case: facts.loc[paths[case], "refresh_path"] for case in expected} == expected
    assert "w1-garden gnomes" in facts.loc[paths["new_category"], "categories_purchased"]
    assert facts.loc[paths["new_consent"], "consent_sms"]
    survivor = scalar(
        refreshed["incremental"],
        "select person_id from identity.identity_graph "
        f"where id_type = 'user_id' and id_value = '{refreshed['used']['user_id']}'",
    )
    assert facts.loc[survivor, "refresh_path"] == "full"  # absorbed a merge in this run


def test_most_touched_persons_take_the_delta_path(refreshed) -> None:
    """The point of the delta path: persons with only new activity are not recomputed."""
    counts = read_table(
        refreshed["incremental"], "profiles.int_profile_facts"
    ).refresh_path.value_counts()
    full = read_table(refreshed["full"], "profiles.int_profile_facts")
    assert set(full["refresh_path"]) == {"full"}
    assert counts["delta"] > 0


def test_index_and_identifier_lookup_stay_consistent(refreshed, tmp_path) -> None:
    """After the incremental run the index holds one row per record (the probe-key delete
    replaced the changed ones) and the lookup has every (identifier, record) pair of it."""
    wh = refreshed["incremental"]
    changed = scalar(
        wh,
        "select count(*) from profiles.int_record_identifiers where indexed_at > first_indexed_at",
    )
    assert changed > 0, "the edge cases should have changed indexed records"
    dbt(
        wh,
        tmp_path / "dbt_target",
        ["test", "--select", "int_record_identifiers", "int_identifier_records"],
        vars=VARS,
    )
    # the tests above could fail: one pair dropped from the lookup is reported
    broken = copy_warehouse(wh, tmp_path / "broken.duckdb")
    with duckdb.connect(str(broken)) as con:
        con.execute(
            "delete from profiles.int_identifier_records where record_key = "
            "(select min(record_key) from profiles.int_identifier_records)"
        )
    with pytest.raises(DbtError, match="covers_index_identifiers"):
        dbt(
            broken,
            tmp_path / "dbt_target_broken",
            ["test", "--select", "int_identifier_records"],
            vars=VARS,
        )


def test_index_refuses_to_run_when_the_hash_function_changed(refreshed, tmp_path) -> None:
    """Stored record_keys that the warehouse no longer computes the same way would make every
    re-read record look new (and be counted twice): the run stops and says how to recover."""
    tampered = copy_warehouse(refreshed["incremental"], tmp_path / "tampered.duckdb")
    with duckdb.connect(str(tampered)) as con:
        con.execute("update profiles.int_record_identifiers set record_key = record_key + 1")
    with pytest.raises(DbtError, match="hash function changed.*--full-refresh"):
        dbt(
            tampered,
            tmp_path / "dbt_target",
            ["run", "--select", "int_record_identifiers"],
            vars=VARS,
        )
