"""Deterministic new activity for the incremental tests, written straight into raw.*.

`replay_last_week` copies the last `days` of every activity source forward by `days` with new
record ids (existing persons come back, as after a week of real traffic). `add_edge_cases`
adds what an incremental refresh must not miss: a late-arriving event, a brand-new visitor,
a record that merges two known persons, and a changed consent.
"""

from __future__ import annotations

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
