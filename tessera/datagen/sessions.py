"""Visits: when each person comes, on which device, logged in or not, and how far they get.

Behaviour that makes prediction learnable:
- a latent propensity scales product views, cart adds and checkout conversion;
- each person's activity rises and falls over time (a slow wave with a personal period),
  so recent engagement predicts near-future purchases;
- abandoned carts bring the person back within days (follow-up visits that convert more);
- churned persons stop all activity at `churned_at`;
- seasonality comes from the calendar (weekday pattern, November/December peak).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from tessera.datagen import reference as ref
from tessera.datagen import strings as s
from tessera.datagen.calendar import DAY_US, HOUR_US
from tessera.datagen.context import ChunkContext
from tessera.datagen.population import KIND_IS_APP, Population

SESSIONS_PER_WEIGHTED_DAY = 0.011
FOLLOW_UP_SHARE = 0.4
# Chance a registered person is logged in, by device kind (desktop, mobile web, ios,
# android, shared tablet: every member logs in with their own account).
LOGIN_SHARE = np.array([0.5, 0.4, 0.8, 0.8, 0.95])

DIRECT, ORGANIC, PAID, EMAIL, SOCIAL, REFERRAL = range(6)
SOURCE_SHARE = (0.38, 0.25, 0.14, 0.08, 0.10, 0.05)


@dataclass
class Sessions:
    person: np.ndarray
    start: np.ndarray
    slot: np.ndarray
    kind: np.ndarray
    cookie: np.ndarray  # row in devices.anonymous_ids
    logged_in: np.ndarray
    login_identify: np.ndarray  # first logged-in visit on this device: identify call
    signup: np.ndarray
    newsletter_identify: np.ndarray  # known, not registered: identify with email only
    source: np.ndarray
    campaign: np.ndarray  # index into reference.AD_CAMPAIGNS for PAID, else -1
    click_id: pa.Array  # null unless PAID
    n_page: np.ndarray
    n_view: np.ndarray
    n_add: np.ndarray
    checkout: np.ndarray
    order: np.ndarray
    hero_product: np.ndarray
    is_follow_up: np.ndarray
    ip: pa.Array

    @property
    def n(self) -> int:
        return len(self.person)


def simulate_sessions(ctx: ChunkContext, pop: Population) -> Sessions:
    rng = ctx.rng
    lo = np.maximum(pop.first_seen, ctx.window_start - ctx.lookback_us)
    hi = np.minimum(pop.active_end, ctx.window_end)
    weight = np.where(hi > lo, ctx.calendar.weight_between(lo, hi), 0.0)
    expected = SESSIONS_PER_WEIGHTED_DAY * pop.activity * (1 + pop.amplitude) * weight
    person = np.repeat(np.arange(pop.n), rng.poisson(expected))
    start = ctx.calendar.sample(rng, lo[person], hi[person])

    # Thinning by a personal slow wave: engagement comes in phases.
    days = start / DAY_US
    wave = np.sin(2 * np.pi * days / pop.period_days[person] + pop.phase[person])
    amplitude = pop.amplitude[person]
    keep = rng.random(len(person)) < (1 + amplitude * wave) / (1 + amplitude)
    person, start = person[keep], start[keep]

    base = _base_visits(ctx, pop, person, start)
    follow = _follow_ups(ctx, pop, base)
    sessions = _concat(base, follow)
    order = np.lexsort((sessions.start, sessions.person))
    sessions = _take(sessions, order)
    _mark_identifies(ctx, pop, sessions)
    _attribute(ctx, pop, sessions)
    # Visits before the window only contribute their late-arriving events.
    sessions.order &= sessions.start >= ctx.window_start
    return sessions


def _base_visits(
    ctx: ChunkContext, pop: Population, person: np.ndarray, start: np.ndarray
) -> Sessions:
    rng = ctx.rng
    n = len(person)
    dev = pop.devices
    count = dev.slots.count[person]
    slot = dev.slots.first[person] + np.minimum(
        (rng.random(n) ** 1.7 * count).astype(np.int64), count - 1
    )
    kind = dev.kind[slot]
    span = np.maximum(pop.active_end[person] - pop.first_seen[person], 1)
    life = np.clip((start - pop.first_seen[person]) / span, 0.0, 0.999)
    cookie = dev.cookie_first[slot] + np.minimum(
        (life * dev.cookie_count[slot]).astype(np.int64), dev.cookie_count[slot] - 1
    )
    logged_in = (
        pop.registered[person]
        & (start >= pop.registered_at[person])
        & (rng.random(n) < LOGIN_SHARE[kind])
    )
    propensity = pop.propensity[person]
    n_view = rng.poisson(0.5 + 3.0 * propensity)
    added = (n_view > 0) & (rng.random(n) < 0.12 + 0.6 * propensity)
    checkout = added & (rng.random(n) < 0.5 + 0.3 * propensity)
    order = checkout & (rng.random(n) < 0.55 + 0.35 * propensity) & ~pop.anonymous_only[person]
    source = rng.choice(len(SOURCE_SHARE), p=SOURCE_SHARE, size=n)
    source = np.where((source == EMAIL) & pop.anonymous_only[person], DIRECT, source)
    return _new_sessions(
        ctx,
        pop,
        person=person,
        start=start,
        slot=slot,
        kind=kind,
        cookie=cookie,
        logged_in=logged_in,
        source=source,
        n_page=1 + rng.poisson(1.0, n),
        n_view=n_view,
        n_add=added * (1 + rng.poisson(0.3, n)),
        checkout=checkout,
        order=order,
        is_follow_up=np.zeros(n, dtype=bool),
    )


def _follow_ups(ctx: ChunkContext, pop: Population, base: Sessions) -> Sessions:
    """Abandoned carts: the person comes back within days, often from a reminder email."""
    rng = ctx.rng
    abandoned = (base.n_add > 0) & ~base.order & ~pop.anonymous_only[base.person]
    chosen = np.flatnonzero(abandoned & (rng.random(base.n) < FOLLOW_UP_SHARE))
    person = base.person[chosen]
    start = (
        base.start[chosen] + HOUR_US + (rng.exponential(1.5, len(chosen)) * DAY_US).astype(np.int64)
    )
    ok = start < np.minimum(pop.active_end[person], ctx.window_end)
    chosen, person, start = chosen[ok], person[ok], start[ok]
    n = len(chosen)
    propensity = pop.propensity[person]
    added = rng.random(n) < 0.55
    checkout = added & (rng.random(n) < 0.6)
    return _new_sessions(
        ctx,
        pop,
        person=person,
        start=start,
        slot=base.slot[chosen],
        kind=base.kind[chosen],
        cookie=base.cookie[chosen],
        logged_in=base.logged_in[chosen],
        source=np.where(rng.random(n) < 0.6, EMAIL, DIRECT),
        n_page=1 + rng.poisson(0.5, n),
        n_view=1 + rng.poisson(0.7, n),
        n_add=added.astype(np.int64),
        checkout=checkout,
        order=checkout & (rng.random(n) < 0.55 + 0.3 * propensity),
        is_follow_up=np.ones(n, dtype=bool),
        hero_product=base.hero_product[chosen],
    )


def _new_sessions(
    ctx: ChunkContext,
    pop: Population,
    *,
    person: np.ndarray,
    start: np.ndarray,
    slot: np.ndarray,
    kind: np.ndarray,
    cookie: np.ndarray,
    logged_in: np.ndarray,
    source: np.ndarray,
    n_page: np.ndarray,
    n_view: np.ndarray,
    n_add: np.ndarray,
    checkout: np.ndarray,
    order: np.ndarray,
    is_follow_up: np.ndarray,
    hero_product: np.ndarray | None = None,
) -> Sessions:
    rng = ctx.rng
    n = len(person)
    if hero_product is None:
        # Half the time the product comes from the person's favourite category.
        hero_product = ctx.catalog.sample(rng, n)
        favourite = pop.favourite_category[person]
        in_favourite = ctx.catalog.category_index[hero_product] == favourite
        retry = ctx.catalog.sample(rng, n)
        use_retry = ~in_favourite & (ctx.catalog.category_index[retry] == favourite)
        hero_product = np.where(use_retry, retry, hero_product)
    home = rng.random(n) < np.where(KIND_IS_APP[kind], 0.5, 0.7)
    roaming = s.concat(
        "172.",
        s.ints(rng.integers(16, 32, n)),
        ".",
        s.ints(rng.integers(0, 256, n)),
        ".",
        s.ints(rng.integers(1, 255, n)),
    )
    false = np.zeros(n, dtype=bool)
    return Sessions(
        person=person,
        start=start,
        slot=slot,
        kind=kind,
        cookie=cookie,
        logged_in=logged_in,
        login_identify=false.copy(),
        signup=false.copy(),
        newsletter_identify=false.copy(),
        source=source,
        campaign=np.full(n, -1),
        click_id=s.nulls(n),
        n_page=n_page,
        n_view=n_view,
        n_add=n_add,
        checkout=checkout,
        order=order,
        hero_product=hero_product,
        is_follow_up=is_follow_up,
        ip=s.where(home, s.take(pop.home_ip, person), roaming),
    )


def _concat(a: Sessions, b: Sessions) -> Sessions:
    values = {}
    for name in Sessions.__dataclass_fields__:
        x, y = getattr(a, name), getattr(b, name)
        values[name] = (
            pa.concat_arrays([x, y]) if isinstance(x, pa.Array) else np.concatenate([x, y])
        )
    return Sessions(**values)


def _take(sessions: Sessions, index: np.ndarray) -> Sessions:
    values = {}
    for name in Sessions.__dataclass_fields__:
        x = getattr(sessions, name)
        values[name] = s.take(x, index) if isinstance(x, pa.Array) else x[index]
    return Sessions(**values)


def _first_per_group(mask: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Indices of the first masked row of each group (rows are already in time order)."""
    rows = np.flatnonzero(mask)
    _, first = np.unique(group[rows], return_index=True)
    return rows[first]


def _mark_identifies(ctx: ChunkContext, pop: Population, sessions: Sessions) -> None:
    rng = ctx.rng
    logged = sessions.logged_in & ~sessions.is_follow_up
    sessions.login_identify[_first_per_group(logged, sessions.slot)] = True
    # Apps re-identify on updates, web on new logins: a few more identify calls.
    sessions.login_identify |= logged & (rng.random(sessions.n) < 0.06)
    # Signing up happens once: on the first logged-in visit of a person new in this run.
    first = _first_per_group(logged, sessions.person)
    sessions.signup[first[pop.is_new[sessions.person[first]]]] = True
    known_guest = ~pop.anonymous_only[sessions.person] & ~pop.registered[sessions.person]
    sessions.newsletter_identify = (
        known_guest & ~sessions.logged_in & (rng.random(sessions.n) < 0.05)
    )


def _attribute(ctx: ChunkContext, pop: Population, sessions: Sessions) -> None:
    """Paid visits get a campaign of their channel (app campaigns for app visits) and a click id."""
    rng = ctx.rng
    paid = np.flatnonzero(sessions.source == PAID)
    is_app = KIND_IS_APP[sessions.kind[paid]]
    campaigns = np.array([c[1] for c in ref.AD_CAMPAIGNS])
    app_campaigns = np.flatnonzero(
        np.char.find(np.array([c[2] for c in ref.AD_CAMPAIGNS]), "App Installs") >= 0
    )
    web_campaigns = np.setdiff1d(np.arange(len(campaigns)), app_campaigns)
    choice = np.where(
        is_app,
        app_campaigns[rng.integers(0, len(app_campaigns), len(paid))],
        web_campaigns[rng.integers(0, len(web_campaigns), len(paid))],
    )
    sessions.campaign[paid] = choice
    platform = np.array([c[0] for c in ref.AD_CAMPAIGNS])[choice]
    gclid = s.concat("Cj0KCQiA", s.alnum_strings(rng, len(paid), 40))
    fbclid = s.concat("IwAR", s.alnum_strings(rng, len(paid), 52))
    ttclid = s.concat("E.C.P.", s.alnum_strings(rng, len(paid), 36))
    click = s.where(platform == "google", gclid, s.where(platform == "meta", fbclid, ttclid))
    full = s.nulls(sessions.n)
    if len(paid):
        positions = np.full(sessions.n, -1)
        positions[paid] = np.arange(len(paid))
        full = s.null_where(positions < 0, s.take(click, np.maximum(positions, 0)))
    sessions.click_id = full
