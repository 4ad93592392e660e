"""Sessions on the web, in the app, on a household tablet, a public PC or a store kiosk, and
the bots; from them the Segment events and the ad clicks.

The identifier mess of this layer: app devices that send an OS placeholder or an unrendered
macro instead of their id (consistently, on every event), ad clicks from campaigns whose
tag leaves the macro in the device id (on web clicks too, next to a real cookie), shared
and public surfaces where several persons log in, and bot cookies with thousands of events
and forms filled with many addresses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tessera.datagen import strings as s
from tessera.datagen.adversarial import catalogue, world
from tessera.datagen.adversarial.context import HOUR_US, LOAD_COLUMN, Build
from tessera.datagen.adversarial.fields import email_field, phone_field
from tessera.datagen.adversarial.people import DAY_US, IOS, NONE
from tessera.datagen.adversarial.truth import Klass, Slot

WEB, APP, TABLET, PUBLIC, KIOSK, BOT = range(6)
_SECOND_US = 1_000_000
_USER_AGENTS = {
    WEB: (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0 Safari/537.36",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.4 Safari/605.1.15",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0 Mobile Safari/537.36",
    ),
    APP: ("Kestrel/5.2.1 (iPhone; iOS 17.4)", "Kestrel/5.2.0 (Android 14; SM-S918B)"),
}
_PAGES = ("/", "/new", "/sale", "/c/outerwear", "/c/footwear", "/c/bags", "/account", "/cart")
_TRACKS = ("Product Viewed", "Product Added", "Checkout Started", "Product List Viewed")


@dataclass
class Sessions:
    person: np.ndarray  # index in the chunk's people, -1 for bots
    start: np.ndarray
    surface: np.ndarray
    anon: Slot
    anon_raw: pa.Array
    device: Slot
    device_raw: pa.Array
    user: Slot  # logged-in user id; a junk value from a buggy front end; null otherwise
    paid: np.ndarray
    campaign: np.ndarray
    order: np.ndarray  # the session ends with an order
    n_events: np.ndarray
    end: np.ndarray = None  # type: ignore[assignment]


def simulate_sessions(b: Build) -> Sessions:
    p, rng, cfg = b.people, b.rng, b.config
    months = (p.end_us - p.start_us) / (30 * DAY_US)
    counts = np.minimum(rng.poisson(p.activity * months * cfg.sessions_per_month), 400)
    person = np.repeat(np.arange(p.n), counts)
    n = len(person)
    start = p.start_us[person] + (rng.random(n) * (p.end_us - p.start_us)[person]).astype(np.int64)

    u = rng.random(n)
    has_app = p.platform[person] != NONE
    has_tablet = ~np.asarray(s.take(p.tablet_device, person).is_null(), dtype=bool)
    surface = np.full(n, WEB)
    surface = np.where(has_app & (u < 0.5), APP, surface)
    surface = np.where(has_tablet & (u >= 0.5) & (u < 0.68), TABLET, surface)
    surface = np.where(p.public_pc_user[person] & (u >= 0.68) & (u < 0.8), PUBLIC, surface)

    # kiosk sign-ups: store shoppers entering their email on the store's tablet
    kiosk_people = np.flatnonzero(
        p.store_shopper & ~p.anonymous_only & (rng.random(p.n) < cfg.kiosk_use_share)
    )
    person = np.concatenate([person, kiosk_people])
    k_start = p.start_us[kiosk_people] + (
        rng.random(len(kiosk_people)) * (p.end_us - p.start_us)[kiosk_people]
    ).astype(np.int64)
    start = np.concatenate([start, k_start])
    surface = np.concatenate([surface, np.full(len(kiosk_people), KIOSK)])
    n = len(person)
    order = np.lexsort((start, person))
    person, start, surface = person[order], start[order], surface[order]

    keys = p.key[person]
    cookie = p.cookie_at(person, start)
    app_device, app_anon = p.device_at(person, start)
    anon_value = s.where(surface == APP, app_anon, cookie)
    anon = Slot.of_person("anonymous_id", anon_value, keys)
    device = Slot.of_person("device_id", s.where(surface == APP, app_device, s.nulls(n)), keys)

    # an app device that withholds its id sends the same placeholder or macro every time
    second = start >= p.device_switch_us[person]
    u_device = s.hash_uniform(b.seed, keys * 2 + second, 11)
    pick = (s.hash_uniform(b.seed, keys * 2 + second, 12) * 10**6).astype(np.int64)
    lat = (surface == APP) & (u_device < cfg.lat_device_share)
    macro = (surface == APP) & ~lat & (u_device < cfg.lat_device_share + cfg.sdk_macro_device_share)
    device.replace(
        lat,
        s.pick(catalogue.OS_PLACEHOLDERS, pick % len(catalogue.OS_PLACEHOLDERS)),
        Klass.PLACEHOLDER,
    )
    device.replace(
        macro, s.pick(catalogue.AD_MACROS, pick % len(catalogue.AD_MACROS)), Klass.PLACEHOLDER
    )

    tablet = surface == TABLET
    anon.replace(tablet, s.take(p.tablet_anon, person), Klass.HOUSEHOLD)
    device.replace(tablet, s.take(p.tablet_device, person), Klass.HOUSEHOLD)
    public = surface == PUBLIC
    pc_index = (s.hash_uniform(b.seed, keys, 13) * len(b.shared.public_pc)).astype(np.int64)
    anon.replace(public, s.take(b.shared.public_pc, pc_index), Klass.PUBLIC_DEVICE)
    kiosk = surface == KIOSK
    store_kiosks = rng.integers(0, len(b.shared.kiosk_anon), n)
    anon.replace(kiosk, s.take(b.shared.kiosk_anon, store_kiosks), Klass.PUBLIC_DEVICE)
    device.replace(kiosk, s.take(b.shared.kiosk_device, store_kiosks), Klass.PUBLIC_DEVICE)

    login_share = np.select([surface == APP, tablet, public, kiosk], [0.85, 0.7, 1.0, 0.0], 0.45)
    logged_in = (rng.random(n) < login_share) & p.registered[person]
    user = Slot.of_person("user_id", s.null_where(~logged_in, s.take(p.user_id, person)), keys)
    junk_user = ~logged_in & (surface <= APP) & (rng.random(n) < cfg.user_id_junk_share)
    pick = rng.integers(0, len(catalogue.USER_ID_PLACEHOLDERS), n)
    user.replace(junk_user, s.pick(catalogue.USER_ID_PLACEHOLDERS, pick), Klass.PLACEHOLDER)
    paid = (surface <= APP) & (rng.random(n) < np.where(surface == APP, 0.3, 0.22))
    buys = (surface <= TABLET) & ~p.anonymous_only[person]
    order = buys & (rng.random(n) < cfg.order_per_session * (0.5 + 2 * p.propensity[person]))
    n_events = 1 + rng.poisson(max(cfg.events_per_session - 1, 0.0), n) + order * 2
    return Sessions(
        person=person,
        start=start,
        surface=surface,
        anon=anon,
        anon_raw=anon.value,
        device=device,
        device_raw=device.value,
        user=user,
        paid=paid,
        campaign=rng.integers(0, len(b.shared.campaign_id), n),
        order=order,
        n_events=n_events,
    )


def build_events(b: Build, ss: Sessions) -> pa.Table:
    """raw.events for the sessions; sets `ss.end`, when each session's last event happened.
    Order Completed events get their order id and revenue once the orders exist."""
    p, rng, cfg = b.people, b.rng, b.config
    session = np.repeat(np.arange(len(ss.person)), ss.n_events)
    n = len(session)
    first = s.starts(ss.n_events)
    position = np.arange(n) - first[session]
    last = position == ss.n_events[session] - 1
    gaps = rng.exponential(45.0, n) * _SECOND_US
    gaps[first] = 0
    offset = np.cumsum(gaps) - np.cumsum(gaps)[first][session]
    ts = ss.start[session] + offset.astype(np.int64)
    ss.end = ts[np.minimum(first + ss.n_events - 1, n - 1)]

    person = ss.person[session]
    surface = ss.surface[session]
    logged = (ss.user.klass == Klass.PERSON)[session] & ~np.asarray(
        ss.user.value.is_null(), dtype=bool
    )[session]
    has_order = ss.order[session] & last
    identify = (logged & (position == 1)) | ((surface == KIOSK) & (position == 0))
    # anonymous visitors leave an email in a newsletter or checkout form now and then
    signup = ~logged & (position == 0) & (surface == WEB) & (rng.random(n) < 0.05)
    identify |= signup
    kind = np.where(identify, 2, np.where(position == 0, 0, rng.integers(0, 2, n)))
    kind = np.where(has_order, 1, kind)

    # a logged-in identify sends the profile's traits; forms (sign-up, kiosk) are typed
    email_raw, email = email_field(
        rng, p, b.shared, cfg, person, ts, fill=np.where(identify, 0.75, 0.0), typed=~logged
    )
    phone_raw, phone = phone_field(
        rng, p, b.shared, cfg, person, ts, fill=np.where(identify, 0.25, 0.0), typed=~logged
    )
    anon = _take_slot(ss.anon, session)
    device = _take_slot(ss.device, session)
    user = _take_slot(ss.user, session)
    user_id = user.value

    channel = np.select([surface == APP, surface == TABLET], ["ios", "ios"], "web")
    channel = np.where((surface == APP) & (p.platform[person] != IOS), "android", channel)
    received = ts + _collector_lag(rng, n, surface) + b.late(n) * (surface == APP)
    load = received + b.sync_lag(n)
    page = s.pick(_PAGES, rng.integers(0, len(_PAGES), n))
    paid = ss.paid[session]
    campaign = ss.campaign[session]
    category = rng.integers(0, len(world.CATEGORIES), n)
    track = kind == 1
    event_name = s.where(
        has_order, "Order Completed", s.pick(_TRACKS, rng.integers(0, len(_TRACKS), n))
    )
    table = {
        "message_id": s.uuid_strings(rng, n),
        "type": s.pick(("page", "track", "identify"), kind),
        "event": s.null_where(~track, event_name),
        "anonymous_id": s.take(ss.anon_raw, session),
        "user_id": user_id,
        "device_id": s.take(ss.device_raw, session),
        "timestamp": pa.array(ts, pa.timestamp("us")),
        "received_at": pa.array(received, pa.timestamp("us")),
        "context_channel": pa.array(channel, pa.string()),
        "context_page_url": s.null_where(surface == APP, s.concat("https://kestrelco.com", page)),
        "context_page_path": s.null_where(surface == APP, page),
        "context_page_referrer": s.null_where(
            position > 0,
            s.pick(
                ("https://www.google.com/", "", "https://l.instagram.com/"), rng.integers(0, 3, n)
            ),
        ),
        "context_campaign_source": s.null_where(
            ~paid, s.take(b.shared.campaign_platform, campaign)
        ),
        "context_campaign_medium": s.null_where(~paid, pa.array(["cpc"] * n, pa.string())),
        "context_campaign_name": s.null_where(~paid, s.take(b.shared.campaign_name, campaign)),
        "context_user_agent": s.where(
            surface == APP,
            s.pick(_USER_AGENTS[APP], (channel == "android").astype(np.int64)),
            s.pick(_USER_AGENTS[WEB], p.key[person] % len(_USER_AGENTS[WEB])),
        ),
        "context_ip": _ips(p.household[person]),
        "traits_email": email_raw,
        "traits_phone": phone_raw,
        "traits_first_name": s.null_where(~identify, s.take(p.first_name, person)),
        "traits_last_name": s.null_where(~identify, s.take(p.last_name, person)),
        "properties_product_id": s.null_where(
            ~track | has_order, s.concat("SKU-", s.ints(rng.integers(1000, 9999, n)))
        ),
        "properties_category": s.null_where(~track | has_order, s.pick(world.CATEGORIES, category)),
        "properties_price": pa.array(world.CATEGORY_PRICE[category], mask=~track | has_order),
        "properties_order_id": s.nulls(n),
        "properties_revenue": pa.nulls(n, pa.float64()),
        LOAD_COLUMN: load,
    }
    # Truth: a session's events all carry the same cookie, device and user id, so they are
    # registered once per session, as loaded with its first loaded event; events that also
    # carry an email or phone (identify) are registered on their own.
    first_load = np.minimum.reduceat(load, first) if n else load
    sessions = np.flatnonzero(ss.n_events > 0)
    b.register(
        first_load,
        _take_slot(ss.anon, sessions),
        _take_slot(ss.device, sessions),
        _take_slot(ss.user, sessions),
    )
    traits = np.flatnonzero(
        ~np.asarray(email.value.is_null(), dtype=bool)
        | ~np.asarray(phone.value.is_null(), dtype=bool)
    )
    b.register(
        load[traits],
        *(_take_slot(slot, traits) for slot in (anon, device, user, email, phone)),
    )
    return pa.table(table)


def build_bot_events(b: Build) -> pa.Table:
    """Bot cookies: thousands of hits in a few days, forms filled with many addresses."""
    rng, cfg, p = b.rng, b.config, b.people
    expected = p.n * cfg.bots_per_10k_persons / 10_000
    n_bots = int(expected) + int(rng.random() < expected - int(expected))
    if n_bots == 0:
        return None  # type: ignore[return-value]
    hits = 1000 + rng.poisson(2500, n_bots)
    forms = rng.poisson(cfg.bot_form_emails, n_bots)
    bot = np.repeat(np.arange(n_bots), hits + forms)
    n = len(bot)
    is_form = (np.arange(n) - s.starts(hits + forms)[bot]) >= hits[bot]
    begin = b.start_us + (rng.random(n_bots) * (b.horizon_us - b.start_us - 5 * DAY_US)).astype(
        np.int64
    )
    ts = begin[bot] + (rng.random(n) * rng.uniform(1, 4, n_bots)[bot] * DAY_US).astype(np.int64)
    cookie = s.uuid_strings(rng, n_bots)
    anon = Slot(
        "anonymous_id",
        s.take(cookie, bot),
        np.zeros(n, np.int64),
        np.full(n, Klass.BOT, np.int8),
        np.ones(n, bool),
    )

    with_email = np.flatnonzero(~np.asarray(p.email1.is_null(), dtype=bool))
    real = is_form & (rng.random(n) < cfg.bot_real_email_share) & (len(with_email) > 0)
    victim = (
        with_email[rng.integers(0, max(len(with_email), 1), n)]
        if len(with_email)
        else np.zeros(n, np.int64)
    )
    fake = s.concat(
        pc.utf8_lower(s.alnum_strings(rng, n, 9)),
        "@",
        s.pick(catalogue.DISPOSABLE_DOMAINS, rng.integers(0, len(catalogue.DISPOSABLE_DOMAINS), n)),
    )
    value = s.null_where(~is_form, s.where(real, s.take(p.email1, victim), fake))
    email = Slot(
        "email",
        value,
        np.where(real, p.key[victim], 0),
        np.where(real, Klass.PERSON, Klass.BOT).astype(np.int8),
        np.ones(n, bool),
    )
    load = ts + rng.integers(0, 2 * HOUR_US, n)
    b.register(load, anon, email)
    page = s.pick(_PAGES, rng.integers(0, len(_PAGES), n))
    nulls = s.nulls(n)
    return pa.table(
        {
            "message_id": s.uuid_strings(rng, n),
            "type": s.where(is_form, "identify", "page"),
            "event": nulls,
            "anonymous_id": anon.value,
            "user_id": nulls,
            "device_id": nulls,
            "timestamp": pa.array(ts, pa.timestamp("us")),
            "received_at": pa.array(ts + 300_000, pa.timestamp("us")),
            "context_channel": pa.array(["web"] * n, pa.string()),
            "context_page_url": s.concat("https://kestrelco.com", page),
            "context_page_path": page,
            "context_page_referrer": nulls,
            "context_campaign_source": nulls,
            "context_campaign_medium": nulls,
            "context_campaign_name": nulls,
            "context_user_agent": s.pick(
                catalogue.BOT_USER_AGENTS, bot % len(catalogue.BOT_USER_AGENTS)
            ),
            "context_ip": s.concat(
                "185.220.", s.ints(bot % 250), ".", s.ints(rng.integers(1, 254, n))
            ),
            "traits_email": value,
            "traits_phone": nulls,
            "traits_first_name": nulls,
            "traits_last_name": nulls,
            "properties_product_id": nulls,
            "properties_category": nulls,
            "properties_price": pa.nulls(n, pa.float64()),
            "properties_order_id": nulls,
            "properties_revenue": pa.nulls(n, pa.float64()),
            LOAD_COLUMN: load,
        }
    )


def build_ad_clicks(b: Build, ss: Sessions) -> pa.Table:
    """A click before each paid session; broken tags leave the macro in device_id."""
    rng, sh = b.rng, b.shared
    rows = np.flatnonzero(ss.paid)
    n = len(rows)
    campaign = ss.campaign[rows]
    clicked = ss.start[rows] - rng.integers(1, 20, n) * _SECOND_US
    anon = _take_slot(ss.anon, rows)
    device = _take_slot(ss.device, rows)
    device_raw = s.take(ss.device_raw, rows)
    macro = s.take(sh.campaign_macro, campaign)
    broken = ~np.asarray(macro.is_null(), dtype=bool)
    device.replace(broken, macro, Klass.PLACEHOLDER)
    device_raw = s.where(broken, macro, device_raw)
    platform = s.take(sh.campaign_platform, campaign)
    click_id = s.alnum_strings(rng, n, 32)
    # ad platforms report clicks a day or three later, some much later (backfills)
    load = clicked + rng.integers(24, 72, n) * HOUR_US + b.late(n)
    b.register(load, anon, device)
    return pa.table(
        {
            "click_id": click_id,
            "platform": platform,
            "campaign_id": s.take(sh.campaign_id, campaign),
            "campaign_name": s.take(sh.campaign_name, campaign),
            "ad_group": s.concat("ag_", s.ints(campaign % 7)),
            "anonymous_id": s.take(ss.anon_raw, rows),
            "device_id": device_raw,
            "clicked_at": pa.array(clicked, pa.timestamp("us")),
            "cost": np.round(rng.gamma(2.0, 0.6, n), 2),
            "landing_url": s.concat(
                "https://kestrelco.com/?",
                pc.replace_substring_regex(
                    pc.replace_substring(
                        pc.replace_substring(platform, "google", "gclid"), "meta", "fbclid"
                    ),
                    "^tiktok$",
                    "ttclid",
                ),
                "=",
                click_id,
                "&utm_source=",
                platform,
            ),
            LOAD_COLUMN: load,
        }
    )


def _take_slot(slot: Slot, rows: np.ndarray) -> Slot:
    return Slot(
        slot.id_type,
        s.take(slot.value, rows),
        slot.owner[rows],
        slot.klass[rows],
        slot.resolvable[rows],
    )


def _collector_lag(rng: np.random.Generator, n: int, surface: np.ndarray) -> np.ndarray:
    lag = rng.integers(100_000, 3_000_000, n)
    offline = (surface == APP) & (rng.random(n) < 0.03)
    return np.where(offline, rng.integers(60, 600, n) * 60 * _SECOND_US, lag)


def _ips(household: np.ndarray) -> pa.Array:
    h = np.asarray(household, dtype=np.int64)
    return s.concat(
        s.ints(60 + h % 140),
        ".",
        s.ints(h // 11 % 254 + 1),
        ".",
        s.ints(h // 5 % 254 + 1),
        ".",
        s.ints(h % 251 + 1),
    )
