"""The persons of one chunk, their households, and the identifiers each of them owns over time.

Time matters: a person's phone, email address and app device can change once (`*_switch_us`);
the old phone number may be given to another person later (recycled), the old device is
simply replaced. Household items (landline, tablet, family email) and work switchboards are
shared by design. Values derive from the person key through bijections where uniqueness
matters (emails, phones, user ids, cards), from the chunk's random stream elsewhere (UUIDs).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tessera.datagen import strings as s
from tessera.datagen.adversarial import phones, world
from tessera.datagen.adversarial.config import AdversarialConfig

DAY_US = 86_400_000_000
NONE, IOS, ANDROID = 0, 1, 2
# Slots of the bijective number space: index = key * 8 + slot.
MOBILE1, MOBILE2, WORK_LINE, LANDLINE, STORE, SWITCHBOARD = range(6)
_HOUSEHOLD_SIZES = np.array([1, 2, 3, 4, 5])
_HOUSEHOLD_SHARES = np.array([0.42, 0.30, 0.14, 0.10, 0.04])


@dataclass
class People:
    key: np.ndarray
    household: np.ndarray  # household key (its first member's person key)
    household_size: np.ndarray
    country: np.ndarray
    first_name: pa.Array
    last_name: pa.Array
    propensity: np.ndarray
    activity: np.ndarray
    start_us: np.ndarray
    end_us: np.ndarray
    churned: np.ndarray
    anonymous_only: np.ndarray
    registered: np.ndarray
    store_shopper: np.ndarray
    user_id: pa.Array
    loyalty_id: pa.Array
    crm_id: pa.Array
    crm_id2: pa.Array
    email1: pa.Array  # personal address (normalised); null for persons without one
    email2: pa.Array  # the address after a change; null if none
    email_switch_us: np.ndarray
    shop_email: pa.Array  # the mailbox form used at the shop (+tag, dots ...); normalised
    work_email: pa.Array
    phone_country1: np.ndarray
    nsn1: pa.Array
    phone_country2: np.ndarray
    nsn2: pa.Array
    phone_switch_us: np.ndarray
    recycled_from: np.ndarray  # index of the person whose old number nsn2 is, -1 if none
    work_country: np.ndarray
    work_nsn: pa.Array  # direct or switchboard line with an extension; null if none
    extension: pa.Array
    switchboard: np.ndarray
    platform: np.ndarray
    device1: pa.Array
    device2: pa.Array
    device_switch_us: np.ndarray
    app_anon1: pa.Array
    app_anon2: pa.Array
    cookies: pa.Array  # web cookies, cookie_count per person from cookie_first
    cookie_first: np.ndarray
    cookie_count: np.ndarray
    landline_nsn: pa.Array  # household landline; null if none
    tablet_device: pa.Array  # household tablet; null if none
    tablet_anon: pa.Array
    family_email: pa.Array
    partner: np.ndarray  # another member of the household (index), -1 if alone
    same_name: np.ndarray  # another person of the chunk with the same name, -1 if none
    public_pc_user: np.ndarray

    @property
    def n(self) -> int:
        return len(self.key)

    def email_at(self, persons: np.ndarray, t: np.ndarray) -> pa.Array:
        late = t >= self.email_switch_us[persons]
        first = s.take(self.email1, persons)
        return s.where(
            late & ~np.asarray(s.take(self.email2, persons).is_null()),
            s.take(self.email2, persons),
            first,
        )

    def phone_at(self, persons: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, pa.Array]:
        late = t >= self.phone_switch_us[persons]
        country = np.where(late, self.phone_country2[persons], self.phone_country1[persons])
        nsn = s.where(late, s.take(self.nsn2, persons), s.take(self.nsn1, persons))
        return country, nsn

    def device_at(self, persons: np.ndarray, t: np.ndarray) -> tuple[pa.Array, pa.Array]:
        late = t >= self.device_switch_us[persons]
        device = s.where(late, s.take(self.device2, persons), s.take(self.device1, persons))
        anon = s.where(late, s.take(self.app_anon2, persons), s.take(self.app_anon1, persons))
        return device, anon

    def cookie_at(self, persons: np.ndarray, t: np.ndarray) -> pa.Array:
        span = np.maximum(self.end_us[persons] - self.start_us[persons], 1)
        share = np.clip((t - self.start_us[persons]) / span, 0.0, 0.999999)
        k = (share * self.cookie_count[persons]).astype(np.int64)
        return s.take(self.cookies, self.cookie_first[persons] + k)


def simulate_people(
    rng: np.random.Generator,
    first_key: int,
    n: int,
    start_us: int,
    horizon_us: int,
    config: AdversarialConfig,
) -> People:
    key = np.arange(first_key, first_key + n, dtype=np.int64)
    household, size, member = _households(rng, key)
    leader = np.searchsorted(key, household)
    country = rng.choice(len(world.COUNTRIES), n, p=world.COUNTRY_SHARES)
    country = np.where(member > 0, country[leader], country)
    first_name, last_name = _names(rng, country, leader, member)

    span = horizon_us - start_us
    pre_existing = rng.random(n) < 0.35
    person_start = np.where(pre_existing, start_us, start_us + rng.random(n) * span * 0.95)
    person_start = person_start.astype(np.int64)
    life = (rng.exponential(650.0, n) * DAY_US).astype(np.int64)
    end = np.minimum(person_start + life + 30 * DAY_US, horizon_us)
    churned = end < horizon_us

    anonymous_only = rng.random(n) < config.anonymous_only_share
    known = ~anonymous_only
    registered = known & (
        rng.random(n) < config.registered_share / (1 - config.anonymous_only_share)
    )
    in_crm = known & (rng.random(n) < config.crm_share)
    crm_dup = in_crm & (rng.random(n) < config.crm_duplicate_share)
    store_shopper = rng.random(n) < config.store_shopper_share
    loyalty = (
        known & store_shopper & (rng.random(n) < config.loyalty_share / config.store_shopper_share)
    )
    propensity = rng.beta(2.0, 5.0, n)
    activity = rng.lognormal(0.0, 0.7, n) * np.where(anonymous_only, 0.5, 1.0)

    def switch(share: float) -> np.ndarray:
        chosen = rng.random(n) < share
        at = person_start + (rng.uniform(0.2, 0.8, n) * (end - person_start)).astype(np.int64)
        return np.where(chosen, at, np.iinfo(np.int64).max)

    # emails: unique by construction (the scrambled key is part of every local part)
    has_email = known & (rng.random(n) < 0.92)
    lower_first = pc.utf8_lower(first_name)
    lower_last = pc.utf8_lower(last_name)
    email1 = s.null_where(
        ~has_email, _personal_email(rng, lower_first, lower_last, country, key, 0)
    )
    email_switch = np.where(has_email, switch(config.changed_email_share), np.iinfo(np.int64).max)
    email2 = s.null_where(
        email_switch == np.iinfo(np.int64).max,
        _personal_email(rng, lower_first, lower_last, country, key, 1),
    )
    variant = has_email & (rng.random(n) < config.mailbox_variant_share)
    shop_email = _mailbox_variants(rng, email1, variant)
    work = known & (rng.random(n) < config.work_email_share)
    # companies belong to one chunk; a company is numbered by a person key of its chunk, so
    # its domain and switchboard number never collide with another chunk's
    company = first_key + rng.integers(0, max(n // 400, 1), n)
    work_email = s.null_where(~work, _work_email(lower_first, lower_last, company, key))

    # phones
    has_phone = known & (rng.random(n) < config.phone_share)
    expat = rng.random(n) < config.expat_share
    phone_country1 = np.where(expat, rng.integers(0, len(world.COUNTRIES), n), country)
    nsn1 = s.null_where(~has_phone, phones.national_numbers(phone_country1, key * 8 + MOBILE1))
    phone_switch = np.where(has_phone, switch(config.changed_phone_share), np.iinfo(np.int64).max)
    changed = phone_switch < np.iinfo(np.int64).max
    phone_country2 = phone_country1.copy()
    nsn2 = s.null_where(~changed, phones.national_numbers(phone_country1, key * 8 + MOBILE2))
    nsn2, phone_country2, phone_switch, recycled_from = _recycle(
        rng, nsn1, nsn2, phone_country1, phone_country2, phone_switch, changed, has_phone, config
    )

    # work lines with extensions; some are a company switchboard colleagues share
    has_ext = work & (rng.random(n) < config.extension_share / max(config.work_email_share, 1e-9))
    switchboard = has_ext & (rng.random(n) < config.switchboard_share)
    work_index = np.where(switchboard, company * 8 + SWITCHBOARD, key * 8 + WORK_LINE)
    work_country = country.copy()
    work_nsn = s.null_where(~has_ext, phones.national_numbers(work_country, work_index, True))
    extension = s.null_where(~has_ext, s.ints(rng.integers(2, 9999, n)))

    # app devices and cookies
    app = rng.random(n) < config.app_share
    platform = np.where(app, np.where(rng.random(n) < 0.55, IOS, ANDROID), NONE)
    device_switch = np.where(app, switch(config.new_phone_share), np.iinfo(np.int64).max)
    device1 = s.null_where(~app, _device_ids(rng, platform))
    device2 = s.null_where(device_switch == np.iinfo(np.int64).max, _device_ids(rng, platform))
    app_anon1 = s.null_where(~app, s.uuid_strings(rng, n))
    app_anon2 = s.null_where(device_switch == np.iinfo(np.int64).max, s.uuid_strings(rng, n))
    cookie_count = 1 + rng.poisson(1.2 * np.minimum(activity, 3.0))
    cookies = s.uuid_strings(rng, int(cookie_count.sum()))

    # household items, one value per household, repeated for its members
    multi = size >= 2
    lead = leader
    has_landline = multi & (rng.random(n) < config.household_landline_share)[lead]
    landline = phones.national_numbers(country, household * 8 + LANDLINE, True)
    has_tablet = multi & (rng.random(n) < config.household_tablet_share)[lead]
    tablet_device = s.take(_device_ids(rng, np.full(n, IOS)), lead)
    tablet_anon = s.take(s.uuid_strings(rng, n), lead)
    has_family = multi & (rng.random(n) < config.household_email_share)[lead]
    family = s.concat(
        s.pick(("the", "", "team"), household % 3),
        s.take(lower_last, lead),
        s.pick(("family", "s", "home", "house"), household % 4),
        s.ints(s.scramble(household % 10**7, 10**7, 9_999_991, 77_777)),
        "@",
        s.take(_providers(rng, country), lead),
    )
    partner = np.where(multi, leader + (member + 1) % size, -1)

    return People(
        key=key,
        household=household,
        household_size=size,
        country=country,
        first_name=first_name,
        last_name=last_name,
        propensity=propensity,
        activity=activity,
        start_us=person_start,
        end_us=end,
        churned=churned,
        anonymous_only=anonymous_only,
        registered=registered,
        store_shopper=store_shopper,
        user_id=s.null_where(
            ~registered, s.ints(7_000_000_000 + s.scramble(key, 10**9, 982_451_653, 1))
        ),
        loyalty_id=s.null_where(
            ~loyalty, s.concat("27", s.padded_ints(s.scramble(key * 2, 10**11, 86_028_121, 5), 11))
        ),
        crm_id=s.null_where(~in_crm, s.concat("003", s.alnum_strings(rng, n, 15))),
        crm_id2=s.null_where(~crm_dup, s.concat("003", s.alnum_strings(rng, n, 15))),
        email1=email1,
        email2=email2,
        email_switch_us=email_switch,
        shop_email=shop_email,
        work_email=work_email,
        phone_country1=phone_country1,
        nsn1=nsn1,
        phone_country2=phone_country2,
        nsn2=nsn2,
        phone_switch_us=phone_switch,
        recycled_from=recycled_from,
        work_country=work_country,
        work_nsn=work_nsn,
        extension=extension,
        switchboard=switchboard,
        platform=platform,
        device1=device1,
        device2=device2,
        device_switch_us=device_switch,
        app_anon1=app_anon1,
        app_anon2=app_anon2,
        cookies=cookies,
        cookie_first=s.starts(cookie_count),
        cookie_count=cookie_count,
        landline_nsn=s.null_where(~has_landline, landline),
        tablet_device=s.null_where(~has_tablet, tablet_device),
        tablet_anon=s.null_where(~has_tablet, tablet_anon),
        family_email=s.null_where(~has_family, family),
        partner=partner,
        same_name=_same_name(first_name, last_name),
        public_pc_user=registered & (rng.random(n) < config.public_pc_use_share),
    )


def _households(rng: np.random.Generator, key: np.ndarray) -> tuple[np.ndarray, ...]:
    n = len(key)
    sizes = rng.choice(_HOUSEHOLD_SIZES, n, p=_HOUSEHOLD_SHARES)
    ends = np.cumsum(sizes)
    sizes = sizes[: np.searchsorted(ends, n) + 1]
    sizes[-1] -= int(sizes.sum()) - n
    owner = np.repeat(np.arange(len(sizes)), sizes)
    first = s.starts(sizes)
    member = np.arange(n) - first[owner]
    return key[first[owner]], sizes[owner], member


def _names(
    rng: np.random.Generator, country: np.ndarray, leader: np.ndarray, member: np.ndarray
) -> tuple[pa.Array, pa.Array]:
    n = len(country)
    first = s.nulls(n)
    last = s.nulls(n)
    for c, (_, _, _, _, group) in enumerate(world.COUNTRIES):
        rows = country == c
        firsts, lasts = world.FIRST_NAMES[group], world.LAST_NAMES[group]
        # Zipf-like popularity: a few names are very common, as in real name data
        fw = 1.0 / np.arange(1, len(firsts) + 1) ** 0.7
        lw = 1.0 / np.arange(1, len(lasts) + 1) ** 0.9
        fi = rng.choice(len(firsts), n, p=fw / fw.sum())
        li = rng.choice(len(lasts), n, p=lw / lw.sum())
        first = s.where(rows, s.pick(firsts, fi), first)
        last = s.where(rows, s.pick(lasts, li), last)
    # most household members share the leader's family name
    keep_own = (member > 0) & (rng.random(n) < 0.2)
    last = s.where(keep_own, last, s.take(last, leader))
    return first, last


def _providers(rng: np.random.Generator, country: np.ndarray) -> pa.Array:
    n = len(country)
    out = s.nulls(n)
    for c, code in enumerate(world.COUNTRY_CODES):
        names = [p for p, _ in world.PROVIDERS[code]]
        weights = np.array([w for _, w in world.PROVIDERS[code]])
        pick = rng.choice(len(names), n, p=weights / weights.sum())
        out = s.where(country == c, s.pick(names, pick), out)
    return out


def _personal_email(
    rng: np.random.Generator,
    first: pa.Array,
    last: pa.Array,
    country: np.ndarray,
    key: np.ndarray,
    slot: int,
) -> pa.Array:
    n = len(key)
    number = s.ints(s.scramble((key * 2 + slot) % 10**8, 10**8, 48_271_009, 12_345))
    initial = pc.utf8_slice_codeunits(first, 0, 1)
    styles = (
        s.concat(first, ".", last, number),
        s.concat(first, last, number),
        s.concat(initial, last, number),
        s.concat(first, "_", last, number),
        s.concat(last, ".", first, number),
        s.concat(first, number),
        s.concat(initial, ".", last, number),
    )
    pick = rng.integers(0, len(styles), n)
    local = styles[0]
    for i, style in enumerate(styles[1:], start=1):
        local = s.where(pick == i, style, local)
    return s.concat(local, "@", _providers(rng, country))


def _work_email(first: pa.Array, last: pa.Array, company: np.ndarray, key: np.ndarray) -> pa.Array:
    words, suffixes = world.COMPANY_WORDS, world.COMPANY_SUFFIXES
    domain = s.concat(
        s.pick(words, company % len(words)),
        s.where(company < len(words), "", s.ints(company // len(words))),
        s.pick(suffixes, company % len(suffixes)),
    )
    # first.last plus a per-person number: colleagues with one name never share an address
    return s.concat(first, ".", last, s.ints(key % 10**6), "@", domain)


def _mailbox_variants(rng: np.random.Generator, email: pa.Array, chosen: np.ndarray) -> pa.Array:
    """The same mailbox written another way: dots moved, +tags, googlemail.com."""
    rows = np.flatnonzero(chosen)
    if not len(rows):
        return email
    values = s.take(email, rows).to_pylist()
    out = []
    for value, u, v in zip(
        values, rng.random(len(rows)), rng.integers(0, 1 << 30, len(rows)), strict=True
    ):
        local, _, domain = value.partition("@")
        if domain in world.DOT_BLIND and u < 0.45:
            bare = local.replace(".", "")
            cut = 1 + v % max(len(bare) - 1, 1)
            local = bare if u < 0.15 else f"{bare[:cut]}.{bare[cut:]}"
            if u > 0.35:
                domain = "googlemail.com"
        elif domain in world.PLUS_TAGS:
            local = f"{local}+{world.TAG_WORDS[v % len(world.TAG_WORDS)]}"
        out.append(f"{local}@{domain}")
    return s.where(chosen, s.scatter(len(email), rows, pa.array(out, pa.string())), email)


def _device_ids(rng: np.random.Generator, platform: np.ndarray) -> pa.Array:
    n = len(platform)
    return s.where(platform == IOS, s.uuid_strings(rng, n, upper=True), s.uuid_strings(rng, n))


def _recycle(
    rng: np.random.Generator,
    nsn1: pa.Array,
    nsn2: pa.Array,
    country1: np.ndarray,
    country2: np.ndarray,
    switch: np.ndarray,
    changed: np.ndarray,
    has_phone: np.ndarray,
    config: AdversarialConfig,
) -> tuple[pa.Array, np.ndarray, np.ndarray, np.ndarray]:
    """Give some abandoned numbers to another person of the same country months later."""
    n = len(nsn1)
    recycled_from = np.full(n, -1, dtype=np.int64)
    donors = np.flatnonzero(changed & (rng.random(n) < config.recycled_phone_share))
    takers = np.flatnonzero(has_phone & ~changed)
    rng.shuffle(takers)
    switch = switch.copy()
    country2 = country2.copy()
    taken = np.zeros(n, dtype=bool)
    for c in range(len(world.COUNTRIES)):
        d = donors[country1[donors] == c]
        t = takers[(country1[takers] == c) & ~taken[takers]][: len(d)]
        d = d[: len(t)]
        taken[t] = True
        recycled_from[t] = d
        switch[t] = switch[d] + rng.integers(90, 365, len(t)) * DAY_US
        country2[t] = c
    receivers = np.flatnonzero(recycled_from >= 0)
    nsn2 = s.where(
        recycled_from >= 0,
        s.scatter(n, receivers, s.take(nsn1, recycled_from[receivers])),
        nsn2,
    )
    return nsn2, country2, switch, recycled_from


def _same_name(first: pa.Array, last: pa.Array) -> np.ndarray:
    """For each person another of the chunk with the same first and last name, or -1."""
    name = pc.binary_join_element_wise(first, last, " ").dictionary_encode()
    code = np.asarray(name.indices, dtype=np.int64)
    order = np.argsort(code, kind="stable")
    sorted_code = code[order]
    nxt = np.r_[order[1:], -1]
    group_start = np.r_[True, sorted_code[1:] != sorted_code[:-1]]
    group_end = np.r_[sorted_code[1:] != sorted_code[:-1], True]
    first_in_group = order[np.maximum.accumulate(np.where(group_start, np.arange(len(code)), 0))]
    partner_sorted = np.where(group_end, first_in_group, nxt)
    partner = np.empty(len(code), dtype=np.int64)
    partner[order] = partner_sorted
    return np.where(partner == np.arange(len(code)), -1, partner)
