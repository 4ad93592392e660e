"""Email and phone fields as people and systems fill them, with the truth of each value.

A field builder takes the persons whose records are being written and the record times, and
returns the raw column plus a `Slot` saying, for every row, the normalised value, its owner
and its class. The mess: mailbox forms, family addresses, junk typed to get past a required
field, typos, case and whitespace, national and international phone formats, landlines,
work lines with extensions.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tessera.datagen import strings as s
from tessera.datagen.adversarial import phones, world
from tessera.datagen.adversarial.config import AdversarialConfig
from tessera.datagen.adversarial.people import People
from tessera.datagen.adversarial.shared import Shared
from tessera.datagen.adversarial.truth import Klass, Slot

Field = Callable[..., tuple[pa.Array, Slot]]


def only_where_filled(build: Field) -> Field:
    """Build the field for the rows that may hold a value only (events mostly carry none),
    then spread it back over all rows; per-row arguments are taken along."""

    @wraps(build)
    def wrapper(rng, people, shared, config, persons, t, fill, **kwargs):  # noqa: ANN001
        n = len(persons)
        fill = np.broadcast_to(np.asarray(fill, dtype=float), (n,))
        rows = np.flatnonzero(fill > 0)
        if len(rows) == n:
            return build(rng, people, shared, config, persons, t, fill, **kwargs)
        per_row = {
            k: v[rows] if isinstance(v, np.ndarray) and v.shape == (n,) else v
            for k, v in kwargs.items()
        }
        raw, slot = build(
            rng, people, shared, config, persons[rows], t[rows], fill[rows], **per_row
        )
        owner = np.zeros(n, dtype=np.int64)
        owner[rows] = slot.owner
        klass = np.zeros(n, dtype=np.int8)
        klass[rows] = slot.klass
        resolvable = np.zeros(n, dtype=bool)
        resolvable[rows] = slot.resolvable
        value = s.scatter(n, rows, slot.value)
        return s.scatter(n, rows, raw), Slot(slot.id_type, value, owner, klass, resolvable)

    return wrapper


@only_where_filled
def email_field(
    rng: np.random.Generator,
    people: People,
    shared: Shared,
    config: AdversarialConfig,
    persons: np.ndarray,
    t: np.ndarray,
    fill: float | np.ndarray,
    work_share: float = 0.0,
    family_share: float = 0.1,
    junk_share: float | None = None,
    typed: bool | np.ndarray = True,
) -> tuple[pa.Array, Slot]:
    """The email a record carries for `persons` at times `t`; filled on a share `fill`.

    `typed`: a person (or a cashier, an agent) typed the field, so it may hold a typo, junk
    or the family address; otherwise it comes from a stored profile and is the person's own.
    """
    n = len(persons)
    typed = np.broadcast_to(np.asarray(typed, dtype=bool), (n,))
    email = people.email_at(persons, t)
    before_change = t < people.email_switch_us[persons]
    email = s.where(before_change, s.take(people.shop_email, persons), email)
    work = s.take(people.work_email, persons)
    use_work = (rng.random(n) < work_share) & ~np.asarray(work.is_null(), dtype=bool)
    email = s.where(use_work, work, email)
    filled = rng.random(n) < fill
    email = s.null_where(~filled, email)
    slot = Slot.of_person("email", email, people.key[persons])

    family = s.take(people.family_email, persons)
    use_family = filled & typed & (rng.random(n) < family_share)
    use_family &= ~np.asarray(family.is_null(), dtype=bool)
    slot.replace(use_family, family, Klass.HOUSEHOLD)

    typo = typed & (rng.random(n) < config.email_typo_share)
    typo &= ~np.asarray(slot.value.is_null(), dtype=bool)
    if typo.any():
        slot.replace(typo, _email_typos(rng, slot.value, typo), slot.klass, slot.owner)

    junk_share = config.junk_email_share if junk_share is None else junk_share
    junk = filled & typed & (rng.random(n) < junk_share)
    pick = rng.integers(0, len(shared.junk_email), n)
    slot.replace(junk, s.take(shared.junk_email, pick), Klass.JUNK)
    raw = s.where(junk, s.take(shared.junk_email_raw, pick), slot.value)
    return case_and_space(rng, raw, config.case_whitespace_share), slot


def case_and_space(rng: np.random.Generator, values: pa.Array, share: float) -> pa.Array:
    """Upper, title case, padding with spaces, tabs and no-break spaces, on a share."""
    n = len(values)
    style = np.where(rng.random(n) < share, rng.integers(1, 6, n), 0)
    out = s.where(style == 1, pc.utf8_upper(values), values)
    out = s.where(style == 2, pc.utf8_title(values), out)
    out = s.where(style == 3, s.concat(" ", values, " "), out)
    out = s.where(style == 4, s.concat(values, "\u00a0"), out)
    return s.where(style == 5, s.concat("\t", pc.utf8_title(values), "  "), out)


def _email_typos(rng: np.random.Generator, values: pa.Array, rows: np.ndarray) -> pa.Array:
    """Mistyped letters or domains; digits are left alone, so a typo never hits another
    person's address (every address carries its owner's number)."""
    index = np.flatnonzero(rows)
    out = []
    for value, u, v in zip(
        s.take(values, index).to_pylist(),
        rng.random(len(index)),
        rng.integers(0, 1 << 30, len(index)),
        strict=True,
    ):
        local, _, domain = value.partition("@")
        letters = [i for i, ch in enumerate(local) if ch.isalpha()]
        if u < 0.4 and domain in world.DOMAIN_TYPOS:
            options = world.DOMAIN_TYPOS[domain]
            domain = options[v % len(options)]
        elif len(letters) >= 2 and u < 0.7:
            i = letters[v % (len(letters) - 1)]
            j = i + 1 if local[i + 1 : i + 2].isalpha() else i
            local = local[:i] + local[j] + local[i] + local[j + 1 :] if j != i else local + "x"
        elif letters:
            i = letters[v % len(letters)]
            local = local[:i] + local[i + 1 :] if u < 0.85 else local[:i] + local[i] + local[i:]
        out.append(f"{local}@{domain}")
    return s.scatter(len(values), index, pa.array(out, pa.string()))


@only_where_filled
def phone_field(
    rng: np.random.Generator,
    people: People,
    shared: Shared,
    config: AdversarialConfig,
    persons: np.ndarray,
    t: np.ndarray,
    fill: float | np.ndarray,
    record_country: np.ndarray | int = phones.NO_COUNTRY,
    landline_share: float = 0.2,
    work_share: float = 0.0,
    typed: bool | np.ndarray = True,
) -> tuple[pa.Array, Slot]:
    """The phone a record carries; `record_country` is the record's own country column.
    `typed` as for `email_field`: only typed fields hold typos and junk."""
    n = len(persons)
    typed = np.broadcast_to(np.asarray(typed, dtype=bool), (n,))
    record_country = np.broadcast_to(np.asarray(record_country, dtype=np.int64), (n,))
    country, nsn = people.phone_at(persons, t)
    owner = people.key[persons].copy()
    klass = np.zeros(n, dtype=np.int8)
    extension = s.nulls(n)

    landline = s.take(people.landline_nsn, persons)
    use_landline = (rng.random(n) < landline_share) & ~np.asarray(landline.is_null(), dtype=bool)
    country = np.where(use_landline, people.country[persons], country)
    nsn = s.where(use_landline, landline, nsn)
    klass = np.where(use_landline, Klass.HOUSEHOLD, klass)

    work = s.take(people.work_nsn, persons)
    use_work = (rng.random(n) < work_share) & ~np.asarray(work.is_null(), dtype=bool)
    country = np.where(use_work, people.work_country[persons], country)
    nsn = s.where(use_work, work, nsn)
    extension = s.where(use_work, s.take(people.extension, persons), extension)
    klass = np.where(use_work & people.switchboard[persons], Klass.SWITCHBOARD, klass)

    filled = (rng.random(n) < fill) & ~np.asarray(nsn.is_null(), dtype=bool)
    typo = filled & typed & (rng.random(n) < config.phone_typo_share)
    nsn = s.where(typo, phones.typo(rng, nsn), nsn)
    raw, resolvable = phones.render(rng, country, nsn, record_country, config.national_format_share)
    raw = phones.with_extension(rng, raw, extension)
    value = s.null_where(~filled, phones.e164(country, nsn))
    owner = np.where(klass == Klass.PERSON, owner, 0)
    slot = Slot(
        "phone", value, owner, klass.astype(np.int8), resolvable & ~np.asarray(value.is_null())
    )

    junk = typed & (rng.random(n) < config.junk_phone_share * np.asarray(fill))
    pick = rng.integers(0, len(shared.junk_phone), n)
    slot.replace(junk, s.take(shared.junk_phone, pick), Klass.JUNK)
    raw = s.where(junk, s.take(shared.junk_phone_raw, pick), raw)
    return s.null_where(~(filled | junk), raw), slot


def identifier_slot(id_type: str, values: pa.Array, persons: np.ndarray, people: People) -> Slot:
    """An identifier the person owns outright (user id, card, crm id, device, cookie)."""
    return Slot.of_person(id_type, values, people.key[persons])
