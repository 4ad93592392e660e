"""CRM contacts, consent records, email engagement, ad clicks and support tickets."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from tessera.datagen import mess, render
from tessera.datagen import reference as ref
from tessera.datagen import strings as s
from tessera.datagen.calendar import DAY_US, HOUR_US, MINUTE_US, SECOND_US
from tessera.datagen.commerce import Orders
from tessera.datagen.context import ChunkContext
from tessera.datagen.population import KIND_IS_APP, Population, crm_contact_ids
from tessera.datagen.schema import AD_CLICKS, CONSENTS, CRM_CONTACTS, EMAIL_EVENTS, SUPPORT_TICKETS
from tessera.datagen.sessions import EMAIL, PAID, Sessions

CRM_DUPLICATE_SHARE = 0.15
EMAIL_CONSENT_SHARE = 0.6
UNSUBSCRIBE_SHARE = 0.12
CAMPAIGN_EVERY_US = 7 * DAY_US
CAMPAIGN_HOUR_US = 9 * HOUR_US
CAMPAIGN_REACH = 0.08  # share of subscribers each weekly campaign targets


@dataclass
class EmailPlan:
    """Email permission per person: a function of (seed, person key) so appends agree."""

    granted: np.ndarray
    granted_at: np.ndarray
    unsubscribes: np.ndarray
    unsubscribed_at: np.ndarray


def email_plan(ctx: ChunkContext, pop: Population) -> EmailPlan:
    rng = ctx.rng
    has_email = pop.emails.count > 0
    granted = has_email & (s.hash_uniform(ctx.seed, pop.keys, 10) < EMAIL_CONSENT_SHARE)
    unsubscribes = granted & (s.hash_uniform(ctx.seed, pop.keys, 11) < UNSUBSCRIBE_SHARE)
    lo = np.maximum(pop.first_seen, ctx.window_start)
    hi = np.maximum(np.minimum(pop.active_end, ctx.window_end), lo + 1)
    granted_at = np.minimum(lo + (rng.exponential(5.0, pop.n) * DAY_US).astype(np.int64), hi - 1)
    granted_at = np.where(pop.is_new, granted_at, ctx.window_start)
    # Existing persons who unsubscribe did so before this window; new ones within it.
    unsubscribed_at = np.where(
        pop.is_new, ctx.calendar.uniform(rng, granted_at, ctx.window_end), ctx.window_start
    )
    return EmailPlan(granted, granted_at, unsubscribes, unsubscribed_at)


def build_crm_contacts(ctx: ChunkContext, pop: Population) -> pa.Table:
    rng = ctx.rng
    members = np.flatnonzero(pop.in_crm & pop.is_new)
    records = 1 + (rng.random(len(members)) < CRM_DUPLICATE_SHARE)
    person = np.repeat(members, records)
    n = len(person)
    duplicate = np.arange(n) - np.repeat(s.starts(records), records)
    keys = pop.keys[person]
    ctx.truth.records(n)  # the rows below are one source record each
    contact_id = render.identifier(ctx, "crm_id", crm_contact_ids(keys, duplicate), keys)
    email = render.emails(
        ctx,
        pop,
        person,
        rng.random(n) < 0.97,
        primary_share=np.where(duplicate == 0, 0.85, 0.3),
        mess_rate=0.25,
        placeholder_rate=0.02,
    )
    phone = render.phones(ctx, pop, person, rng.random(n) < 0.7, placeholder_rate=0.02)
    linked = pop.registered[person] & (rng.random(n) < 0.4)
    external_user_id = render.identifier(
        ctx, "user_id", s.null_where(~linked, s.take(pop.user_id, person)), keys
    )
    lo = np.maximum(pop.first_seen[person], ctx.window_start)
    created_at = np.minimum(
        lo + (rng.exponential(20.0, n) * DAY_US).astype(np.int64), ctx.window_end - DAY_US
    )
    updated_at = np.minimum(
        created_at + (rng.exponential(60.0, n) * DAY_US).astype(np.int64), ctx.window_end - 1
    )
    has_company = rng.random(n) < 0.4
    return pa.table(
        {
            "contact_id": contact_id,
            "email": email,
            "phone": phone,
            "first_name": mess.messy_names(rng, s.take(pop.first_name, person), 0.2),
            "last_name": mess.messy_names(rng, s.take(pop.last_name, person), 0.2),
            "company": s.null_where(
                ~has_company, s.pick(ref.COMPANIES, rng.integers(0, len(ref.COMPANIES), n))
            ),
            "external_user_id": external_user_id,
            "lead_source": s.pick(
                ("web", "event", "referral", "partner", "import"),
                rng.choice(5, p=(0.45, 0.15, 0.15, 0.1, 0.15), size=n),
            ),
            "is_email_verified": rng.random(n) < 0.7,
            "created_at": pa.array(created_at, pa.timestamp("us")),
            "updated_at": pa.array(updated_at, pa.timestamp("us")),
        }
    ).select(CRM_CONTACTS.column_names)


def build_consents(ctx: ChunkContext, pop: Population, plan: EmailPlan) -> pa.Table:
    """Choices per purpose over time; the latest record per (subject, purpose) wins."""
    rng = ctx.rng
    known = ~pop.anonymous_only
    new = known & pop.is_new
    lo = np.maximum(pop.first_seen, ctx.window_start)
    hi = np.maximum(np.minimum(pop.active_end, ctx.window_end), lo + 1)
    first_choice = np.minimum(lo + (rng.exponential(3.0, pop.n) * DAY_US).astype(np.int64), hi - 1)
    parts: list[tuple[np.ndarray, str, np.ndarray, np.ndarray, str]] = []

    def add(mask: np.ndarray, purpose: str, granted: np.ndarray, at: np.ndarray, source: str):
        who = np.flatnonzero(mask)
        parts.append((who, purpose, np.asarray(granted)[who], np.asarray(at)[who], source))

    add(
        new & (rng.random(pop.n) < 0.75),
        "analytics",
        rng.random(pop.n) < 0.8,
        first_choice,
        "banner",
    )
    ads_recorded = new & (rng.random(pop.n) < 0.6)
    ads_granted = rng.random(pop.n) < 0.55
    add(ads_recorded, "ads", ads_granted, first_choice, "banner")
    add(new & plan.granted, "email", np.ones(pop.n, bool), plan.granted_at, "checkout")
    add(
        new & ~plan.granted & (rng.random(pop.n) < 0.5),
        "email",
        np.zeros(pop.n, bool),
        first_choice,
        "checkout",
    )
    unsubscribed = new & plan.unsubscribes & (plan.unsubscribed_at < ctx.window_end)
    add(unsubscribed, "email", np.zeros(pop.n, bool), plan.unsubscribed_at, "preference_center")
    has_phone = pop.phones.items.count > 0
    add(
        new & has_phone & (rng.random(pop.n) < 0.4),
        "sms",
        rng.random(pop.n) < 0.5,
        first_choice,
        "checkout",
    )
    # Later changes of mind, for persons old and new.
    window_share = min(1.0, (ctx.window_end - ctx.window_start) / (730 * DAY_US))
    changed = known & (rng.random(pop.n) < 0.08 * window_share)
    change_at = ctx.calendar.uniform(rng, np.maximum(first_choice, ctx.window_start), hi)
    add(
        changed & (change_at < hi),
        "ads",
        ~(ads_recorded & ads_granted),
        change_at,
        "preference_center",
    )

    person = np.concatenate([p[0] for p in parts])
    n = len(person)
    purpose = np.concatenate([np.full(len(p[0]), p[1]) for p in parts])
    granted = np.concatenate([p[2] for p in parts])
    recorded_at = np.concatenate([p[3] for p in parts])
    source = np.concatenate([np.full(len(p[0]), p[4]) for p in parts])
    keys = pop.keys[person]

    by_phone = purpose == "sms"
    by_user = ~by_phone & pop.registered[person] & (rng.random(n) < 0.5)
    by_email = ~by_phone & ~by_user
    ctx.truth.records(n)  # the rows below are one source record each
    email = render.emails(ctx, pop, person, by_email, mess_rate=0.1, placeholder_rate=0.003)
    phone = render.phones(ctx, pop, person, by_phone)
    user_id = render.identifier(
        ctx, "user_id", s.null_where(~by_user, s.take(pop.user_id, person)), keys
    )
    subject_id = s.where(by_phone, phone, s.where(by_user, user_id, email))
    subject_type = s.pick(("email", "user_id", "phone"), np.select([by_user, by_phone], [1, 2], 0))
    return pa.table(
        {
            "consent_id": ctx.ids.take("consent", n),
            "subject_type": subject_type,
            "subject_id": subject_id,
            "purpose": pa.array(purpose, pa.string()),
            "status": s.pick(("revoked", "granted"), granted.astype(int)),
            "recorded_at": pa.array(recorded_at, pa.timestamp("us")),
            "source": pa.array(source, pa.string()),
        }
    ).select(CONSENTS.column_names)


def build_email_events(
    ctx: ChunkContext, pop: Population, plan: EmailPlan, sessions: Sessions
) -> pa.Table:
    rng = ctx.rng
    sub_from = plan.granted_at
    sub_to = np.where(plan.unsubscribes, plan.unsubscribed_at, ctx.window_end)
    sub_to = np.minimum(sub_to, ctx.window_end)
    active = plan.granted & (sub_to > sub_from)
    first_k = np.ceil((sub_from - CAMPAIGN_HOUR_US) / CAMPAIGN_EVERY_US).astype(np.int64)
    last_k = np.floor((sub_to - 1 - CAMPAIGN_HOUR_US) / CAMPAIGN_EVERY_US).astype(np.int64)
    eligible = np.where(active, np.maximum(last_k - first_k + 1, 0), 0)
    sends = rng.binomial(eligible, CAMPAIGN_REACH)
    person = np.repeat(np.arange(pop.n), sends)
    k = first_k[person] + (rng.random(len(person)) * eligible[person]).astype(np.int64)
    _, unique = np.unique(person * 1_000_000 + k, return_index=True)
    person, k = person[unique], k[unique]
    sent_at = (
        k * CAMPAIGN_EVERY_US
        + CAMPAIGN_HOUR_US
        + (rng.random(len(k)) * 2 * HOUR_US).astype(np.int64)
    )
    campaign = s.concat("cmp_", s.ints(k))

    # Cart reminders: the follow-up visits that came from email were triggered by one.
    reminder = np.flatnonzero(
        sessions.is_follow_up
        & (sessions.source == EMAIL)
        & plan.granted[sessions.person]
        & (sessions.start >= ctx.window_start)
    )
    r_person = sessions.person[reminder]
    r_sent = sessions.start[reminder] - (rng.uniform(1, 6, len(reminder)) * HOUR_US).astype(
        np.int64
    )

    # Rows: every send, then opens, clicks, bounces.
    s_person = np.concatenate([person, r_person])
    s_at = np.concatenate([sent_at, r_sent])
    s_campaign = pa.concat_arrays(
        [campaign, pa.array(["cart_reminder"] * len(reminder), pa.string())]
    )
    is_reminder = np.concatenate([np.zeros(len(person), bool), np.ones(len(reminder), bool)])
    n_sends = len(s_person)
    propensity = pop.propensity[s_person]
    lapsed = pop.churned[s_person] & (s_at > pop.churned_at[s_person])
    bounced = ~is_reminder & (rng.random(n_sends) < 0.015)
    opened = ~bounced & (
        is_reminder | (rng.random(n_sends) < (0.12 + 0.5 * propensity) * np.where(lapsed, 0.2, 1))
    )
    clicked = opened & (is_reminder | (rng.random(n_sends) < 0.1 + 0.35 * propensity))
    open_at = s_at + (rng.exponential(6.0, n_sends) * HOUR_US).astype(np.int64)
    open_at = np.where(
        is_reminder,
        np.concatenate([np.zeros(len(person), np.int64), sessions.start[reminder] - MINUTE_US]),
        open_at,
    )
    click_at = open_at + (rng.exponential(90.0, n_sends) * SECOND_US).astype(np.int64)

    unsub = np.flatnonzero(pop.is_new & plan.unsubscribes & (plan.unsubscribed_at < ctx.window_end))
    u_at = plan.unsubscribed_at[unsub]
    u_k = np.floor((u_at - CAMPAIGN_HOUR_US) / CAMPAIGN_EVERY_US).astype(np.int64)

    rows_person = np.concatenate(
        [s_person, s_person[bounced], s_person[opened], s_person[clicked], unsub]
    )
    rows_at = np.concatenate(
        [s_at, s_at[bounced] + MINUTE_US, open_at[opened], click_at[clicked], u_at]
    )
    rows_type = np.concatenate(
        [
            np.full(n_sends, "sent"),
            np.full(int(bounced.sum()), "bounce"),
            np.full(int(opened.sum()), "open"),
            np.full(int(clicked.sum()), "click"),
            np.full(len(unsub), "unsubscribe"),
        ]
    )
    rows_campaign = pa.concat_arrays(
        [
            s_campaign,
            s.take(s_campaign, np.flatnonzero(bounced)),
            s.take(s_campaign, np.flatnonzero(opened)),
            s.take(s_campaign, np.flatnonzero(clicked)),
            s.concat("cmp_", s.ints(u_k)),
        ]
    )
    keep = rows_at < ctx.window_end
    rows_person, rows_at, rows_type = rows_person[keep], rows_at[keep], rows_type[keep]
    rows_campaign = s.take(rows_campaign, np.flatnonzero(keep))
    n = len(rows_person)

    # The ESP holds one address per subscriber: pick it per person, render per row.
    item = pop.emails.choose(rng, np.arange(pop.n), 0.9)
    canonical = s.take_valid(pop.email_values, item[rows_person], item[rows_person] >= 0)
    ctx.truth.records(n)  # the rows below are one source record each
    ctx.truth.add("email", canonical, pop.keys[rows_person], np.ones(n, bool))
    is_click = rows_type == "click"
    url = s.null_where(
        ~is_click,
        s.concat(
            ref.SHOP_URL, "/?utm_source=newsletter&utm_medium=email&utm_campaign=", rows_campaign
        ),
    )
    return pa.table(
        {
            "event_id": s.hex_strings(rng, n, 16),
            "email": mess.messy_emails(rng, canonical, 0.05),
            "campaign_id": rows_campaign,
            "event_type": pa.array(rows_type, pa.string()),
            "occurred_at": pa.array(rows_at, pa.timestamp("us")),
            "url": url,
        }
    ).select(EMAIL_EVENTS.column_names)


def build_ad_clicks(ctx: ChunkContext, pop: Population, sessions: Sessions) -> pa.Table:
    rng = ctx.rng
    idx = np.flatnonzero((sessions.source == PAID) & (sessions.start >= ctx.window_start))
    n = len(idx)
    person = sessions.person[idx]
    keys = pop.keys[person]
    campaign = sessions.campaign[idx]
    is_app = KIND_IS_APP[sessions.kind[idx]]
    platform = np.array([c[0] for c in ref.AD_CAMPAIGNS])[campaign]
    ad_groups = [c[3] for c in ref.AD_CAMPAIGNS]
    group_pick = rng.integers(0, 2, n) % np.array([len(g) for g in ad_groups])[campaign]
    flat_groups = [g for groups in ad_groups for g in groups]
    group_offset = np.concatenate([[0], np.cumsum([len(g) for g in ad_groups])[:-1]])
    ctx.truth.records(n)  # the rows below are one source record each
    anonymous_id = render.identifier(
        ctx,
        "anonymous_id",
        s.null_where(is_app, s.take(pop.devices.anonymous_ids, sessions.cookie[idx])),
        keys,
        placeholder_rate=0.03,
        placeholders=mess.ANONYMOUS_ID_PLACEHOLDERS,
    )
    device_id = render.identifier(
        ctx,
        "device_id",
        s.null_where(~is_app, s.take(pop.devices.device_id, sessions.slot[idx])),
        keys,
        placeholder_rate=0.1,
        placeholders=(mess.ZERO_UUID,),
    )
    click_id = s.take(sessions.click_id, idx)
    param = s.pick(
        ("gclid", "fbclid", "ttclid"),
        np.select([platform == "google", platform == "meta"], [0, 1], 2),
    )
    mean_cost = np.array([c[4] for c in ref.AD_CAMPAIGNS])[campaign]
    base = s.where(is_app, pa.scalar("shopapp://open"), pa.scalar(ref.SHOP_URL + "/"))
    return pa.table(
        {
            "click_id": click_id,
            "platform": pa.array(platform, pa.string()),
            "campaign_id": s.pick([c[1] for c in ref.AD_CAMPAIGNS], campaign),
            "campaign_name": s.pick([c[2] for c in ref.AD_CAMPAIGNS], campaign),
            "ad_group": s.pick(flat_groups, group_offset[campaign] + group_pick),
            "anonymous_id": anonymous_id,
            "device_id": device_id,
            "clicked_at": pa.array(
                sessions.start[idx] - (rng.uniform(1, 20, n) * SECOND_US).astype(np.int64),
                pa.timestamp("us"),
            ),
            "cost": np.round(mean_cost * rng.lognormal(-0.1, 0.45, n), 2),
            "landing_url": s.concat(base, "?", param, "=", click_id),
        }
    ).select(AD_CLICKS.column_names)


def build_support_tickets(ctx: ChunkContext, pop: Population, orders: Orders) -> pa.Table:
    rng = ctx.rng
    # About an order (returns make tickets likely), out of the blue, or just before churning.
    about = rng.random(len(orders.person)) < np.where(orders.returned, 0.45, 0.05)
    o_person = orders.person[about]
    o_at = orders.ordered_at[about] + (rng.uniform(1, 10, int(about.sum())) * DAY_US).astype(
        np.int64
    )
    known = ~pop.anonymous_only
    lo = np.maximum(pop.first_seen, ctx.window_start)
    hi = np.minimum(pop.active_end, ctx.window_end)
    weight = np.where(known & (hi > lo), ctx.calendar.weight_between(lo, hi), 0.0)
    r_person = np.repeat(np.arange(pop.n), rng.poisson(0.0002 * weight))
    r_at = ctx.calendar.sample(rng, lo[r_person], hi[r_person])
    leaving = np.flatnonzero(
        known & pop.churned & (rng.random(pop.n) < 0.25) & (pop.churned_at > ctx.window_start)
    )
    c_at = pop.churned_at[leaving] - (rng.uniform(1, 14, len(leaving)) * DAY_US).astype(np.int64)

    person = np.concatenate([o_person, r_person, leaving])
    created_at = np.concatenate([o_at, r_at, c_at])
    reason = np.concatenate(
        [
            np.where(orders.returned[about], 1, 0),
            np.full(len(r_person), 2),
            np.full(len(leaving), 3),
        ]
    )
    keep = (created_at < ctx.window_end) & (created_at >= ctx.window_start)
    person, created_at, reason = person[keep], created_at[keep], reason[keep]
    n = len(person)
    subject = np.select(
        [reason == 0, reason == 1, reason == 2],
        [
            rng.choice([0, 4, 5, 8], n),
            rng.choice([1, 2, 3, 9], n),
            rng.choice([6, 7], n),
        ],
        rng.choice([2, 9, 0], n),
    )
    u = rng.random(n)
    negative_share = np.select([reason == 1, reason == 3], [0.55, 0.8], 0.2)
    positive_share = np.select([reason == 1, reason == 3], [0.1, 0.03], 0.25)
    sentiment = np.where(u < negative_share, 2, np.where(u < negative_share + positive_share, 0, 1))
    channel = rng.choice(3, p=(0.55, 0.25, 0.2), size=n)
    by_phone = channel == 2
    ctx.truth.records(n)  # the rows below are one source record each
    email = render.emails(
        ctx,
        pop,
        person,
        ~by_phone | (rng.random(n) < 0.4),
        mess_rate=0.15,
        placeholder_rate=0.005,
    )
    phone = render.phones(ctx, pop, person, by_phone)
    updated_at = np.minimum(
        created_at + (rng.exponential(1.5, n) * DAY_US).astype(np.int64), ctx.window_end - 1
    )
    recent = created_at > ctx.window_end - 7 * DAY_US
    status = np.where(recent & (rng.random(n) < 0.6), rng.integers(0, 2, n), 2)
    return pa.table(
        {
            "ticket_id": ctx.ids.take("ticket", n),
            "requester_email": email,
            "requester_phone": phone,
            "channel": s.pick(("email", "chat", "phone"), channel),
            "subject": s.pick(ref.TICKET_SUBJECTS, subject),
            "status": s.pick(("open", "pending", "solved"), status),
            "priority": s.pick(
                ("low", "normal", "high", "urgent"),
                rng.choice(4, p=(0.2, 0.55, 0.2, 0.05), size=n),
            ),
            "sentiment": s.pick(("positive", "neutral", "negative"), sentiment),
            "created_at": pa.array(created_at, pa.timestamp("us")),
            "updated_at": pa.array(updated_at, pa.timestamp("us")),
        }
    ).select(SUPPORT_TICKETS.column_names)
