"""Online orders (with lines and returns) from converting visits, and in-store purchases."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from tessera.datagen import mess, render
from tessera.datagen import reference as ref
from tessera.datagen import strings as s
from tessera.datagen.calendar import DAY_US, HOUR_US
from tessera.datagen.context import ChunkContext
from tessera.datagen.population import Population
from tessera.datagen.schema import ORDER_ITEMS, ORDERS, POS_PURCHASES, RETURNS
from tessera.datagen.sessions import Sessions

_CURRENCY_FACTOR = np.array([1.0, 0.8, 0.92])  # USD, GBP, EUR list prices
STORES_PER_COUNTRY = (24, 8, 8)
POS_VISITS_PER_WEIGHTED_DAY = 0.004


@dataclass
class Orders:
    orders: pa.Table
    items: pa.Table
    returns: pa.Table
    order_id_by_session: pa.Array  # null where the visit placed no order
    total_by_session: np.ndarray  # nan where the visit placed no order
    person: np.ndarray  # per order
    ordered_at: np.ndarray
    returned: np.ndarray


def build_orders(
    ctx: ChunkContext, pop: Population, sessions: Sessions, order_time: np.ndarray
) -> Orders:
    rng = ctx.rng
    idx = np.flatnonzero(sessions.order)
    n = len(idx)
    person = sessions.person[idx]
    keys = pop.keys[person]
    ordered_at = order_time[idx]
    country = pop.country[person]
    order_id = ctx.ids.take("order", n)

    # Lines: the visit's hero product first, then others.
    n_lines = 1 + rng.poisson(0.3 + 0.8 * pop.propensity[person])
    line_order = np.repeat(np.arange(n), n_lines)
    line_start = s.starts(n_lines)
    line_number = np.arange(len(line_order)) - line_start[line_order] + 1
    product = np.where(
        line_number == 1,
        sessions.hero_product[idx][line_order],
        ctx.catalog.sample(rng, len(line_order)),
    )
    quantity = 1 + rng.poisson(0.15, len(line_order))
    unit_price = (
        np.round(ctx.catalog.price[product] * _CURRENCY_FACTOR[country[line_order]], 0) - 0.01
    )
    line_amount = quantity * unit_price
    subtotal = np.round(np.bincount(line_order, weights=line_amount, minlength=n), 2)
    item_count = np.bincount(line_order, weights=quantity, minlength=n).astype(np.int64)
    discounted = rng.random(n) < 0.25
    discount = np.where(discounted, np.round(subtotal * rng.uniform(0.1, 0.25, n), 2), 0.0)
    shipping = np.where(subtotal >= 50, 0.0, 4.95)
    total = np.round(subtotal - discount + shipping, 2)

    status_draw = rng.random(n)
    status_index = np.where(status_draw < 0.92, 0, np.where(status_draw < 0.96, 1, 2))
    status = s.pick(("completed", "cancelled", "refunded"), status_index)

    returned = (status_index == 2) | ((status_index == 0) & (rng.random(n) < 0.07))
    returned_at = ordered_at + (rng.uniform(4, 30, n) * DAY_US).astype(np.int64)
    returned &= returned_at < ctx.window_end
    shipped_at = ordered_at + (rng.uniform(0.5, 4, n) * DAY_US).astype(np.int64)
    updated_at = np.where(returned, returned_at + HOUR_US, shipped_at)
    updated_at = np.minimum(updated_at, ctx.window_end - 1)

    shipping_country = np.where(rng.random(n) < 0.97, country, rng.integers(0, 3, n))
    logged_in = sessions.logged_in[idx]
    ctx.truth.records(n)  # the rows below are one source record each
    user_id = render.identifier(
        ctx, "user_id", s.null_where(~logged_in, s.take(pop.user_id, person)), keys
    )
    anonymous_id = render.identifier(
        ctx, "anonymous_id", s.take(pop.devices.anonymous_ids, sessions.cookie[idx]), keys
    )
    email = render.emails(
        ctx,
        pop,
        person,
        np.ones(n, bool),
        primary_share=0.75,
        mess_rate=0.2,
        placeholder_rate=0.015,
    )
    phone = render.phones(
        ctx,
        pop,
        person,
        rng.random(n) < 0.45,
        allow_national=shipping_country == country,
        placeholder_rate=0.02,
    )
    orders = pa.table(
        {
            "order_id": order_id,
            "customer_email": email,
            "customer_phone": phone,
            "user_id": user_id,
            "anonymous_id": anonymous_id,
            "ordered_at": pa.array(ordered_at, pa.timestamp("us")),
            "status": status,
            "currency": s.pick(ref.CURRENCIES, country),
            "subtotal": subtotal,
            "discount": discount,
            "shipping": shipping,
            "total": total,
            "item_count": pa.array(item_count, pa.int32()),
            "shipping_country": s.pick(ref.COUNTRIES, shipping_country),
            "shipping_zip": _zips(rng, shipping_country),
            "updated_at": pa.array(updated_at, pa.timestamp("us")),
        }
    ).select(ORDERS.column_names)

    items = pa.table(
        {
            "order_id": s.take(order_id, line_order),
            "line_number": pa.array(line_number, pa.int32()),
            "product_id": s.take(pa.array(ctx.catalog.product_ids), product),
            "category": s.pick(ref.CATEGORIES, ctx.catalog.category_index[product]),
            "quantity": pa.array(quantity, pa.int32()),
            "unit_price": unit_price,
            "ordered_at": pa.array(ordered_at[line_order], pa.timestamp("us")),
        }
    ).select(ORDER_ITEMS.column_names)

    ret = np.flatnonzero(returned)
    partial = status_index[ret] == 0
    first_line_amount = line_amount[line_start[ret]] if len(ret) else np.zeros(0)
    returns = pa.table(
        {
            "return_id": ctx.ids.take("return", len(ret)),
            "order_id": s.take(order_id, ret),
            "returned_at": pa.array(returned_at[ret], pa.timestamp("us")),
            "amount": np.round(np.where(partial, first_line_amount, total[ret]), 2),
            "reason": s.pick(
                ref.RETURN_REASONS, rng.integers(0, len(ref.RETURN_REASONS), len(ret))
            ),
        }
    ).select(RETURNS.column_names)

    positions = np.full(sessions.n, -1)
    positions[idx] = np.arange(n)
    has_order = positions >= 0
    return Orders(
        orders=orders,
        items=items,
        returns=returns,
        order_id_by_session=s.take_valid(order_id, positions, has_order),
        total_by_session=np.where(has_order, total[np.maximum(positions, 0)] if n else 0, np.nan),
        person=person,
        ordered_at=ordered_at,
        returned=returned,
    )


def build_pos_purchases(ctx: ChunkContext, pop: Population) -> pa.Table:
    """Loyalty members shop in store often; other known persons sometimes; a few walk-ins."""
    rng = ctx.rng
    occasional = ~pop.has_loyalty & ~pop.anonymous_only & (rng.random(pop.n) < 0.15)
    walk_in = pop.anonymous_only & (rng.random(pop.n) < 0.1)
    rate = np.select(
        [pop.has_loyalty, occasional, walk_in],
        [POS_VISITS_PER_WEIGHTED_DAY * (0.4 + 2.0 * pop.propensity), 0.001, 0.001],
        0.0,
    )
    lo = np.maximum(pop.first_seen, ctx.window_start)
    hi = np.minimum(pop.active_end, ctx.window_end)
    weight = np.where(hi > lo, ctx.calendar.weight_between(lo, hi), 0.0)
    # New loyalty members join at a till: at least one visit while they are active.
    joined = pop.has_loyalty & pop.is_new & (hi > lo)
    person = np.repeat(np.arange(pop.n), rng.poisson(rate * weight) + joined)
    n = len(person)
    keys = pop.keys[person]
    purchased_at = ctx.calendar.sample(rng, lo[person], hi[person])
    country = pop.country[person]

    shows_card = pop.has_loyalty[person] & (rng.random(n) < 0.9)
    ctx.truth.records(n)  # the rows below are one source record each
    loyalty_id = render.identifier(
        ctx,
        "loyalty_id",
        s.null_where(~shows_card, s.take(pop.loyalty_id, person)),
        keys,
        placeholder_rate=0.01,
        placeholders=("0", "unknown"),
    )
    known = ~pop.anonymous_only[person]
    wants_phone = known & (rng.random(n) < np.where(shows_card, 0.1, 0.35))
    phone = render.phones(ctx, pop, person, wants_phone, placeholder_rate=0.05)
    phone = render.sprinkle(rng, phone, 0.02, mess.PHONE_PLACEHOLDERS[:1])
    email = render.emails(ctx, pop, person, known & (rng.random(n) < 0.2), mess_rate=0.1)

    home_store = (pop.keys % 97)[person] % np.array(STORES_PER_COUNTRY)[country]
    other_store = rng.integers(0, 10_000, n) % np.array(STORES_PER_COUNTRY)[country]
    store = np.where(rng.random(n) < 0.7, home_store, other_store)
    store_id = s.concat(s.pick(ref.COUNTRIES, country), "-", s.padded_ints(store + 1, 3))
    item_count = 1 + rng.poisson(1.5, n)
    favourite = pop.favourite_category[person]
    category = np.where(rng.random(n) < 0.5, favourite, rng.integers(0, len(ref.CATEGORIES), n))
    total = np.round(item_count * rng.lognormal(3.0, 0.5, n) * _CURRENCY_FACTOR[country], 2)
    return pa.table(
        {
            "transaction_id": ctx.ids.take("pos", n),
            "store_id": store_id,
            "loyalty_id": loyalty_id,
            "phone": phone,
            "email": email,
            "purchased_at": pa.array(purchased_at, pa.timestamp("us")),
            "total": total,
            "item_count": pa.array(item_count, pa.int32()),
            "category": s.pick(ref.CATEGORIES, category),
            "payment_method": s.pick(
                ("card", "cash", "wallet"), rng.choice(3, p=(0.65, 0.15, 0.2), size=n)
            ),
        }
    ).select(POS_PURCHASES.column_names)


def _zips(rng: np.random.Generator, country: np.ndarray) -> pa.Array:
    n = len(country)
    five = s.padded_ints(rng.integers(1_000, 99_999, n), 5)
    areas = ("SW1A", "EC1A", "M1", "B33", "LS1", "G2", "CF10", "BS1", "NW3", "E14")
    letters = "ABDEFGHJLNPQRSTUWXYZ"
    gb = s.concat(
        s.pick(areas, rng.integers(0, len(areas), n)),
        " ",
        s.ints(rng.integers(1, 10, n)),
        s.pick(tuple(letters), rng.integers(0, len(letters), n)),
        s.pick(tuple(letters), rng.integers(0, len(letters), n)),
    )
    return s.where(country == 1, gb, five)
