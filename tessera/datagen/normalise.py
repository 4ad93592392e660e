"""Reference normalisers in Python, for tests and benchmarks that check the generator.

They mirror what staging does in SQL (`normalise_email`, `normalise_phone` macros): email
trimmed and lower-cased; phone to E.164 using an explicit country where the record has one,
else the default calling code.
"""

from __future__ import annotations

import re

_CALLING_CODE = {"US": "1", "GB": "44", "DE": "49"}
_NON_DIGITS = re.compile(r"\D")


def normalise_email(raw: str | None) -> str | None:
    if raw is None:
        return None
    value = raw.strip().lower()
    return value or None


def normalise_phone(
    raw: str | None, default_calling_code: str = "1", country: str | None = None
) -> str | None:
    """E.164 ('+14155550134') or None when the value cannot be a phone number."""
    if raw is None:
        return None
    value = raw.strip().replace("(0)", "")
    digits = _NON_DIGITS.sub("", value)
    if not digits:
        return None
    if value.startswith("+"):
        e164 = digits
    elif digits.startswith("00"):
        e164 = digits[2:]
    elif digits.startswith("0") and country in _CALLING_CODE and country != "US":
        e164 = _CALLING_CODE[country] + digits[1:]
    elif default_calling_code == "1" and len(digits) == 11 and digits.startswith("1"):
        e164 = digits
    elif default_calling_code == "1" and len(digits) == 10 and digits[0] not in "01":
        e164 = "1" + digits
    elif not digits.startswith("0") and default_calling_code != "1":
        e164 = default_calling_code + digits
    else:
        return None
    if not 8 <= len(e164) <= 15 or set(e164[len(e164) - 7 :]) == {"0"}:
        return None
    return "+" + e164
