"""The hidden persons of one chunk: latent traits, households, identifiers and devices.

Identifier values are derived from the person key through bijections (`strings.scramble`)
or random UUIDs, so two persons never share an email, phone, user id or loyalty id by
accident; the only shared identifiers are the deliberate ones (a household's tablet).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tessera.datagen import reference as ref
from tessera.datagen import strings as s
from tessera.datagen.calendar import DAY_US, Calendar

# Largest person key the identifier bijections cover (GB landlines: 2e7 values, 2 per person).
MAX_PERSON_KEY = 9_999_999

ANONYMOUS_ONLY_SHARE = 0.30
REGISTERED_SHARE_OF_KNOWN = 0.60 / 0.70
CRM_SHARE_OF_KNOWN = 0.35 / 0.70
LOYALTY_SHARE_OF_KNOWN = 0.25 / 0.70
HOUSEHOLD_SIZES = (1, 2, 3, 4)
HOUSEHOLD_SIZE_SHARE = (0.55, 0.25, 0.12, 0.08)
SHARED_TABLET_SHARE = 0.12  # of households with two or more persons
CHURN_SHARE = 0.30
PRE_EXISTING_SHARE = 0.35  # persons already around when the window starts

# Device kinds; a shared tablet is an iOS app install used by several household members.
DESKTOP, MOBILE_WEB, IOS_APP, ANDROID_APP, SHARED_TABLET = range(5)
KIND_CHANNEL = ("web", "web", "ios", "android", "ios")
KIND_IS_APP = np.array([False, False, True, True, True])
_KIND_UA = ("desktop", "mobile", "ios", "android", "tablet")


@dataclass
class Ragged:
    """Per-person lists of items: items sorted by owner, with first/count per person."""

    owner: np.ndarray
    first: np.ndarray
    count: np.ndarray

    @classmethod
    def from_owner(cls, owner: np.ndarray, n_persons: int) -> Ragged:
        count = np.bincount(owner, minlength=n_persons)
        first = s.starts(count).astype(np.int64)
        return cls(owner=owner, first=first, count=count)

    def rank(self) -> np.ndarray:
        """Position of each item within its owner's list."""
        return np.arange(len(self.owner)) - self.first[self.owner]

    def choose(
        self, rng: np.random.Generator, persons: np.ndarray, primary_share: float | np.ndarray
    ) -> np.ndarray:
        """One item per row of `persons` (the first item with primary_share); -1 if none."""
        count = self.count[persons]
        u = rng.random(len(persons))
        others = np.maximum(count - 1, 1)
        offset = np.where(
            (u < primary_share) | (count <= 1),
            0,
            1 + np.minimum((rng.random(len(persons)) * others).astype(np.int64), others - 1),
        )
        return np.where(count > 0, self.first[persons] + offset, -1)


@dataclass
class Phones:
    items: Ragged
    calling_code: np.ndarray  # 1, 44 or 49 per item
    national: pa.Array  # national significant number, digits only
    e164: pa.Array


@dataclass
class Devices:
    """Device slots (one per person using a device) and the anonymous ids seen on them."""

    slots: Ragged
    kind: np.ndarray
    device_id: pa.Array  # null for web slots
    user_agent: pa.Array
    cookie_first: np.ndarray
    cookie_count: np.ndarray
    anonymous_ids: pa.Array  # one per cookie / app install


@dataclass
class Population:
    keys: np.ndarray
    household: np.ndarray
    country: np.ndarray  # index into reference.COUNTRIES
    propensity: np.ndarray
    activity: np.ndarray
    amplitude: np.ndarray
    period_days: np.ndarray
    phase: np.ndarray
    anonymous_only: np.ndarray
    registered: np.ndarray
    in_crm: np.ndarray
    has_loyalty: np.ndarray
    first_seen: np.ndarray
    registered_at: np.ndarray
    churned: np.ndarray
    churned_at: np.ndarray
    active_end: np.ndarray
    favourite_category: np.ndarray
    first_name: pa.Array
    last_name: pa.Array
    user_id: pa.Array
    loyalty_id: pa.Array
    home_ip: pa.Array
    emails: Ragged
    email_values: pa.Array
    phones: Phones
    devices: Devices
    is_new: np.ndarray  # persons created by this run (their truth.persons row is written)

    @property
    def n(self) -> int:
        return len(self.keys)


def simulate_population(
    rng: np.random.Generator, seed: int, first_key: int, n: int, calendar: Calendar
) -> Population:
    keys = np.arange(first_key, first_key + n, dtype=np.int64)
    if n and keys[-1] > MAX_PERSON_KEY:
        raise ValueError(f"person keys above {MAX_PERSON_KEY:,} are not supported")
    household_index, household = _households(rng, keys)
    n_households = household_index.max() + 1 if n else 0
    country = rng.choice(len(ref.COUNTRIES), p=ref.COUNTRY_SHARE, size=n_households)[
        household_index
    ]

    propensity = rng.beta(1.3, 6.0, n)
    anonymous_only = rng.random(n) < ANONYMOUS_ONLY_SHARE
    propensity = np.where(anonymous_only, propensity * 0.6, propensity)
    known = ~anonymous_only
    registered = known & (rng.random(n) < REGISTERED_SHARE_OF_KNOWN)
    in_crm = known & (rng.random(n) < CRM_SHARE_OF_KNOWN)
    has_loyalty = known & (rng.random(n) < LOYALTY_SHARE_OF_KNOWN)

    tablet_household = _shared_tablet_households(rng, household_index)
    uses_tablet = tablet_household[household_index]
    # Members of a household with a shared tablet each log in with their own account.
    anonymous_only &= ~uses_tablet
    registered |= uses_tablet

    activity = rng.lognormal(0.0, 0.8, n) * (0.5 + 1.5 * propensity)
    activity = np.where(anonymous_only, activity * 0.5, activity)

    start = np.full(n, calendar.start_us, dtype=np.int64)
    end = np.full(n, calendar.end_us, dtype=np.int64)
    first_seen = np.where(
        rng.random(n) < PRE_EXISTING_SHARE, start, calendar.sample(rng, start, end)
    )
    churn_after = (rng.exponential(1.0, n) * (150 + 500 * propensity) * DAY_US).astype(np.int64)
    churned = (rng.random(n) < CHURN_SHARE) & (first_seen + churn_after < end)
    churned_at = np.where(churned, first_seen + churn_after, 0)
    registered_at = first_seen + (rng.exponential(30.0, n) * DAY_US).astype(np.int64)

    first_name, last_name = _names(seed, keys, country)
    emails, email_values = _emails(rng, seed, keys, country, known, first_name, last_name)
    phones = _phones(rng, seed, keys, country, known)
    devices = _devices(rng, household_index, tablet_household, propensity, known, activity)

    return Population(
        keys=keys,
        household=household,
        country=country,
        propensity=propensity,
        activity=activity,
        amplitude=rng.uniform(0.2, 0.9, n),
        period_days=rng.uniform(45.0, 200.0, n),
        phase=rng.uniform(0.0, 2 * np.pi, n),
        anonymous_only=anonymous_only,
        registered=registered,
        in_crm=in_crm,
        has_loyalty=has_loyalty,
        first_seen=first_seen,
        registered_at=registered_at,
        churned=churned,
        churned_at=churned_at,
        active_end=np.where(churned, churned_at, end),
        favourite_category=rng.integers(0, len(ref.CATEGORIES), n),
        first_name=first_name,
        last_name=last_name,
        user_id=s.null_where(~registered, user_ids(keys)),
        loyalty_id=s.null_where(~has_loyalty, loyalty_ids(keys)),
        home_ip=s.take(_ips(rng, n_households), household_index),
        emails=emails,
        email_values=email_values,
        phones=phones,
        devices=devices,
        is_new=np.ones(n, dtype=bool),
    )


def user_ids(keys: np.ndarray) -> pa.Array:
    return s.ints(100_000_000 + s.scramble(keys, 900_000_000, 1_000_000_007, 48_271))


def loyalty_ids(keys: np.ndarray) -> pa.Array:
    return s.concat("6035", s.padded_ints(s.scramble(keys, 10**12, 998_244_353, 777_767), 12))


def crm_contact_ids(keys: np.ndarray, duplicate_index: np.ndarray) -> pa.Array:
    x = np.asarray(keys, dtype=np.int64) * 4 + duplicate_index
    return s.concat("003", s.padded_ints(s.scramble(x, 10**12, 1_000_000_009, 31_337), 12))


def _households(rng: np.random.Generator, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = len(keys)
    sizes = rng.choice(HOUSEHOLD_SIZES, p=HOUSEHOLD_SIZE_SHARE, size=max(n, 1))
    index = np.repeat(np.arange(len(sizes)), sizes)[:n]
    first_member = s.starts(sizes)
    return index, keys[first_member[index]] if n else keys


def _shared_tablet_households(rng: np.random.Generator, household_index: np.ndarray) -> np.ndarray:
    if not len(household_index):
        return np.zeros(0, dtype=bool)
    size = np.bincount(household_index)
    return (size >= 2) & (rng.random(len(size)) < SHARED_TABLET_SHARE)


def _names(seed: int, keys: np.ndarray, country: np.ndarray) -> tuple[pa.Array, pa.Array]:
    """Names are a function of (seed, person key) so later runs can recompute them."""
    first = np.empty(len(keys), dtype=object)
    last = np.empty(len(keys), dtype=object)
    u_first = s.hash_uniform(seed, keys, 1)
    u_last = s.hash_uniform(seed, keys, 2)
    for c, (firsts, lasts) in enumerate(zip(ref.FIRST_NAMES, ref.LAST_NAMES, strict=True)):
        mask = country == c
        first[mask] = np.array(firsts, dtype=object)[(u_first[mask] * len(firsts)).astype(int)]
        last[mask] = np.array(lasts, dtype=object)[(u_last[mask] * len(lasts)).astype(int)]
    return pa.array(first, pa.string()), pa.array(last, pa.string())


def _emails(
    rng: np.random.Generator,
    seed: int,
    keys: np.ndarray,
    country: np.ndarray,
    known: np.ndarray,
    first_name: pa.Array,
    last_name: pa.Array,
) -> tuple[Ragged, pa.Array]:
    n = len(keys)
    u = rng.random(n)
    count = np.where(known, 1 + (u > 0.7) + (u > 0.92), 0)
    items = Ragged.from_owner(np.repeat(np.arange(n), count), n)
    owner = items.owner
    rank = items.rank()
    number = s.ints(keys[owner] * 3 + rank)  # unique per (person, email): never collides
    first = pc.utf8_lower(s.take(first_name, owner))
    last = pc.utf8_lower(s.take(last_name, owner))
    initial = pc.utf8_slice_codeunits(first, 0, 1)
    style = (s.hash_uniform(seed, keys[owner] * 3 + rank, 3) * 4).astype(int)
    local = s.concat(first, ".", last, number)
    local = s.where(style == 1, s.concat(first, number), local)
    local = s.where(style == 2, s.concat(initial, last, number), local)
    local = s.where(style == 3, s.concat(last, "_", first, number), local)

    item_country = country[owner]
    domain = pa.array([""] * len(owner), pa.string())
    for c, domains in enumerate(ref.PERSONAL_EMAIL_DOMAINS):
        choice = s.pick(domains, rng.integers(0, len(domains), len(owner)))
        domain = s.where(item_country == c, choice, domain)
    is_work = (rank == 1) & (rng.random(len(owner)) < 0.5)
    work = s.pick(ref.WORK_EMAIL_DOMAINS, rng.integers(0, len(ref.WORK_EMAIL_DOMAINS), len(owner)))
    domain = s.where(is_work, work, domain)
    return items, s.concat(local, "@", domain)


def _phones(
    rng: np.random.Generator, seed: int, keys: np.ndarray, country: np.ndarray, known: np.ndarray
) -> Phones:
    n = len(keys)
    u = rng.random(n)
    count = np.where(known, (u > 0.3).astype(int) + (u > 0.9), 0)
    items = Ragged.from_owner(np.repeat(np.arange(n), count), n)
    x = keys[items.owner] * 2 + items.rank()
    item_country = country[items.owner]
    mobile = s.hash_uniform(seed, x, 4) < 0.7

    areas = np.array(ref.US_AREA_CODES)
    v_us = s.scramble(x, len(areas) * 8_000_000, 1_000_003, 12_345)
    rest = v_us % 8_000_000
    us = s.concat(
        s.ints(areas[v_us // 8_000_000]),
        s.ints(200 + rest // 10_000),
        s.padded_ints(rest % 10_000, 4),
    )
    gb_mobile = s.concat("7", s.ints(400_000_000 + s.scramble(x, 600_000_000, 1_000_033, 99)))
    gb_land = s.concat("20", s.ints(70_000_000 + s.scramble(x, 20_000_000, 1_000_037, 7)))
    v_de = s.scramble(x, 300_000_000, 1_000_039, 5)
    de_mobile = s.concat(
        s.pick(("151", "160", "170"), v_de // 100_000_000), s.padded_ints(v_de % 100_000_000, 8)
    )
    de_land = s.concat("30", s.ints(10_000_000 + s.scramble(x, 89_000_000, 1_000_081, 3)))

    national = s.where(item_country == 0, us, s.where(mobile, gb_mobile, gb_land))
    national = s.where(item_country == 2, s.where(mobile, de_mobile, de_land), national)
    calling_code = np.array([int(c) for c in ref.CALLING_CODES])[item_country]
    e164 = s.concat("+", s.ints(calling_code), national)
    return Phones(items=items, calling_code=calling_code, national=national, e164=e164)


def _devices(
    rng: np.random.Generator,
    household_index: np.ndarray,
    tablet_household: np.ndarray,
    propensity: np.ndarray,
    known: np.ndarray,
    activity: np.ndarray,
) -> Devices:
    n = len(household_index)
    n_web = 1 + (rng.random(n) < 0.35)
    has_app = rng.random(n) < np.where(known, 0.25 + 0.4 * propensity, 0.08)
    desktop_first = rng.random(n) < 0.6
    app_kind = np.where(rng.random(n) < 0.55, IOS_APP, ANDROID_APP)

    # Personal slots: web slot 0, optional web slot 1, optional app slot.
    owner_web0 = np.arange(n)
    kind_web0 = np.where(desktop_first, DESKTOP, MOBILE_WEB)
    owner_web1 = np.flatnonzero(n_web == 2)
    kind_web1 = np.where(desktop_first[owner_web1], MOBILE_WEB, DESKTOP)
    owner_app = np.flatnonzero(has_app)
    kind_app = app_kind[owner_app]
    personal_owner = np.concatenate([owner_web0, owner_web1, owner_app])
    personal_kind = np.concatenate([kind_web0, kind_web1, kind_app])
    n_personal = len(personal_owner)

    # Cookie churn: web slots collect several anonymous ids; app reinstalls add one more.
    is_web = personal_kind <= MOBILE_WEB
    extra = np.minimum(rng.poisson(0.35 * activity[personal_owner]), 5)
    personal_cookies = np.where(is_web, 1 + extra, 1 + (rng.random(n_personal) < 0.1))

    tablet_households = np.flatnonzero(tablet_household)
    tablet_members = np.flatnonzero(tablet_household[household_index])
    # Which tablet (0..n_tablets-1) each member uses.
    member_tablet = np.searchsorted(tablet_households, household_index[tablet_members])
    n_tablets = len(tablet_households)

    n_personal_cookies = int(personal_cookies.sum())
    anonymous_ids = s.uuid_strings(rng, n_personal_cookies + n_tablets)
    personal_cookie_first = s.starts(personal_cookies)
    tablet_cookie_first = n_personal_cookies + np.arange(n_tablets)

    ios_ids = s.uuid_strings(rng, n_personal + n_tablets, upper=True)
    android_ids = s.hex_strings(rng, n_personal + n_tablets, 8)
    all_kind = np.concatenate([personal_kind, np.full(len(tablet_members), SHARED_TABLET)])
    personal_device_id = s.where(
        personal_kind == ANDROID_APP,
        android_ids.slice(0, n_personal),
        ios_ids.slice(0, n_personal),
    )
    personal_device_id = s.null_where(~KIND_IS_APP[personal_kind], personal_device_id)
    tablet_device_id = s.take(ios_ids.slice(n_personal), member_tablet)

    owner = np.concatenate([personal_owner, tablet_members])
    cookie_first = np.concatenate([personal_cookie_first, tablet_cookie_first[member_tablet]])
    cookie_count = np.concatenate([personal_cookies, np.ones(len(tablet_members), np.int64)])
    device_id = pa.concat_arrays([personal_device_id, tablet_device_id])
    user_agent = _user_agents(rng, all_kind)

    order = np.argsort(owner, kind="stable")
    return Devices(
        slots=Ragged.from_owner(owner[order], n),
        kind=all_kind[order],
        device_id=s.take(device_id, order),
        user_agent=s.take(user_agent, order),
        cookie_first=cookie_first[order],
        cookie_count=cookie_count[order],
        anonymous_ids=anonymous_ids,
    )


def _user_agents(rng: np.random.Generator, kind: np.ndarray) -> pa.Array:
    out = pa.array([""] * len(kind), pa.string())
    for k, family in enumerate(_KIND_UA):
        options = ref.USER_AGENTS[family]
        out = s.where(kind == k, s.pick(options, rng.integers(0, len(options), len(kind))), out)
    return out


def _ips(rng: np.random.Generator, n: int) -> pa.Array:
    first = np.array([24, 67, 68, 71, 73, 76, 81, 86, 90, 92, 98, 174, 185, 212])
    octets = [first[rng.integers(0, len(first), n)]] + [rng.integers(1, 255, n) for _ in range(3)]
    return s.concat(
        s.ints(octets[0]), ".", s.ints(octets[1]), ".", s.ints(octets[2]), ".", s.ints(octets[3])
    )
