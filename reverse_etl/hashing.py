"""Normalise-then-SHA-256 hashing of identifiers for ad platforms, in Python.

The planner does the same in SQL (`reverse_etl.dialect.hash_expression`) so raw PII never
leaves the warehouse; this module is the reference the tests hold both to, and what
emulators and tests use to compute expected audience members.
Meta's documented normalisation: email trimmed and lower-cased; phone digits only, with the
country code, no leading zeros. Google's (Customer Match / Data Manager API): email with all
whitespace removed and lower-cased, and for gmail.com / googlemail.com the dots and any
`+suffix` of the local part removed; phone in E.164 (`+`, country code, digits).
"""

from __future__ import annotations

import hashlib
import re

_NON_DIGITS = re.compile(r"[^0-9]")
WHITESPACE = " \t\n\v\f\r"  # the SQL side trims exactly these (dialect.WHITESPACE)


def normalise_email(value: str | None) -> str | None:
    if value is None:
        return None
    text = value.strip(WHITESPACE).lower()
    return text or None


def normalise_phone(value: str | None) -> str | None:
    if value is None:
        return None
    digits = _NON_DIGITS.sub("", value).lstrip("0")
    return digits or None


GMAIL_DOMAINS = ("gmail.com", "googlemail.com")
_WHITESPACE_RUN = re.compile(f"[{re.escape(WHITESPACE)}]+")


def normalise_email_google(value: str | None) -> str | None:
    if value is None:
        return None
    text = _WHITESPACE_RUN.sub("", value).lower()
    if text.count("@") == 1:
        local, domain = text.split("@")
        if domain in GMAIL_DOMAINS:
            text = local.replace(".", "").split("+")[0] + "@" + domain
    return text or None


def normalise_phone_e164(value: str | None) -> str | None:
    digits = normalise_phone(value)
    return None if digits is None else f"+{digits}"


def sha256_hex(value: str | None) -> str | None:
    return None if value is None else hashlib.sha256(value.encode("utf-8")).hexdigest()


def hash_value(rule: str, value: str | None) -> str | None:
    """Apply a sync's hashing rule (`email`, `phone`, `email_google`, `phone_e164` or
    plain `sha256` of the trimmed value)."""
    if rule == "email":
        return sha256_hex(normalise_email(value))
    if rule == "phone":
        return sha256_hex(normalise_phone(value))
    if rule == "email_google":
        return sha256_hex(normalise_email_google(value))
    if rule == "phone_e164":
        return sha256_hex(normalise_phone_e164(value))
    if rule == "sha256":
        text = None if value is None else value.strip(WHITESPACE)
        return sha256_hex(text or None)
    raise ValueError(f"unknown hashing rule {rule!r}")
