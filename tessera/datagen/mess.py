"""The realistic mess: how identifiers look when people and systems type them.

Canonical values (what `truth.identifier_person` stores) go in; raw renderings come out:
padded and mixed-case emails, phones in many national and international formats, and
placeholder values that broken SDKs, lazy cashiers and test accounts leave behind.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tessera.datagen import strings as s

ZERO_UUID = "00000000-0000-0000-0000-000000000000"
ANONYMOUS_ID_PLACEHOLDERS = ("unknown", "null", "undefined", "0", ZERO_UUID)
USER_ID_PLACEHOLDERS = ("0", "null", "undefined", "unknown", "-1")
DEVICE_ID_PLACEHOLDERS = (ZERO_UUID, "unknown")
EMAIL_PLACEHOLDERS = ("test@test.com", "Test@Test.com ", "unknown", "null")
PHONE_PLACEHOLDERS = ("0000000000", "000-000-0000")

# Every placeholder value above, as staging would normalise it (trimmed, lower-cased).
PLACEHOLDER_VALUES = frozenset(
    v.strip().lower()
    for v in (
        *ANONYMOUS_ID_PLACEHOLDERS,
        *USER_ID_PLACEHOLDERS,
        *DEVICE_ID_PLACEHOLDERS,
        *EMAIL_PLACEHOLDERS,
        *PHONE_PLACEHOLDERS,
    )
)


def with_placeholders(
    rng: np.random.Generator, values: pa.Array, rate: float, options: Sequence[str]
) -> tuple[pa.Array, np.ndarray]:
    """Replace a share `rate` of non-null values by placeholders; returns (values, replaced)."""
    n = len(values)
    replaced = (rng.random(n) < rate) & ~np.asarray(values.is_null(), dtype=bool)
    if not replaced.any():
        return values, replaced
    fillers = s.pick(options, rng.integers(0, len(options), n))
    return s.where(replaced, fillers, values), replaced


def messy_emails(rng: np.random.Generator, canonical: pa.Array, rate: float) -> pa.Array:
    """Render canonical (lower-case) emails; a share `rate` gets case and padding mess."""
    n = len(canonical)
    style = np.where(rng.random(n) < rate, rng.integers(1, 6, n), 0)
    title = pc.utf8_title(canonical)
    upper = pc.utf8_upper(canonical)
    out = canonical
    out = s.where(style == 1, title, out)
    out = s.where(style == 2, upper, out)
    out = s.where(style == 3, s.concat(" ", canonical, " "), out)
    out = s.where(style == 4, s.concat(title, "  "), out)
    out = s.where(style == 5, s.concat("\t", canonical), out)
    return out


def _slice(values: pa.Array, start: int, stop: int | None = None) -> pa.Array:
    return pc.utf8_slice_codeunits(values, start=start, stop=stop if stop is not None else 64)


def _grouped_national(cc: np.ndarray, nsn: pa.Array) -> pa.Array:
    """National significant number with the spaces people write: '20 7946 0958'."""
    us = s.concat(_slice(nsn, 0, 3), " ", _slice(nsn, 3, 6), " ", _slice(nsn, 6))
    gb_land = s.concat(_slice(nsn, 0, 2), " ", _slice(nsn, 2, 6), " ", _slice(nsn, 6))
    gb_mobile = s.concat(_slice(nsn, 0, 4), " ", _slice(nsn, 4))
    de_land = s.concat(_slice(nsn, 0, 2), " ", _slice(nsn, 2))
    de_mobile = s.concat(_slice(nsn, 0, 3), " ", _slice(nsn, 3))
    first = np.asarray(_slice(nsn, 0, 1).to_numpy(zero_copy_only=False))
    gb = s.where(first == "2", gb_land, gb_mobile)
    de = s.where(first == "3", de_land, de_mobile)
    return s.where(cc == 1, us, s.where(cc == 44, gb, de))


def messy_phones(
    rng: np.random.Generator, cc: np.ndarray, nsn: pa.Array, allow_national: np.ndarray | bool
) -> pa.Array:
    """Render phones given calling code and national significant number.

    US numbers use US national and international styles (the default country code 1
    resolves them). GB/DE numbers use international styles, plus national styles with a
    trunk 0 where `allow_national` is true: only where the record carries the country.
    """
    n = len(nsn)
    cc = np.asarray(cc)
    code = s.ints(cc)
    area, exchange, line = _slice(nsn, 0, 3), _slice(nsn, 3, 6), _slice(nsn, 6)
    us_styles = (
        s.concat("+1 (", area, ") ", exchange, "-", line),
        s.concat(area, ".", exchange, ".", line),
        s.concat("(", area, ") ", exchange, "-", line),
        nsn,
        s.concat("+1", nsn),
        s.concat("1-", area, "-", exchange, "-", line),
        s.concat(area, "-", exchange, "-", line),
        s.concat("+1 ", area, " ", exchange, " ", line),
    )
    grouped = _grouped_national(cc, nsn)
    intl_styles = (
        s.concat("+", code, " ", grouped),
        s.concat("00", code, " ", grouped),
        s.concat("+", code, nsn),
        s.concat("+", code, " (0)", grouped),
        s.concat("+", code, "-", pc.replace_substring(grouped, " ", "-")),
    )
    national_styles = (
        s.concat("0", grouped),
        s.concat("0", nsn),
        s.concat("(0", pc.replace_substring_regex(grouped, r" ", ") ", max_replacements=1)),
    )
    us_pick = rng.integers(0, len(us_styles), n)
    intl_pick = rng.integers(0, len(intl_styles), n)
    national_pick = rng.integers(0, len(national_styles), n)
    use_national = np.asarray(allow_national, dtype=bool) & (rng.random(n) < 0.6)

    out = us_styles[0]
    for i, style in enumerate(us_styles[1:], start=1):
        out = s.where((cc == 1) & (us_pick == i), style, out)
    for i, style in enumerate(intl_styles):
        out = s.where((cc != 1) & ~use_national & (intl_pick == i), style, out)
    for i, style in enumerate(national_styles):
        out = s.where((cc != 1) & use_national & (national_pick == i), style, out)
    return out


def messy_names(rng: np.random.Generator, names: pa.Array, rate: float) -> pa.Array:
    """Names as typed into a CRM: some upper-case, some lower-case, some padded."""
    n = len(names)
    style = np.where(rng.random(n) < rate, rng.integers(1, 4, n), 0)
    out = s.where(style == 1, pc.utf8_upper(names), names)
    out = s.where(style == 2, pc.utf8_lower(names), out)
    return s.where(style == 3, s.concat(names, " "), out)
