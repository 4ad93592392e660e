"""Destination, sync and expected-state builders for Salesforce, Braze and Google Ads tests.

Shared by the destination contract suite and the per-destination test files.
"""

from __future__ import annotations

from typing import Any

from retl_helpers import SEGMENT, query

from reverse_etl.hashing import hash_value
from tessera.settings import Settings

SALESFORCE_TOKEN = "00D-SECRET-salesforce-session-9c1e"
BRAZE_KEY = "braze-SECRET-rest-key-51aa"
GOOGLE_TOKEN = "ya29.SECRET-google-oauth-77d0"
GOOGLE_DEVELOPER_TOKEN = "test-developer-token"  # = GoogleAdsEmulator.developer_token
ENV = {
    "TEST_SALESFORCE_TOKEN": SALESFORCE_TOKEN,
    "TEST_BRAZE_KEY": BRAZE_KEY,
    "TEST_GOOGLE_TOKEN": GOOGLE_TOKEN,
    "TEST_GOOGLE_DEVELOPER_TOKEN": GOOGLE_DEVELOPER_TOKEN,
}
SF_OBJECT = "Contact"
SF_EXTERNAL_ID = "Tessera_Person_Id__c"
BRAZE_GROUP = "9f1c2d3e-marketing-email"
GOOGLE_CUSTOMER = "1234567890"
GOOGLE_LIST = "555000111"
FAST_RETRY = {"max_attempts": 12, "base_delay_seconds": 0.01, "max_delay_seconds": 0.1}


def salesforce_destination(base_url: str, **overrides: Any) -> dict[str, Any]:
    options = {"poll_seconds": 0.01, "max_poll_seconds": 0.05, **overrides.pop("options", {})}
    return {
        "name": "salesforce",
        "type": "salesforce",
        "base_url": base_url,
        "credentials": {"access_token": "TEST_SALESFORCE_TOKEN"},
        "concurrency": 2,
        "timeout_seconds": 0.5,
        "retry": FAST_RETRY,
        "options": options,
        **overrides,
    }


def salesforce_sync(name: str = "sf", mode: str = "mirror", **overrides: Any) -> dict[str, Any]:
    return {
        "name": name,
        "segment": "test_audience",
        "destination": "salesforce",
        "object": SF_OBJECT,
        "mode": mode,
        "mapping": {
            SF_EXTERNAL_ID: "person_id",
            "Email": "email",
            "FirstName": "first_name",
            "LastName": "last_name",
        },
        "options": {"external_id_field": SF_EXTERNAL_ID},
        "consent": "email",
        **overrides,
    }


def salesforce_actual(app: Any) -> dict[str, dict[str, Any]]:
    with app.lock:
        return {
            ext: {k: record.get(k) for k in ("Email", "FirstName", "LastName")}
            for ext, record in app.records.get(SF_OBJECT, {}).items()
        }


def salesforce_expected(settings: Settings) -> dict[str, dict[str, Any]]:
    return {
        person: {"Email": email, "FirstName": first, "LastName": last}
        for person, email, first, last in _consented(settings, "email")
    }


def braze_destination(base_url: str, **overrides: Any) -> dict[str, Any]:
    return {
        "name": "braze",
        "type": "braze",
        "base_url": base_url,
        "credentials": {"api_key": "TEST_BRAZE_KEY"},
        "concurrency": 4,
        "timeout_seconds": 0.5,
        "retry": FAST_RETRY,
        **overrides,
    }


def braze_sync(name: str = "braze", mode: str = "mirror", **overrides: Any) -> dict[str, Any]:
    return {
        "name": name,
        "segment": "test_audience",
        "destination": "braze",
        "object": "users",
        "mode": mode,
        "mapping": {
            "external_id": "person_id",
            "email": "email",
            "first_name": "first_name",
            "last_name": "last_name",
        },
        "options": {"subscription_group_id": BRAZE_GROUP},
        "consent": "email",
        **overrides,
    }


def braze_actual(app: Any) -> dict[str, dict[str, Any]]:
    with app.lock:
        return {
            user: {k: attributes.get(k) for k in ("email", "first_name", "last_name")}
            for user, attributes in app.subscribed(BRAZE_GROUP).items()
        }


def braze_expected(settings: Settings) -> dict[str, dict[str, Any]]:
    return {
        person: {"email": email, "first_name": first, "last_name": last}
        for person, email, first, last in _consented(settings, "email")
    }


def google_destination(base_url: str, **overrides: Any) -> dict[str, Any]:
    options = {
        "customer_id": GOOGLE_CUSTOMER,
        "poll_seconds": 0.01,
        "max_poll_seconds": 0.05,
        **overrides.pop("options", {}),
    }
    return {
        "name": "google",
        "type": "google_ads",
        "base_url": base_url,
        "credentials": {
            "access_token": "TEST_GOOGLE_TOKEN",
            "developer_token": "TEST_GOOGLE_DEVELOPER_TOKEN",
        },
        "timeout_seconds": 0.5,
        "retry": FAST_RETRY,
        "options": options,
        **overrides,
    }


def google_sync(name: str = "gads", **overrides: Any) -> dict[str, Any]:
    return {
        "name": name,
        "segment": "test_audience",
        "destination": "google",
        "object": GOOGLE_LIST,
        "mode": "add_remove",
        "mapping": {"hashedEmail": "email", "hashedPhoneNumber": "phone"},
        "hashing": {"hashedEmail": "email_google", "hashedPhoneNumber": "phone_e164"},
        "consent": "ads",
        **overrides,
    }


def google_actual(app: Any) -> set[tuple[str, str]]:
    with app.lock:
        return set(app.members.get(GOOGLE_LIST, set()))


def google_expected(settings: Settings) -> set[tuple[str, str]]:
    frame = query(
        settings,
        f"select s.email, s.phone from {SEGMENT} s join profiles.customer_profiles p "
        "on p.person_id = s.person_id and p.consent_ads = true",
    )
    return {
        (hash_value("email_google", e) or "", hash_value("phone_e164", ph) or "")
        for e, ph in frame.itertuples(index=False)
    }


def _consented(settings: Settings, purpose: str) -> list[tuple]:
    frame = query(
        settings,
        f"select s.person_id, s.email, s.first_name, s.last_name from {SEGMENT} s "
        f"join profiles.customer_profiles p on p.person_id = s.person_id "
        f"and p.consent_{purpose} = true",
    )
    return list(frame.itertuples(index=False, name=None))
