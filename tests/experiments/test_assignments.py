"""Assignment: the documented hash rule, stable across refreshes, and the merge rule.

Runs the real dbt models on a real generated warehouse (experiments_env). The expected arm of
each person is computed here from the documented rule (md5 of salt ':' person_id, 7 hex
digits, mod 10000, arms in declared order), independently of the SQL.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from experiments_env import (
    build_experiments,
    expected_bucket,
    query,
    record_membership,
)

from tessera.dbt import run_dbt
from tessera.settings import Settings
from tessera.warehouse import Warehouse

ASSIGNED = "select experiment, person_id, arm, assigned_at from experiments.assignments"


def frame_rows(frame: pd.DataFrame) -> set[tuple]:
    return set(frame.itertuples(index=False, name=None))


def test_every_member_gets_the_arm_of_the_documented_hash(built: Settings) -> None:
    members = query(built, "select person_id from segments.exp_audience")
    assigned = query(built, ASSIGNED + " where experiment = 'exp_split'")
    assert set(assigned.person_id) == set(members.person_id)
    assert len(assigned) > 100
    expected = {
        p: ("treatment" if expected_bucket("exp_split", p) < 6000 else "holdout")
        for p in assigned.person_id
    }
    assert dict(zip(assigned.person_id, assigned.arm, strict=True)) == expected
    share = (assigned.arm == "holdout").mean()
    assert 0.3 < share < 0.5  # 40% declared
    # entered before the start: assigned at the membership's first record
    assert set(assigned.assigned_at) == {pd.Timestamp("2026-01-01")}
    # an experiment that starts in the future assigns no one and holds no one out
    assert query(built, ASSIGNED + " where experiment = 'exp_future'").empty
    holdouts = query(built, "select * from experiments.sync_holdouts where sync_name like 'exp%'")
    assert set(holdouts.experiment) == {"exp_split"}
    held = set(assigned.person_id[assigned.arm == "holdout"])
    for sync in ("exp_upsert", "exp_mirror", "exp_meta"):
        in_sync = set(holdouts.person_id[holdouts.sync_name == sync])
        assert held <= in_sync  # every member of the holdout, and persons not yet members
        assert not in_sync & set(assigned.person_id[assigned.arm == "treatment"])


def test_assignment_survives_refreshes_and_new_members(built: Settings) -> None:
    before = query(built, ASSIGNED)
    # the segment is refreshed later: one member leaves, one new person joins
    with Warehouse(built).session() as session:
        leaver = session.scalar("select min(person_id) from segments.exp_audience")
        session.execute(f"delete from segments.exp_audience where person_id = '{leaver}'")
        newcomer = session.scalar(
            "select min(person_id) from profiles.customer_profiles where email is null"
        )
        session.execute(
            "insert into segments.exp_audience (person_id, email) "
            f"values ('{newcomer}', 'new@example.com')"
        )
    record_membership(built, datetime(2026, 2, 1))
    build_experiments(built)
    after = query(built, ASSIGNED)
    # the leaver keeps the arm (an intent-to-treat analysis counts who entered)
    assert frame_rows(before) <= frame_rows(after)
    added = after[~after.person_id.isin(before.person_id)]
    assert list(added.person_id) == [newcomer]
    assert added.assigned_at.iloc[0] == pd.Timestamp("2026-02-01")
    bucket = expected_bucket("exp_split", newcomer)
    assert added.arm.iloc[0] == ("treatment" if bucket < 6000 else "holdout")


def test_a_real_identity_merge_keeps_the_survivors_arm(built: Settings) -> None:
    """Identity itself merges two members: two new orders carry one person's login and the
    other's email (the incremental dbt run of identity, profiles and the segment). One order
    alone would not merge two established persons (var identity_corroborate_joins)."""
    split = query(built, ASSIGNED + " where experiment = 'exp_split'")
    arm = dict(zip(split.person_id, split.arm, strict=True))
    ids = query(
        built,
        "select person_id, id_type, id_value from identity.identity_graph "
        "where id_type in ('user_id', 'email', 'phone')",
    )
    counts = ids.pivot_table(index="person_id", columns="id_type", aggfunc="size", fill_value=0)
    counts = counts.reindex(columns=["user_id", "email", "phone"], fill_value=0)
    in_audience = counts.index.isin(list(arm))
    logged_in = counts[in_audience & (counts.user_id == 1) & (counts.email == 1)]
    guests = counts[in_audience & (counts.user_id == 0) & (counts.email == 1) & (counts.phone == 0)]
    a = next(p for p in logged_in.index if arm[p] == "treatment")
    b = next(p for p in guests.index if arm[p] == "holdout")
    user_id = ids[(ids.person_id == a) & (ids.id_type == "user_id")].id_value.iloc[0]
    email = ids[(ids.person_id == b) & (ids.id_type == "email")].id_value.iloc[0]
    with Warehouse(built).session() as session:
        session.execute(
            "insert into raw.orders (order_id, customer_email, user_id, ordered_at, status, "
            "currency, subtotal, discount, shipping, total, item_count, updated_at) "
            "select 'merge-' || n, ?, ?, max(ordered_at) + n * interval 1 minute, 'completed', "
            "'USD', 10, 0, 0, 10, 1, max(updated_at) + n * interval 1 minute "
            "from raw.orders, range(1, 3) as steps(n) group by n",
            [email, user_id],
        )
    run_dbt(built, ["run", "--select", "+exp_audience"], stream=False)
    merges = query(
        built,
        "select old_person_id, person_id from identity.person_merges "
        f"where change_type = 'merge' and old_person_id in ('{a}', '{b}')",
    )
    assert len(merges) == 1, "identity merged the two persons into one"
    old, survivor = merges.old_person_id.iloc[0], merges.person_id.iloc[0]
    assert {old, survivor} == {a, b}
    record_membership(built, datetime(2026, 4, 1))
    build_experiments(built)

    after = query(built, ASSIGNED + " where experiment = 'exp_split'").set_index("person_id")
    assert old not in after.index
    assert after.arm[survivor] == arm[survivor]  # the surviving id's arm, by its own hash
    report = query(
        built,
        "select old_person_id, old_arm, person_id, arm, arm_changed "
        f"from experiments.assignment_merges where old_person_id = '{old}'",
    )
    assert frame_rows(report) == {(old, arm[old], survivor, arm[survivor], True)}


def test_a_merged_person_keeps_the_surviving_ids_arm_and_both_ids_are_reported(
    built: Settings,
) -> None:
    assigned = query(built, ASSIGNED + " where experiment = 'exp_split' order by person_id")
    survivor = assigned[assigned.arm == "treatment"].person_id.iloc[0]
    merged = assigned[assigned.arm == "holdout"].person_id.iloc[-1]
    entries = assigned.set_index("person_id").assigned_at
    first_entry = min(entries[survivor], entries[merged])
    # identity merges `merged` into `survivor`: the log row, the persons table and the
    # segment (which now names only the survivor) change as an identity rebuild changes them
    with Warehouse(built).session() as session:
        session.execute(
            "insert into identity.person_merges (old_person_id, person_id, merged_at, change_type) "
            f"values ('{merged}', '{survivor}', timestamp '2026-03-01', 'merge')"
        )
        session.execute(f"delete from identity.persons where person_id = '{merged}'")
        session.execute(f"delete from segments.exp_audience where person_id = '{merged}'")
    record_membership(built, datetime(2026, 3, 1))
    build_experiments(built)

    after = query(built, ASSIGNED + " where experiment = 'exp_split'").set_index("person_id")
    assert merged not in after.index  # one person, under the surviving id
    assert after.arm[survivor] == "treatment"  # the surviving id's arm
    assert after.assigned_at[survivor] == first_entry  # the earlier entry of both ids
    report = query(
        built,
        "select old_person_id, old_arm, person_id, arm, arm_changed "
        "from experiments.assignment_merges "
        f"where experiment = 'exp_split' and old_person_id = '{merged}'",
    )
    assert frame_rows(report) == {(merged, "holdout", survivor, "treatment", True)}
    members = query(
        built,
        f"select member_ids from experiments.assignments where person_id = '{survivor}' "
        "and experiment = 'exp_split'",
    )
    assert members.member_ids.iloc[0] >= 2  # its own id and the merged one (or more)
    # the merged-away id is no longer held out of any sync (it has no rows to send)
    holdouts = query(built, "select person_id from experiments.sync_holdouts")
    assert merged not in set(holdouts.person_id)
