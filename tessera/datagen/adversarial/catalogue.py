"""The catalogue of values no person owns: ad macros, OS placeholders, junk emails and phones.

Each list is built from parts, so the output holds hundreds of distinct values and no fixed
blocklist can catch them all: an identity rule has to notice them from how they behave
(one value on thousands of unrelated records), not from what they look like.
"""

from __future__ import annotations

from itertools import product

# --- device ids ---------------------------------------------------------------------------
# How ad networks and MMPs write the macro they expect the publisher to fill in.
_MACRO_WRAPPERS = (
    "__{}__",
    "{{{}}}",
    "{{{{{}}}}}",
    "%%{}%%",
    "[{}]",
    "${{{}}}",
    "%{}%",
    "#{}#",
    "<{}>",
    "$({})",
    "[[{}]]",
    "@{}@",
)
_MACRO_NAMES = (
    "IDFA",
    "idfa",
    "GAID",
    "gaid",
    "ADVERTISING_ID",
    "advertising_id",
    "DEVICE_ID",
    "device_id",
    "AAID",
    "aaid",
    "ADID",
    "adid",
    "IFA",
    "ifa",
    "ios_ifa",
    "google_aid",
    "android_id",
    "deviceId",
    "IDFV",
    "idfv",
    "MAID",
    "maid",
    "DEVICE_IFA",
    "device.ifa",
    "user.device_id",
)
AD_MACROS: tuple[str, ...] = tuple(
    dict.fromkeys(w.format(n) for w, n in product(_MACRO_WRAPPERS, _MACRO_NAMES))
)

# What operating systems and SDKs send when the id is withheld or unavailable.
OS_PLACEHOLDERS: tuple[str, ...] = (
    "00000000-0000-0000-0000-000000000000",
    "00000000-0000-0000-0000-000000000001",
    "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF",
    "ffffffff-ffff-ffff-ffff-ffffffffffff",
    "00000000000000000000000000000000",
    "0000000000000000",
    "02:00:00:00:00:00",
    "00:00:00:00:00:00",
    "IDFA",
    "GAID",
    "(null)",
    "<null>",
    "nil",
    "NULL",
    "None",
    "limit_ad_tracking",
    "LAT",
    "opt-out",
    "optout",
    "DNT",
    "not_available",
    "unavailable",
    "9774d56d682e549c",  # the Android 2.2 emulator ANDROID_ID, on countless devices
)

# What buggy front ends send as the user id of a logged-out visitor.
USER_ID_PLACEHOLDERS: tuple[str, ...] = (
    "undefined",
    "null",
    "None",
    "NaN",
    "0",
    "-1",
    "guest",
    "anonymous",
    "[object Object]",
    "{{customer.id}}",
    "${userId}",
    "{{ user_id }}",
    "%USER_ID%",
    "not_logged_in",
    "logged_out",
    "00000000",
)

# --- emails -------------------------------------------------------------------------------
_JUNK_WORDS = (
    "x",
    "xx",
    "xxx",
    "na",
    "none",
    "nomail",
    "noemail",
    "no.email",
    "no-email",
    "asdf",
    "asdfasdf",
    "qwerty",
    "123",
    "1234",
    "abc",
    "aaa",
    "no",
    "nope",
    "fake",
    "blank",
    "declined",
    "refused",
    "donotemail",
    "dontwant",
    "customer",
    "nobody",
    "noone",
    "sdfsdf",
    "a",
    "b",
    "me",
)
_JUNK_SELF_DOMAINS = ("{}.com", "{}.net", "{}.org")
_JUNK_PROVIDERS = ("gmail.com", "yahoo.com", "hotmail.com", "email.com", "mail.com", "aol.com")
JUNK_EMAIL_PATTERNS: tuple[str, ...] = (
    "test{n}@test.com",
    "x{n}@x.com",
    "{n}@{n}.com",
)


def junk_emails(store_domains: tuple[str, ...]) -> tuple[str, ...]:
    """Every junk address: word@word.tld, word@provider, word@<store domain>."""
    values = [f"{w}@{d.format(w)}" for w, d in product(_JUNK_WORDS, _JUNK_SELF_DOMAINS)]
    values += [f"{w}@{p}" for w, p in product(_JUNK_WORDS, _JUNK_PROVIDERS)]
    values += [f"{w}@{d}" for w, d in product(_JUNK_WORDS, store_domains)]
    values += [f"{a}@{b}.com" for a, b in (("a", "b"), ("x", "y"), ("abc", "xyz"), ("na", "na"))]
    return tuple(dict.fromkeys(values))


# --- phones -------------------------------------------------------------------------------
def junk_phones() -> tuple[str, ...]:
    """Phones typed to get past a required field: repeated digits, sequences, 555 numbers."""
    values = []
    for d in "0123456789":
        values += [f"{d * 3}-{d * 3}-{d * 4}", f"({d * 3}) {d * 3}-{d * 4}", d * 10]
    values += ["123-456-7890", "(123) 456-7890", "1234567890", "987-654-3210", "0123456789"]
    values += ["555-1212", "000", "0", "n/a", "none", "no phone", "declined", "-", "123456"]
    # The fictional 555-01xx block under many area codes: valid-looking, owned by nobody.
    for area in ("212", "310", "313", "415", "512", "617", "702", "800", "888", "917"):
        values += [f"{area}-555-01{i:02d}" for i in range(0, 100, 7)]
        values += [f"({area}) 555-5555"]
    return tuple(dict.fromkeys(values))


# --- bots ---------------------------------------------------------------------------------
BOT_USER_AGENTS: tuple[str, ...] = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/120.0.0.0 Safari/537.36",
    "python-requests/2.31.0",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "Go-http-client/1.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/91.0.4472.124 Safari/537.36",
)
DISPOSABLE_DOMAINS: tuple[str, ...] = (
    "mailinator.com",
    "guerrillamail.com",
    "10minutemail.com",
    "yopmail.com",
    "trashmail.com",
    "tempmail.net",
    "sharklasers.com",
)
