"""Orders (with their items and returns) and in-store purchases.

Records that carry two persons' identifiers live here: gift orders shipped with the
recipient's phone (and for e-gift cards the recipient's email), a partner's loyalty card
scanned with one's own e-receipt email, a cashier picking a same-name customer's email.
Tills also type the store's own phone or scan the store's house card for customers who
have none, and POS uploads arrive late when a store is offline.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from tessera.datagen import strings as s
from tessera.datagen.adversarial import phones, world
from tessera.datagen.adversarial.context import HOUR_US, LOAD_COLUMN, Build
from tessera.datagen.adversarial.fields import case_and_space, email_field, phone_field
from tessera.datagen.adversarial.people import DAY_US
from tessera.datagen.adversarial.truth import Klass, Slot
from tessera.datagen.adversarial.web import Sessions, _take_slot


@dataclass
class Orders:
    orders: pa.Table
    items: pa.Table
    returns: pa.Table
    order_id_by_session: pa.Array
    revenue_by_session: np.ndarray


def build_orders(b: Build, ss: Sessions) -> Orders:
    rng, p, cfg = b.rng, b.people, b.config
    rows = np.flatnonzero(ss.order)
    n = len(rows)
    buyer = ss.person[rows]
    t = ss.end[rows]
    order_id = b.record_ids("KC", n, 7)

    # gifts: shipped to someone else of the chunk, with their phone and sometimes email
    gift = rng.random(n) < cfg.gift_order_share
    recipient = np.where(gift, rng.integers(0, p.n, n), buyer)
    ship_to = np.where(
        rng.random(n) < 0.03, rng.integers(0, len(world.COUNTRIES), n), p.country[recipient]
    )
    e_gift = gift & (rng.random(n) < 0.3)
    # how the platform writes the country: ISO mostly, 'UK', lower case, blank now and then
    country_code = s.pick(world.COUNTRY_CODES, ship_to)
    style = rng.random(n)
    country_raw = s.where((ship_to == 1) & (style < 0.15), "UK", country_code)
    country_raw = s.where(style > 0.93, case_and_space(rng, country_raw, 1.0), country_raw)
    country_raw = s.null_where(style > 0.97, country_raw)
    record_country = np.where(style > 0.97, phones.NO_COUNTRY, ship_to)

    # logged-in checkouts prefill the account's email; guests (and gift forms) type theirs
    guest = ss.user.klass[rows] != Klass.PERSON
    guest |= np.asarray(s.take(ss.user.value, rows).is_null(), dtype=bool)
    email_raw, email = email_field(
        rng,
        p,
        b.shared,
        cfg,
        np.where(e_gift, recipient, buyer),
        t,
        fill=0.97,
        typed=guest | e_gift,
    )
    phone_raw, phone = phone_field(
        rng,
        p,
        b.shared,
        cfg,
        recipient,
        t,
        fill=np.where(gift, 0.95, 0.55),
        record_country=record_country,
    )
    anon = _take_slot(ss.anon, rows)
    user = _take_slot(ss.user, rows)
    user_id = user.value

    items = 1 + rng.poisson(0.8, n)
    line_order = np.repeat(np.arange(n), items)
    category = rng.integers(0, len(world.CATEGORIES), len(line_order))
    quantity = 1 + rng.poisson(0.2, len(line_order))
    price = np.round(world.CATEGORY_PRICE[category] * rng.uniform(0.6, 1.4, len(line_order)), 2)
    subtotal = np.bincount(line_order, weights=quantity * price, minlength=n)
    discount = np.round(np.where(rng.random(n) < 0.25, subtotal * 0.15, 0.0), 2)
    shipping = np.where(subtotal > 75, 0.0, 6.95)
    total = np.round(subtotal - discount + shipping, 2)
    status = np.where(rng.random(n) < 0.06, np.where(rng.random(n) < 0.5, 1, 2), 0)
    updated = t + rng.integers(1, 30, n) * 60_000_000
    updated = np.where(status > 0, t + rng.integers(1, 20, n) * DAY_US, updated) + b.late(n)
    load = updated + b.sync_lag(n, 1)
    b.register(load, anon, user, email, phone)

    orders = pa.table(
        {
            "order_id": order_id,
            "customer_email": email_raw,
            "customer_phone": phone_raw,
            "user_id": user_id,
            "anonymous_id": s.take(ss.anon_raw, rows),
            "ordered_at": pa.array(t, pa.timestamp("us")),
            "status": s.pick(("completed", "cancelled", "refunded"), status),
            "currency": s.pick(world.CURRENCIES, ship_to),
            "subtotal": np.round(subtotal, 2),
            "discount": discount,
            "shipping": shipping,
            "total": total,
            "item_count": pa.array(
                np.bincount(line_order, weights=quantity, minlength=n).astype(np.int32)
            ),
            "shipping_country": country_raw,
            "shipping_zip": s.padded_ints(rng.integers(1000, 99999, n), 5),
            "updated_at": pa.array(updated, pa.timestamp("us")),
            LOAD_COLUMN: load,
        }
    )
    line_number = np.arange(len(line_order)) - s.starts(items)[line_order] + 1
    items_table = pa.table(
        {
            "order_id": s.take(order_id, line_order),
            "line_number": pa.array(line_number.astype(np.int32)),
            "product_id": s.concat(
                "SKU-", s.ints(1000 + category * 1000 + rng.integers(0, 999, len(line_order)))
            ),
            "category": s.pick(world.CATEGORIES, category),
            "quantity": pa.array(quantity.astype(np.int32)),
            "unit_price": price,
            "ordered_at": pa.array(t[line_order], pa.timestamp("us")),
            LOAD_COLUMN: load[line_order],
        }
    )
    returned = np.flatnonzero((status == 0) & (rng.random(n) < 0.08))
    returned_at = t[returned] + rng.integers(3, 40, len(returned)) * DAY_US
    returns = pa.table(
        {
            "return_id": b.record_ids("RMA-", len(returned), 6),
            "order_id": s.take(order_id, returned),
            "returned_at": pa.array(returned_at, pa.timestamp("us")),
            "amount": np.round(total[returned] * rng.uniform(0.3, 1.0, len(returned)), 2),
            "reason": s.pick(
                ("damaged", "wrong_size", "not_as_described", "changed_mind"),
                rng.integers(0, 4, len(returned)),
            ),
            LOAD_COLUMN: returned_at
            + rng.integers(0, 6 * HOUR_US, len(returned))
            + b.late(len(returned)),
        }
    )
    by_session_id = s.scatter(len(ss.person), rows, order_id)
    revenue = np.zeros(len(ss.person))
    revenue[rows] = total
    return Orders(orders, items_table, returns, by_session_id, revenue)


def build_pos(b: Build) -> pa.Table:
    rng, p, cfg, sh = b.rng, b.people, b.config, b.shared
    months = (p.end_us - p.start_us) / (30 * DAY_US)
    counts = rng.poisson(
        np.where(p.store_shopper, cfg.pos_per_month * months * (0.5 + p.propensity), 0)
    )
    person = np.repeat(np.arange(p.n), counts)
    n = len(person)
    t = p.start_us[person] + (rng.random(n) * (p.end_us - p.start_us)[person]).astype(np.int64)
    store = _store_in(rng, sh.store_country, p.country[person])

    own_card = s.take(p.loyalty_id, person)
    has_card = ~np.asarray(own_card.is_null(), dtype=bool)
    scanned = has_card & (rng.random(n) < 0.85)
    card = Slot.of_person("loyalty_id", s.null_where(~scanned, own_card), p.key[person])
    partner = p.partner[person]
    partner_card = s.take_valid(p.loyalty_id, partner, partner >= 0)
    use_partner = (rng.random(n) < cfg.partner_card_share) & ~np.asarray(
        partner_card.is_null(), dtype=bool
    )
    card.replace(
        use_partner,
        partner_card,
        Klass.PERSON,
        np.where(partner >= 0, p.key[np.maximum(partner, 0)], 0),
    )
    house = ~scanned & ~use_partner & (rng.random(n) < cfg.house_card_share)
    card.replace(house, s.take(sh.house_card, store), Klass.HOUSE_CARD)

    email_raw, email = email_field(rng, p, sh, cfg, person, t, fill=0.35, family_share=0.15)
    same = p.same_name[person]
    wrong = (rng.random(n) < cfg.same_name_email_share) & (same >= 0)
    other_email = s.take_valid(p.email1, same, same >= 0)
    wrong &= ~np.asarray(other_email.is_null(), dtype=bool)
    email.replace(
        wrong, other_email, Klass.PERSON, np.where(same >= 0, p.key[np.maximum(same, 0)], 0)
    )
    email_raw = s.where(wrong, other_email, email_raw)

    phone_raw, phone = phone_field(rng, p, sh, cfg, person, t, fill=0.35, landline_share=0.25)
    habit = sh.store_habit[store] & (scanned | use_partner) & (rng.random(n) < 0.6)
    typed_store = habit | (rng.random(n) < cfg.store_phone_share * 0.3)
    phone.replace(typed_store, s.take(sh.store_phone, store), Klass.STORE_PHONE)
    phone_raw = s.where(typed_store, s.take(sh.store_phone_raw, store), phone_raw)

    # stores upload overnight, some only on Mondays, and some are offline for days
    day = t // DAY_US
    next_night = (day + 1) * DAY_US + 2 * HOUR_US
    to_monday = 7 - (day + 3) % 7  # epoch day 0 was a Thursday
    next_monday = (day + to_monday) * DAY_US + 3 * HOUR_US
    next_night = np.where(sh.store_weekly[store], next_monday, next_night)
    offline = s.hash_uniform(b.seed, store * 10_000 + t // (7 * DAY_US), 21) < 0.05
    load = next_night + np.where(offline, rng.integers(2, 10, n) * DAY_US, 0) + b.late(n, 0.5)
    b.register(load, card, email, phone)
    category = rng.integers(0, len(world.CATEGORIES), n)
    return pa.table(
        {
            "transaction_id": b.record_ids("POS-", n, 8),
            "store_id": s.take(sh.store_id, store),
            "loyalty_id": card.value,
            "phone": phone_raw,
            "email": email_raw,
            "purchased_at": pa.array(t, pa.timestamp("us")),
            "total": np.round(world.CATEGORY_PRICE[category] * rng.uniform(0.3, 2.5, n), 2),
            "item_count": pa.array((1 + rng.poisson(1.2, n)).astype(np.int32)),
            "category": s.pick(world.CATEGORIES, category),
            "payment_method": s.pick(("card", "cash", "wallet"), rng.integers(0, 3, n)),
            LOAD_COLUMN: load,
        }
    )


def _store_in(
    rng: np.random.Generator, store_country: np.ndarray, country: np.ndarray
) -> np.ndarray:
    first = np.searchsorted(store_country, np.arange(len(world.COUNTRIES)))
    count = np.bincount(store_country, minlength=len(world.COUNTRIES))
    return first[country] + (rng.random(len(country)) * count[country]).astype(np.int64)
