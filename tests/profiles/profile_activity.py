"""Deterministic new activity for the incremental tests, written straight into raw.*.

`replay_last_week` copies the last `days` of every activity source forward by `days` with new
record ids (existing persons come back, as after a week of real traffic). `add_edge_cases`
adds what an incremental refresh must not miss: a late-arriving event, a brand-new visitor,
a record that merges two known persons, and a changed consent.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import duckdb

# (table, id column, timestamp columns shifted together)
_REPLAYED = (
    ("events", "message_id", ("timestamp", "received_at")),
    ("orders", "order_id", ("ordered_at", "updated_at")),
    ("pos_purchases", "transaction_id", ("purchased_at",)),
    ("email_events", "event_id", ("occurred_at",)),
    ("support_tickets", "ticket_id", ("created_at", "updated_at")),
    ("ad_clicks", "click_id", ("clicked_at",)),
)


def replay_last_week(warehouse: Path, tag: str, days: int = 7) -> dict[str, int]:
    """Copy the last `days` of each source forward by `days`; returns rows added per table."""
    added: dict[str, int] = {}
    with duckdb.connect(str(warehouse)) as con:
        end = con.execute("select max(timestamp) from raw.events").fetchone()[0]
        for table, id_col, ts_cols in _REPLAYED:
            cols = [r[0] for r in con.execute(f"describe raw.{table}").fetchall()]
            select = []
            for col in cols:
                if col == id_col:
                    select.append(f"'{tag}-' || {col}")
                elif col in ts_cols:
                    select.append(f"{col} + interval {days} day")
                elif table == "events" and col == "properties_order_id":
                    select.append(f"case when {col} is not null then '{tag}-' || {col} end")
                else:
                    select.append(col)
            first_ts = ts_cols[0]
            where = f"{first_ts} > timestamp '{end}' - interval {days} day"
            con.execute(
                f"insert into raw.{table} select {', '.join(select)} from raw.{table} where {where}"
            )
            added[table] = con.execute(
                f"select count(*) from raw.{table} where {id_col} like '{tag}-%'"
            ).fetchone()[0]
        con.execute(
            f"insert into raw.order_items select '{tag}-' || i.order_id, i.line_number, "
            f"i.product_id, i.category, i.quantity, i.unit_price, "
            f"i.ordered_at + interval {days} day "
            f"from raw.order_items i where i.order_id in "
            f"(select substr(order_id, {len(tag) + 2}) from raw.orders "
            f"where order_id like '{tag}-%')"
        )
    return added


def add_edge_cases(warehouse: Path, tag: str) -> dict[str, str]:
    """Late event, new visitor, a merge of two known persons, a consent change.

    Returns the identifiers used, so a test can find the persons again.
    """
    with duckdb.connect(str(warehouse)) as con:
        end = con.execute("select max(received_at) from raw.events").fetchone()[0]
        # a logged-in user, and an email known only outside the shop (no user_id on its person)
        user_id = con.execute(
            "select id_value from identity.identity_graph where id_type = 'user_id' "
            "order by id_value limit 1"
        ).fetchone()[0]
        lone_email = con.execute(
            "select g.id_value from identity.identity_graph g "
            "where g.id_type = 'email' and g.person_id not in ("
            "  select person_id from identity.identity_graph where id_type = 'user_id') "
            "and g.person_id <> (select person_id from identity.identity_graph "
            "  where id_type = 'user_id' and id_value = ?) "
            "order by g.id_value limit 1",
            [user_id],
        ).fetchone()[0]
        old_anon = con.execute(
            "select id_value from identity.identity_graph where id_type = 'anonymous_id' "
            "order by id_value desc limit 1"
        ).fetchone()[0]
        rows = [
            # merge: the user identifies with an email that was another person's
            (
                f"{tag}-merge",
                "identify",
                None,
                f"{tag}-anon-merge",
                user_id,
                None,
                f"timestamp '{end}' + interval 1 hour",
                lone_email,
            ),
            # late arrival: happened two days before the watermark, received now
            (
                f"{tag}-late",
                "track",
                "Product Added",
                old_anon,
                None,
                None,
                f"timestamp '{end}' - interval 2 day",
                None,
            ),
            # a brand-new visitor
            (
                f"{tag}-new",
                "page",
                None,
                f"{tag}-anon-new",
                None,
                None,
                f"timestamp '{end}' + interval 2 hour",
                None,
            ),
        ]
        for message_id, type_, event, anon, uid, device, at, email in rows:
            con.execute(
                "insert into raw.events (message_id, type, event, anonymous_id, user_id, "
                "device_id, timestamp, received_at, context_channel, traits_email) "
                f"values (?, ?, ?, ?, ?, ?, {at}, timestamp '{end}' + interval 3 hour, 'web', ?)",
                [message_id, type_, event, anon, uid, device, email],
            )
        con.execute(
            "insert into raw.consents values (?, 'email', ?, 'email', 'revoked', "
            f"timestamp '{end}' + interval 3 hour, 'preference_center')",
            [f"{tag}-consent", lone_email],
        )
    return {"user_id": user_id, "lone_email": lone_email, "late_anonymous_id": old_anon}


def add_delta_cases(warehouse: Path, tag: str) -> dict[str, str]:
    """Changes that steer persons with no other new activity (the oldest profiles) down each
    path of the incremental refresh; returns their person ids by case.

    - new_category: a new order in a category the buyer never bought (delta: the category list
      grows, the favourite competes with the new category's total)
    - known_category: a new order in a category bought before that is not the favourite (full:
      that category's total is not stored)
    - changed_order: an existing order refunded (full: a changed record, not a new one)
    - late_event: an event received now, occurred two days before the data's end, after the
      person's last event day (delta, though late)
    - same_day_event: an event received now on the day of the person's last event (full: the
      day's sessions may join)
    - new_consent: an sms grant recorded after all the person's consents (delta: it wins)
    - stale_consent: a consent recorded before the person's latest one (full: the latest per
      purpose is not stored)
    Must run after the profiles were built once (it reads profiles.int_profile_facts).
    """
    with duckdb.connect(str(warehouse)) as con:
        end = con.execute("select max(received_at) from raw.events").fetchone()[0]
        buyers = con.execute(
            "select f.person_id, f.user_id, f.categories_purchased, f.favourite_category "
            "from profiles.int_profile_facts f "
            "where f.user_id is not null and f.categories_count >= 2 "
            "and f.online_orders_count >= 1 and f.last_event_at < ? "
            "and exists (select 1 from raw.orders o where o.status = 'completed' "
            "  and trim(o.user_id) = f.user_id) "
            "order by f.last_record_at, f.person_id limit 3",
            [end - timedelta(days=30)],
        ).fetchall()
        visitors = con.execute(
            "select f.person_id, min(g.id_value), max(f.last_event_at) "
            "from profiles.int_profile_facts f "
            "join identity.identity_graph g on g.person_id = f.person_id "
            "where g.id_type = 'anonymous_id' and f.last_event_at < ? "
            "and f.person_id not in (select person_id from identity.identity_graph "
            "  where id_type = 'user_id') "
            "group by f.person_id order by max(f.last_record_at), f.person_id limit 2",
            [end - timedelta(days=30)],
        ).fetchall()
        new_cat_person, new_cat_user, _, _ = buyers[0]
        known_person, known_user, known_list, favourite = buyers[1]
        known_category = next(c for c in known_list.split(", ") if c != favourite)
        changed_person = buyers[2][0]
        for number, (user_id, category) in enumerate(
            [(new_cat_user, f"{tag}-garden gnomes"), (known_user, known_category)]
        ):
            order_id = f"{tag}-order-{number}"
            at = end + timedelta(days=1, hours=number)
            con.execute(
                "insert into raw.orders (order_id, user_id, ordered_at, status, currency, "
                "total, item_count, shipping_country, updated_at) "
                "values (?, ?, ?, 'completed', 'USD', 25.0, 1, 'US', ?)",
                [order_id, user_id, at, at],
            )
            con.execute(
                "insert into raw.order_items values (?, 1, 'sku-1', ?, 1, 25.0, ?)",
                [order_id, category, at],
            )
        con.execute(
            "update raw.orders set status = 'refunded', updated_at = ? where order_id = ("
            "  select min(order_id) from raw.orders "
            "  where status = 'completed' and trim(user_id) = ("
            "    select min(id_value) from identity.identity_graph "
            "    where id_type = 'user_id' and person_id = ?))",
            [end + timedelta(hours=1), changed_person],
        )
        picked = [row[0] for row in buyers]
        consent_sql = (
            "select f.person_id, min(g.id_value), max(f.consent_updated_at) "
            "from profiles.int_profile_facts f "
            "join identity.identity_graph g on g.person_id = f.person_id "
            "where g.id_type = 'email' and f.person_id not in (?, ?, ?) and {} "
            "group by f.person_id order by max(f.last_record_at), f.person_id limit 1"
        )
        # an old profile; and one whose latest consent is inside the index's lookback window
        consenters = [
            con.execute(
                consent_sql.format("f.consent_updated_at is not null and f.last_record_at < ?"),
                [*picked, end - timedelta(days=30)],
            ).fetchone(),
            con.execute(
                consent_sql.format(
                    "f.consent_updated_at >= (select max(consent_updated_at) "
                    "from profiles.int_profile_facts) - interval 2 day"
                ),
                picked,
            ).fetchone(),
        ]
        for number, (_, email, latest) in enumerate(consenters):
            at = end + timedelta(hours=4) if number == 0 else latest - timedelta(hours=1)
            con.execute(
                "insert into raw.consents values (?, 'email', ?, 'sms', 'granted', ?, 'web')",
                [f"{tag}-consent-{number}", email, at],
            )
        late_person, late_anon, _ = visitors[0]
        same_day_person, same_day_anon, last_event_at = visitors[1]
        for message_id, anon, occurred_at in [
            (f"{tag}-late-delta", late_anon, end - timedelta(days=2)),
            (f"{tag}-same-day", same_day_anon, last_event_at - timedelta(minutes=1)),
        ]:
            con.execute(
                "insert into raw.events (message_id, type, anonymous_id, timestamp, "
                "received_at, context_channel) values (?, 'page', ?, ?, ?, 'web')",
                [message_id, anon, occurred_at, end + timedelta(hours=3)],
            )
    return {
        "new_category": new_cat_person,
        "known_category": known_person,
        "changed_order": changed_person,
        "late_event": late_person,
        "same_day_event": same_day_person,
        "new_consent": consenters[0][0],
        "stale_consent": consenters[1][0],
    }
