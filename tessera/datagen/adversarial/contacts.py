"""CRM contacts, helpdesk tickets, ESP engagement and consent records.

CRM: duplicate contacts, work addresses and lines with extensions (a company switchboard
colleagues share), junk typed by sales, a shop user id linked now and then. Helpdesk: phone
tickets with numbers in whatever format the caller gave. ESP: every address that was ever
subscribed, including typos and bot sign-ups, which bounce. Consents: one identifier each,
bulk imports loaded long after they were recorded.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tessera.datagen import strings as s
from tessera.datagen.adversarial import world
from tessera.datagen.adversarial.context import HOUR_US, LOAD_COLUMN, Build
from tessera.datagen.adversarial.fields import case_and_space, email_field, phone_field
from tessera.datagen.adversarial.people import DAY_US
from tessera.datagen.adversarial.truth import Slot


def build_crm(b: Build) -> pa.Table:
    rng, p, cfg = b.rng, b.people, b.config
    first = np.flatnonzero(~np.asarray(p.crm_id.is_null(), dtype=bool))
    second = np.flatnonzero(~np.asarray(p.crm_id2.is_null(), dtype=bool))
    person = np.concatenate([first, second])
    contact = pa.concat_arrays([s.take(p.crm_id, first), s.take(p.crm_id2, second)])
    n = len(person)
    created = p.start_us[person] + (rng.random(n) * (p.end_us - p.start_us)[person] * 0.8).astype(
        np.int64
    )
    updated = created + np.where(
        rng.random(n) < 0.4, rng.integers(1, 300, n) * DAY_US, rng.integers(1, 600, n) * 60_000_000
    )
    updated = np.minimum(updated, np.maximum(p.end_us[person], created)) + b.late(n)
    load = updated + b.sync_lag(n, 3)

    email_raw, email = email_field(
        rng, p, b.shared, b.config, person, created, fill=0.9, work_share=0.5
    )
    phone_raw, phone = phone_field(
        rng, p, b.shared, cfg, person, created, fill=0.6, landline_share=0.2, work_share=0.6
    )
    linked = p.registered[person] & (rng.random(n) < 0.4)
    user_id = s.null_where(~linked, s.take(p.user_id, person))
    crm = Slot.of_person("crm_id", contact, p.key[person])
    user = Slot.of_person("user_id", user_id, p.key[person])
    b.register(load, crm, email, phone, user)
    company = s.take(p.work_email, person)
    company = s.null_where(np.asarray(company.is_null(), dtype=bool), _domain_word(company))
    return pa.table(
        {
            "contact_id": contact,
            "email": email_raw,
            "phone": phone_raw,
            "first_name": case_and_space(rng, s.take(p.first_name, person), 0.1),
            "last_name": case_and_space(rng, s.take(p.last_name, person), 0.1),
            "company": company,
            "external_user_id": user_id,
            "lead_source": s.pick(
                ("web", "event", "referral", "partner", "import"), rng.integers(0, 5, n)
            ),
            "is_email_verified": pa.array(rng.random(n) < 0.6),
            "created_at": pa.array(created, pa.timestamp("us")),
            "updated_at": pa.array(updated, pa.timestamp("us")),
            LOAD_COLUMN: load,
        }
    )


def _domain_word(email: pa.Array) -> pa.Array:
    """'Acme12corp' from 'amy.jones7@acme12corp.com': the company as sales typed it."""
    host = pc.list_element(pc.split_pattern(email, "@"), 1)
    return pc.utf8_capitalize(pc.list_element(pc.split_pattern(host, "."), 0))


def build_tickets(b: Build) -> pa.Table:
    rng, p, cfg = b.rng, b.people, b.config
    counts = np.where(~p.anonymous_only & (rng.random(p.n) < 0.12), 1 + rng.poisson(0.6, p.n), 0)
    person = np.repeat(np.arange(p.n), counts)
    n = len(person)
    created = p.start_us[person] + (rng.random(n) * (p.end_us - p.start_us)[person]).astype(
        np.int64
    )
    channel = rng.choice(3, n, p=[0.55, 0.2, 0.25])
    email_raw, email = email_field(
        rng,
        p,
        b.shared,
        cfg,
        person,
        created,
        fill=np.where(channel == 2, 0.3, 1.0),
        work_share=0.2,
        typed=channel == 2,  # mail and chat carry the sender's address; agents type
    )
    phone_raw, phone = phone_field(
        rng,
        p,
        b.shared,
        cfg,
        person,
        created,
        fill=np.where(channel == 2, 1.0, 0.1),
        work_share=0.3,
    )
    updated = created + rng.integers(1, 96, n) * HOUR_US + b.late(n)
    load = updated + b.sync_lag(n, 1)
    b.register(load, email, phone)
    return pa.table(
        {
            "ticket_id": b.record_ids("T", n, 7),
            "requester_email": email_raw,
            "requester_phone": phone_raw,
            "channel": s.pick(("email", "chat", "phone"), channel),
            "subject": s.pick(
                ("Where is my order?", "Return request", "Wrong size", "Refund", "Account help"),
                rng.integers(0, 5, n),
            ),
            "status": s.pick(("open", "pending", "solved"), rng.choice(3, n, p=[0.1, 0.1, 0.8])),
            "priority": s.pick(
                ("low", "normal", "high", "urgent"), rng.choice(4, n, p=[0.3, 0.5, 0.15, 0.05])
            ),
            "sentiment": s.pick(
                ("positive", "neutral", "negative"), rng.choice(3, n, p=[0.25, 0.45, 0.3])
            ),
            "created_at": pa.array(created, pa.timestamp("us")),
            "updated_at": pa.array(updated, pa.timestamp("us")),
            LOAD_COLUMN: load,
        }
    )


def build_email_events(b: Build) -> pa.Table:
    """A campaign to each subscriber about every five weeks; opens, clicks, bounces."""
    rng, p, cfg = b.rng, b.people, b.config
    subscribed = ~np.asarray(p.email1.is_null(), dtype=bool) & (rng.random(p.n) < 0.45)
    months = (p.end_us - p.start_us) / (30 * DAY_US)
    sends = np.where(subscribed, rng.poisson(months * 0.8), 0)
    person = np.repeat(np.arange(p.n), sends)
    n = len(person)
    t = p.start_us[person] + (rng.random(n) * (p.end_us - p.start_us)[person]).astype(np.int64)
    # the ESP keeps the address as it was subscribed; case and whitespace stay raw
    _, email = email_field(
        rng, p, b.shared, cfg, person, t, fill=1.0, family_share=0.05, junk_share=0.0
    )
    # an address none of the person's real mailboxes (a typo) bounces
    real = [p.email_at(person, t), s.take(p.shop_email, person), s.take(p.family_email, person)]
    delivered = np.zeros(n, dtype=bool)
    for address in real:
        delivered |= np.asarray(pc.fill_null(pc.equal(email.value, address), False), dtype=bool)
    bounce = ~delivered
    opened = ~bounce & (rng.random(n) < 0.3)
    clicked = opened & (rng.random(n) < 0.15)
    unsub = opened & (rng.random(n) < 0.01)
    # one row per event: the send, then opens / clicks / unsubscribes of it
    extra = opened.astype(np.int64) + clicked + unsub + bounce
    row = np.repeat(np.arange(n), 1 + extra)
    step = np.arange(len(row)) - s.starts(1 + extra)[row]
    event_kind = np.select(
        [step == 0, bounce[row], step == 1, clicked[row] & (step == 2)], [0, 4, 1, 2], 3
    )
    when = t[row] + step * rng.integers(60, 3 * 86_400, len(row)) * 1_000_000
    load = when + rng.integers(0, HOUR_US, len(row)) + b.late(len(row), 0.5)
    slot = Slot(
        email.id_type,
        s.take(email.value, row),
        email.owner[row],
        email.klass[row],
        email.resolvable[row],
    )
    b.register(load, slot)
    campaign = (t // (35 * DAY_US))[row]
    return pa.table(
        {
            "event_id": s.uuid_strings(rng, len(row)),
            "email": s.take(slot.value, np.arange(len(row))),
            "campaign_id": s.concat("cmp_", s.ints(campaign)),
            "event_type": s.pick(("sent", "open", "click", "unsubscribe", "bounce"), event_kind),
            "occurred_at": pa.array(when, pa.timestamp("us")),
            "url": s.null_where(
                event_kind != 2,
                s.concat("https://kestrelco.com/c/", s.pick(world.CATEGORIES, campaign % 7)),
            ),
            LOAD_COLUMN: load,
        }
    )


def build_consents(b: Build) -> pa.Table:
    rng, p, cfg = b.rng, b.people, b.config
    counts = np.where(~p.anonymous_only, rng.poisson(1.6, p.n), 0)
    person = np.repeat(np.arange(p.n), counts)
    n = len(person)
    t = p.start_us[person] + (rng.random(n) * (p.end_us - p.start_us)[person]).astype(np.int64)
    subject = rng.choice(3, n, p=[0.6, 0.25, 0.15])  # email, user_id, phone
    source = rng.choice(5, n, p=[0.4, 0.2, 0.2, 0.1, 0.1])
    typed = source >= 3  # store sign-ups and imports were typed; the rest come from accounts
    email_raw, email = email_field(
        rng, p, b.shared, cfg, person, t, fill=(subject == 0).astype(float), typed=typed
    )
    phone_raw, phone = phone_field(
        rng, p, b.shared, cfg, person, t, fill=(subject == 2).astype(float), typed=typed
    )
    user_raw = s.take(p.user_id, person)
    has_user = (subject == 1) & ~np.asarray(user_raw.is_null(), dtype=bool)
    user = Slot.of_person("user_id", s.null_where(~has_user, user_raw), p.key[person])
    subject_id = s.where(subject == 0, email_raw, s.where(subject == 2, phone_raw, user.value))
    imported = source == 4
    # bulk imports are loaded weeks after the choices they record
    load = (
        t
        + np.where(imported, rng.integers(7, 60, n) * DAY_US, rng.integers(0, HOUR_US, n))
        + b.late(n)
    )
    b.register(load, email, phone, user)
    keep = np.flatnonzero(~np.asarray(subject_id.is_null(), dtype=bool))
    table = pa.table(
        {
            "consent_id": b.record_ids("cns_", n, 8),
            "subject_type": s.pick(("email", "user_id", "phone"), subject),
            "subject_id": subject_id,
            "purpose": s.pick(("email", "sms", "ads", "analytics"), rng.integers(0, 4, n)),
            "status": s.pick(("granted", "revoked"), (rng.random(n) < 0.2).astype(np.int64)),
            "recorded_at": pa.array(t, pa.timestamp("us")),
            "source": s.pick(
                ("banner", "preference_center", "checkout", "store", "import"), source
            ),
            LOAD_COLUMN: load,
        }
    )
    return table.take(pa.array(keep))
