"""Phone numbers of nine countries: number plans, E.164 truth, and how people write them.

A number is (country index, national significant number). Numbers are derived from a
unique integer through a bijection, so two different slots never get the same number by
accident; the only collisions are deliberate (a recycled number) or typos.

Rendering decides whether a record still determines the number: an international form
(+CC, 00CC) always does; a national form only for NANP numbers (the default calling code
1 resolves them) or when the record itself carries the number's country (an order's
shipping country). `resolvable` says so per record; truth uses it for the evidence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tessera.datagen import strings as s
from tessera.datagen.adversarial import world

NO_COUNTRY = -1  # a record without a country column


@dataclass(frozen=True)
class Plan:
    mobile: tuple[str, ...]  # leading digits of mobile NSNs
    mobile_digits: int  # digits after the leading ones
    landline: tuple[str, ...]
    landline_digits: int
    groups: tuple[int, ...]  # how the NSN is grouped when written (last group: the rest)


_US_AREAS = world.words(
    "212 213 305 312 313 404 415 503 512 617 646 702 713 718 720 786 804 813 818 832 917 "
    "919 972 206"
)
_CA_AREAS = world.words("416 604 514 403 613 647 778 905")
_EXCHANGE_FIRST = "2346789"  # never 5: 555 numbers are the junk catalogue's
_NANP_US = tuple(a + e for a in _US_AREAS for e in _EXCHANGE_FIRST)
_NANP_CA = tuple(a + e for a in _CA_AREAS for e in _EXCHANGE_FIRST)
PLANS: tuple[Plan, ...] = (
    Plan(_NANP_US, 6, _NANP_US, 6, (3, 3, 4)),
    Plan(("74", "75", "77", "78", "79"), 8, ("20", "161", "131"), 7, (4, 6)),
    Plan(("6", "7", "8", "9"), 9, ("11", "22", "80"), 8, (5, 5)),
    Plan(
        ("151", "152", "157", "160", "162", "170", "171", "172", "176", "178"),
        8,
        ("30", "40", "89"),
        8,
        (3, 8),
    ),
    Plan(("6", "7"), 8, ("1", "4"), 8, (1, 2, 2, 2, 2)),
    Plan(("4",), 8, ("2", "3"), 8, (3, 3, 3)),
    Plan(("119", "219", "319", "419", "519", "619", "719", "819"), 8, ("113", "213"), 7, (2, 5, 4)),
    Plan(("55", "33", "81"), 8, ("55", "33"), 8, (2, 4, 4)),
    Plan(_NANP_CA, 6, _NANP_CA, 6, (3, 3, 4)),
)
HAS_TRUNK = np.array([c[3] for c in world.COUNTRIES])
IS_NANP = world.CALLING_CODES == 1


def national_numbers(country: np.ndarray, index: np.ndarray, landline: bool = False) -> pa.Array:
    """The NSN of number `index` (unique per slot) in each row's country."""
    country = np.asarray(country, dtype=np.int64)
    index = np.asarray(index, dtype=np.int64)
    out = s.nulls(len(index))
    for c, plan in enumerate(PLANS):
        rows = np.flatnonzero(country == c)
        if not len(rows):
            continue
        prefixes = plan.landline if landline else plan.mobile
        digits = plan.landline_digits if landline else plan.mobile_digits
        space = len(prefixes) * 10**digits
        if index[rows].max() >= space:
            raise ValueError(f"phone number index {index[rows].max()} exceeds {space} numbers")
        # a bijection of [0, space): the multiplier is a prime above every factor of space
        i = s.scramble(index[rows], space, 1_000_003, 4_829_113 % space)
        subscriber = s.padded_ints(i // len(prefixes), digits)
        nsn = s.concat(s.pick(prefixes, i % len(prefixes)), subscriber)
        out = pc.if_else(_mask(len(index), rows), s.scatter(len(index), rows, nsn), out)
    return out


def e164(country: np.ndarray, nsn: pa.Array) -> pa.Array:
    return s.concat("+", s.ints(world.CALLING_CODES[np.asarray(country, dtype=np.int64)]), nsn)


def _mask(n: int, rows: np.ndarray) -> pa.Array:
    mask = np.zeros(n, dtype=bool)
    mask[rows] = True
    return pa.array(mask)


def _grouped(country: np.ndarray, nsn: pa.Array, sep: str) -> pa.Array:
    out = nsn
    for c, plan in enumerate(PLANS):
        rows = country == c
        if not rows.any():
            continue
        parts, start = [], 0
        for size in plan.groups[:-1]:
            parts.append(pc.utf8_slice_codeunits(nsn, start, start + size))
            parts.append(sep)
            start += size
        parts.append(pc.utf8_slice_codeunits(nsn, start, 64))
        out = s.where(rows, s.concat(*parts), out)
    return out


# Styles: international ones resolve anywhere; national ones need NANP or the record's country.
INTL_SPACED, INTL_COMPACT, INTL_00, INTL_TRUNK, INTL_DASHED = range(5)
NAT_SPACED, NAT_COMPACT, NAT_DASHED, NAT_BARE, NAT_PARENS = range(5, 10)
N_STYLES = 10


def render(
    rng: np.random.Generator,
    country: np.ndarray,
    nsn: pa.Array,
    record_country: np.ndarray,
    national_share: float,
) -> tuple[pa.Array, np.ndarray]:
    """Phones as people write them; returns (raw, resolvable)."""
    n = len(nsn)
    country = np.asarray(country, dtype=np.int64)
    record_country = np.broadcast_to(np.asarray(record_country, dtype=np.int64), (n,))
    nanp = IS_NANP[country]
    trunk = HAS_TRUNK[country]
    national = rng.random(n) < np.where(nanp, 0.85, national_share)
    style = np.where(national, rng.integers(NAT_SPACED, N_STYLES, n), rng.integers(0, 5, n))
    style = np.where(~trunk & (style == INTL_TRUNK), INTL_SPACED, style)
    style = np.where(~trunk & ~nanp & (style == NAT_BARE), NAT_SPACED, style)

    code = s.ints(world.CALLING_CODES[country])
    spaced = _grouped(country, nsn, " ")
    dashed = _grouped(country, nsn, "-")
    prefix = s.where(trunk, "0", "")
    # NANP: (313) 454-5177; BR/MX: (11) 98765-4321; trunk countries: (0151) 23456789
    paren_head = s.where(
        nanp,
        s.concat("(", pc.utf8_slice_codeunits(nsn, 0, 3), ") ", pc.utf8_slice_codeunits(nsn, 3, 6)),
        s.concat("(", prefix, _first_group(country, nsn)),
    )
    forms = {
        INTL_SPACED: s.concat("+", code, " ", spaced),
        INTL_COMPACT: s.concat("+", code, nsn),
        INTL_00: s.concat("00", code, " ", spaced),
        INTL_TRUNK: s.concat("+", code, " (0)", spaced),
        INTL_DASHED: s.concat("+", code, "-", dashed),
        NAT_SPACED: s.concat(prefix, spaced),
        NAT_COMPACT: s.concat(s.where(nanp & (rng.random(n) < 0.3), "1", prefix), nsn),
        NAT_DASHED: s.concat(prefix, s.where(nanp & (rng.random(n) < 0.4), _dotted(nsn), dashed)),
        NAT_BARE: s.where(nanp, s.concat("1-", dashed), spaced),  # IN '98765 43210'
        NAT_PARENS: s.concat(paren_head, _paren_tail(country, nsn, nanp)),
    }
    out = forms[INTL_SPACED]
    for key, form in forms.items():
        out = s.where(style == key, form, out)
    resolvable = (style < NAT_SPACED) | nanp | (record_country == country)
    return out, resolvable


def _first_group(country: np.ndarray, nsn: pa.Array) -> pa.Array:
    out = nsn
    for c, plan in enumerate(PLANS):
        rows = country == c
        if rows.any():
            out = s.where(rows, pc.utf8_slice_codeunits(nsn, 0, plan.groups[0]), out)
    return out


def _paren_tail(country: np.ndarray, nsn: pa.Array, nanp: np.ndarray) -> pa.Array:
    us_tail = s.concat("-", pc.utf8_slice_codeunits(nsn, 6, 64))
    out = us_tail
    for c, plan in enumerate(PLANS):
        rows = (country == c) & ~nanp
        if rows.any():
            rest = pc.utf8_slice_codeunits(nsn, plan.groups[0], 64)
            out = s.where(rows, s.concat(") ", rest), out)
    return out


def _dotted(nsn: pa.Array) -> pa.Array:
    return s.concat(
        pc.utf8_slice_codeunits(nsn, 0, 3),
        ".",
        pc.utf8_slice_codeunits(nsn, 3, 6),
        ".",
        pc.utf8_slice_codeunits(nsn, 6, 64),
    )


_EXTENSION_FORMS = (" x{}", " ext. {}", " ext {}", " #{}", ";ext={}", " X{}", " extension {}")


def with_extension(rng: np.random.Generator, raw: pa.Array, extension: pa.Array) -> pa.Array:
    """'313-454-5177 x976', '+44 20 7946 0958 ext. 12', '0151 2345678 #3' ..."""
    pick = rng.integers(0, len(_EXTENSION_FORMS), len(raw))
    out = raw
    for i, form in enumerate(_EXTENSION_FORMS):
        before, after = form.split("{}")
        out = s.where(pick == i, s.concat(raw, before, extension, after), out)
    return s.where(np.asarray(extension.is_null(), dtype=bool), raw, out)


def typo(rng: np.random.Generator, nsn: pa.Array) -> pa.Array:
    """One digit of the last seven changed: a mistyped number (may be someone else's)."""
    n = len(nsn)
    position = rng.integers(1, 8, n)  # counted from the end
    out = nsn
    for k in range(1, 8):
        rows = position == k
        if not rows.any():
            continue
        head = pc.utf8_slice_codeunits(nsn, 0, -k)
        digit = pc.utf8_slice_codeunits(nsn, -k, -k + 1 if k > 1 else 64)
        changed = (
            pc.fill_null(pc.cast(digit, pa.int64()), 0).to_numpy(zero_copy_only=False)
            + rng.integers(1, 10, n)
        ) % 10
        tail = pc.utf8_slice_codeunits(nsn, -k + 1, 64) if k > 1 else ""
        out = s.where(rows, s.concat(head, s.ints(changed), tail), out)
    return out
