"""Segment-spec events (page, identify, track) expanded from visits, all columns at once."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tessera.datagen import mess, render
from tessera.datagen import reference as ref
from tessera.datagen import strings as s
from tessera.datagen.calendar import DAY_US, SECOND_US
from tessera.datagen.context import ChunkContext
from tessera.datagen.population import KIND_CHANNEL, KIND_IS_APP, Population
from tessera.datagen.schema import EVENTS
from tessera.datagen.sessions import DIRECT, EMAIL, PAID, Sessions

# Event kinds in the order they happen within a visit.
LANDING, IDENTIFY, SIGNUP, VIEW, PAGE, ADD, CHECKOUT, ORDER = range(8)
_N_KINDS = 8
_CALL_TYPE = np.array([0, 1, 2, 2, 0, 2, 2, 2])  # page, identify, track
_EVENT_NAME = (
    None,
    None,
    "Signed Up",
    "Product Viewed",
    None,
    "Product Added",
    "Checkout Started",
    "Order Completed",
)
LATE_SHARE = 0.02
ANONYMOUS_PLACEHOLDER_RATE = 0.008
USER_ID_PLACEHOLDER_RATE = 0.003
DEVICE_PLACEHOLDER_RATE = 0.02


@dataclass
class EventLayout:
    session: np.ndarray
    kind: np.ndarray
    position: np.ndarray  # within the visit, from 0
    rank: np.ndarray  # within its kind in the visit, from 0
    timestamp: np.ndarray
    received_at: np.ndarray
    order_time: np.ndarray  # per session: when Order Completed fired (0 if no order)


def layout_events(ctx: ChunkContext, sessions: Sessions) -> EventLayout:
    counts = np.column_stack(
        [
            np.ones(sessions.n, dtype=np.int64),
            sessions.login_identify | sessions.newsletter_identify,
            sessions.signup,
            sessions.n_view,
            sessions.n_page - 1,
            sessions.n_add,
            sessions.checkout,
            sessions.order,
        ]
    ).astype(np.int64)
    flat = counts.ravel()
    n_events = int(flat.sum())
    block = np.repeat(np.arange(len(flat)), flat)
    block_start = s.starts(flat)
    session = block // _N_KINDS
    kind = block % _N_KINDS
    per_session = counts.sum(axis=1)
    session_start = s.starts(per_session)
    index = np.arange(n_events)
    position = index - session_start[session]
    rank = index - block_start[block]

    gaps = (ctx.rng.exponential(45.0, n_events) * SECOND_US).astype(np.int64)
    gaps[position == 0] = 0
    elapsed = np.cumsum(gaps)
    elapsed -= elapsed[session_start[session]] if n_events else 0
    timestamp = sessions.start[session] + elapsed

    order_time = np.zeros(sessions.n, dtype=np.int64)
    is_order = kind == ORDER
    order_time[session[is_order]] = timestamp[is_order]

    rng = ctx.rng
    is_app = KIND_IS_APP[sessions.kind[session]]
    latency = (rng.lognormal(0.5, 1.0, n_events) * SECOND_US).astype(np.int64)
    batched = is_app & (rng.random(n_events) < 0.1)
    latency += np.where(batched, (rng.exponential(1200, n_events) * SECOND_US).astype(np.int64), 0)
    late = rng.random(n_events) < LATE_SHARE
    latency += np.where(late, (rng.uniform(1.0, 6.0, n_events) * DAY_US).astype(np.int64), 0)
    received_at = timestamp + latency

    # A load holds what the collector received in the window: late arrivals from just
    # before it are in, events that have not arrived by its end are not (yet).
    keep = (received_at < ctx.window_end) & (
        (timestamp >= ctx.window_start) | (received_at >= ctx.window_start)
    )
    return EventLayout(
        session[keep],
        kind[keep],
        position[keep],
        rank[keep],
        timestamp[keep],
        received_at[keep],
        order_time,
    )


def build_events(
    ctx: ChunkContext,
    pop: Population,
    sessions: Sessions,
    layout: EventLayout,
    order_id: pa.Array,
    order_revenue: np.ndarray,
) -> pa.Table:
    """order_id / order_revenue are per session (null / nan without an order)."""
    rng = ctx.rng
    sess = layout.session
    kind = layout.kind
    n = len(sess)
    person = sessions.person[sess]
    keys = pop.keys[person]
    device_kind = sessions.kind[sess]
    is_app = KIND_IS_APP[device_kind]
    slot = sessions.slot[sess]
    landing = kind == LANDING

    ctx.truth.records(n)  # the rows below are one source record each
    anonymous_id = render.identifier(
        ctx,
        "anonymous_id",
        s.take(pop.devices.anonymous_ids, sessions.cookie[sess]),
        keys,
        placeholder_rate=ANONYMOUS_PLACEHOLDER_RATE,
        placeholders=mess.ANONYMOUS_ID_PLACEHOLDERS,
    )
    # Before the login identify, the landing page of that visit is still anonymous.
    anonymous_part = ~sessions.logged_in[sess] | (sessions.login_identify[sess] & landing)
    user_id = render.identifier(
        ctx, "user_id", s.null_where(anonymous_part, s.take(pop.user_id, person)), keys
    )
    user_id = render.sprinkle(rng, user_id, USER_ID_PLACEHOLDER_RATE, mess.USER_ID_PLACEHOLDERS)
    device_id = render.identifier(
        ctx,
        "device_id",
        s.null_where(~is_app, s.take(pop.devices.device_id, slot)),
        keys,
        placeholder_rate=DEVICE_PLACEHOLDER_RATE,
        placeholders=mess.DEVICE_ID_PLACEHOLDERS,
    )

    product = np.where(
        (kind == VIEW) & (layout.rank > 0), ctx.catalog.sample(rng, n), sessions.hero_product[sess]
    )
    has_product = (kind == VIEW) | (kind == ADD)
    product_id = s.null_where(~has_product, s.take(pa.array(ctx.catalog.product_ids), product))
    category_index = ctx.catalog.category_index[product]
    category = s.null_where(~has_product, s.pick(ref.CATEGORIES, category_index))
    price = np.where(has_product, ctx.catalog.price[product], np.nan)

    path = _paths(rng, kind, layout.rank, product_id, category_index)
    # Campaign parameters only exist on landing pages: compute them there, place them back.
    landing_rows = np.flatnonzero(landing)
    landing_sess = sess[landing_rows]
    query = s.scatter(n, landing_rows, _landing_query(sessions, landing_sess))
    url = s.null_where(is_app, s.concat(ref.SHOP_URL, path, pc.fill_null(query, "")))
    utm_source, utm_medium, utm_campaign = (
        s.scatter(n, landing_rows, field) for field in _utm(sessions, landing_sess)
    )

    is_identify = kind == IDENTIFY
    newsletter = sessions.newsletter_identify[sess]
    traits_email = render.emails(ctx, pop, person, is_identify, placeholder_rate=0.01)
    traits_phone = render.phones(
        ctx, pop, person, is_identify & ~newsletter & (rng.random(n) < 0.35)
    )
    first_name = s.null_where(~is_identify | newsletter, s.take(pop.first_name, person))
    last_name = s.null_where(~is_identify | newsletter, s.take(pop.last_name, person))
    is_order = kind == ORDER
    columns = {
        "message_id": s.uuid_strings(rng, n),
        "type": s.pick(("page", "identify", "track"), _CALL_TYPE[kind]),
        "event": s.null_where(_CALL_TYPE[kind] != 2, s.pick([e or "" for e in _EVENT_NAME], kind)),
        "anonymous_id": anonymous_id,
        "user_id": user_id,
        "device_id": device_id,
        "timestamp": pa.array(layout.timestamp, pa.timestamp("us")),
        "received_at": pa.array(layout.received_at, pa.timestamp("us")),
        "context_channel": s.pick(KIND_CHANNEL, device_kind),
        "context_page_url": url,
        "context_page_path": path,
        "context_page_referrer": _referrers(sessions, sess, landing, is_app),
        "context_campaign_source": utm_source,
        "context_campaign_medium": utm_medium,
        "context_campaign_name": utm_campaign,
        "context_user_agent": s.take(pop.devices.user_agent, slot),
        "context_ip": s.take(sessions.ip, sess),
        "traits_email": traits_email,
        "traits_phone": traits_phone,
        "traits_first_name": first_name,
        "traits_last_name": last_name,
        "properties_product_id": product_id,
        "properties_category": category,
        "properties_price": pa.array(price, mask=np.isnan(price)),
        "properties_order_id": s.null_where(~is_order, s.take(order_id, sess)),
        "properties_revenue": pa.array(
            np.where(is_order, order_revenue[sess], np.nan), mask=~is_order
        ),
    }
    return pa.table({name: columns[name] for name in EVENTS.column_names})


def _paths(
    rng: np.random.Generator,
    kind: np.ndarray,
    rank: np.ndarray,
    product_id: pa.Array,
    category_index: np.ndarray,
) -> pa.Array:
    n = len(kind)
    browse = s.pick(
        ("/", "/sale", "/new-arrivals", "/search", "/account", "/stores"),
        rng.integers(0, 6, n),
    )
    category_page = s.concat("/c/", s.pick(ref.CATEGORIES, category_index))
    page = s.where(rng.random(n) < 0.5, category_page, browse)
    path = s.where(
        (kind == VIEW) | (kind == ADD), s.concat("/p/", pc.fill_null(product_id, "")), page
    )
    path = s.where(kind == IDENTIFY, pa.scalar("/account/login"), path)
    path = s.where(kind == SIGNUP, pa.scalar("/account/register"), path)
    path = s.where(kind == CHECKOUT, pa.scalar("/checkout"), path)
    return s.where(kind == ORDER, pa.scalar("/checkout/confirmation"), path)


def _campaign_fields(sessions: Sessions, sess: np.ndarray) -> tuple[pa.Array, ...]:
    source = sessions.source[sess]
    campaign = sessions.campaign[sess]
    platform = np.array([c[0] for c in ref.AD_CAMPAIGNS] + [""])[campaign]
    names = [c[2].lower().replace(" - ", "_").replace(" ", "_") for c in ref.AD_CAMPAIGNS]
    paid_source = s.pick(
        ("google", "facebook", "tiktok", ""),
        np.select([platform == "google", platform == "meta", platform == "tiktok"], [0, 1, 2], 3),
    )
    paid_medium = s.where(platform == "google", pa.scalar("cpc"), pa.scalar("paid_social"))
    paid_name = s.pick([*names, ""], np.where(campaign < 0, len(names), campaign))
    email_name = s.where(
        sessions.is_follow_up[sess], pa.scalar("cart_reminder"), pa.scalar("weekly_newsletter")
    )
    utm_source = s.where(source == PAID, paid_source, pa.scalar("newsletter"))
    utm_medium = s.where(source == PAID, paid_medium, pa.scalar("email"))
    utm_campaign = s.where(source == PAID, paid_name, email_name)
    return utm_source, utm_medium, utm_campaign


def _utm(sessions: Sessions, sess: np.ndarray) -> tuple[pa.Array, ...]:
    source = sessions.source[sess]
    tagged = (source == PAID) | (source == EMAIL)
    return tuple(s.null_where(~tagged, f) for f in _campaign_fields(sessions, sess))


def _landing_query(sessions: Sessions, sess: np.ndarray) -> pa.Array:
    source = sessions.source[sess]
    utm_source, utm_medium, utm_campaign = _campaign_fields(sessions, sess)
    campaign = sessions.campaign[sess]
    platform = np.array([c[0] for c in ref.AD_CAMPAIGNS] + [""])[campaign]
    click_param = s.pick(
        ("gclid", "fbclid", "ttclid", ""),
        np.select([platform == "google", platform == "meta", platform == "tiktok"], [0, 1, 2], 3),
    )
    utm = s.concat(
        "?utm_source=", utm_source, "&utm_medium=", utm_medium, "&utm_campaign=", utm_campaign
    )
    with_click = s.concat(
        utm, "&", click_param, "=", pc.fill_null(s.take(sessions.click_id, sess), "")
    )
    query = s.where(source == PAID, with_click, utm)
    return s.null_where(~((source == PAID) | (source == EMAIL)), query)


def _referrers(
    sessions: Sessions, sess: np.ndarray, landing: np.ndarray, is_app: np.ndarray
) -> pa.Array:
    source = sessions.source[sess]
    # By source: direct, organic, paid, email, social, referral.
    by_source = s.pick(
        (
            "",
            "https://www.google.com/",
            "https://www.google.com/",
            "",
            "https://www.instagram.com/",
            "https://blog.example.org/best-gifts",
        ),
        source,
    )
    landing_ref = s.null_where(np.isin(source, (DIRECT, EMAIL)), by_source)
    inner = pa.scalar(ref.SHOP_URL + "/")
    out = s.where(landing, landing_ref, inner)
    return s.null_where(is_app, out)
