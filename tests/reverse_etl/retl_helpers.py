"""Builders for reverse-ETL tests: a temp warehouse with a segment and profiles, sync YAML."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from reverse_etl.hashing import hash_value
from tessera.settings import Settings
from tessera.warehouse import Warehouse

SEGMENT = "segments.test_audience"
HUBSPOT_TOKEN = "pat-na1-SECRET-hubspot-7f3a9c"
META_TOKEN = "EAAB-SECRET-meta-token-c41d"
WEBHOOK_SECRET = "whsec-SECRET-signing-92be"


def settings_for(tmp_path: Path) -> Settings:
    return dataclasses.replace(
        Settings.from_env({}),
        warehouse_path=tmp_path / "wh.duckdb",
        artifacts_dir=tmp_path / "artifacts",
    )


def person_frame(n: int, start: int = 0) -> pd.DataFrame:
    ids = range(start, start + n)
    return pd.DataFrame(
        {
            "person_id": [f"p{i:07d}" for i in ids],
            "email": [f"Person.{i}@Example.com " for i in ids],
            "phone": [f"+1 (415) 555-{i % 10000:04d}" if i % 7 else None for i in ids],
            "first_name": [f"First{i}" for i in ids],
            "last_name": [f"Last{i % 97}" for i in ids],
            "lifecycle_stage": ["active" if i % 3 else "lapsed" for i in ids],
        }
    )


def build_warehouse(settings: Settings, n: int = 2000, consent_out_every: int = 50) -> None:
    """Segment of `n` persons; every `consent_out_every`-th person has no email/ads consent."""
    people = person_frame(n)
    consent = [i % consent_out_every != 0 for i in range(n)]
    profiles = pd.DataFrame(
        {
            "person_id": people.person_id,
            "email": people.email,
            "consent_email": consent,
            "consent_sms": [True] * n,
            "consent_ads": [None if not c else True for c in consent],
        }
    )
    with Warehouse(settings).session() as s:
        s.write_df(people, "segments", "test_audience", mode="replace")
        s.write_df(profiles, "profiles", "customer_profiles", mode="replace")


def execute(settings: Settings, sql: str) -> None:
    with Warehouse(settings).session() as s:
        s.execute(sql)


def query(settings: Settings, sql: str) -> pd.DataFrame:
    with Warehouse(settings).session(read_only=True) as s:
        return s.df(sql)


def expected_contacts(settings: Settings, purpose: str | None = "email") -> dict[str, dict]:
    """email (normalised) -> expected HubSpot properties for the consented segment rows."""
    consent = (
        f"join profiles.customer_profiles p on p.person_id = s.person_id "
        f"and p.consent_{purpose} = true"
        if purpose
        else ""
    )
    frame = query(settings, f"select s.* from {SEGMENT} s {consent}")
    out = {}
    for row in frame.itertuples(index=False):
        email = row.email.strip().lower()
        out[email] = {"email": email, "firstname": row.first_name, "lastname": row.last_name}
    return out


def expected_members(settings: Settings, purpose: str = "ads") -> set[tuple[str, str]]:
    frame = query(
        settings,
        f"select s.email, s.phone from {SEGMENT} s join profiles.customer_profiles p "
        f"on p.person_id = s.person_id and p.consent_{purpose} = true",
    )
    return {
        (hash_value("email", e) or "", hash_value("phone", ph) or "")
        for e, ph in frame.itertuples(index=False)
    }


def live_contacts(app: Any) -> dict[str, dict]:
    with app.lock:
        return {
            email: {k: c["properties"].get(k) for k in ("email", "firstname", "lastname")}
            for email, c in app.contacts.items()
        }


def write_config(
    syncs_dir: Path,
    destinations: list[dict[str, Any]],
    syncs: list[dict[str, Any]],
) -> Path:
    syncs_dir.mkdir(parents=True, exist_ok=True)
    (syncs_dir / "destinations.yml").write_text(yaml.safe_dump({"destinations": destinations}))
    (syncs_dir / "syncs.yml").write_text(yaml.safe_dump({"syncs": syncs}))
    return syncs_dir


def hubspot_destination(base_url: str, **overrides: Any) -> dict[str, Any]:
    return {
        "name": "hubspot",
        "type": "hubspot",
        "base_url": base_url,
        "credentials": {"token": "TEST_HUBSPOT_TOKEN"},
        "concurrency": 4,
        "timeout_seconds": 0.5,
        "retry": {"max_attempts": 8, "base_delay_seconds": 0.01, "max_delay_seconds": 0.1},
        **overrides,
    }


def meta_destination(base_url: str, **overrides: Any) -> dict[str, Any]:
    return {
        "name": "meta",
        "type": "meta_audience",
        "base_url": base_url,
        "credentials": {"access_token": "TEST_META_TOKEN"},
        "concurrency": 2,
        "timeout_seconds": 0.5,
        "retry": {"max_attempts": 8, "base_delay_seconds": 0.01, "max_delay_seconds": 0.1},
        **overrides,
    }


def hubspot_sync(name: str = "crm", mode: str = "upsert", **overrides: Any) -> dict[str, Any]:
    return {
        "name": name,
        "segment": "test_audience",
        "primary_key": "person_id",
        "destination": "hubspot",
        "object": "contacts",
        "mode": mode,
        "mapping": {"email": "email", "firstname": "first_name", "lastname": "last_name"},
        "consent": "email",
        "schedule": "*/15 * * * *",
        **overrides,
    }


def meta_sync(name: str = "ads", **overrides: Any) -> dict[str, Any]:
    return {
        "name": name,
        "segment": "segments.test_audience",
        "primary_key": "person_id",
        "destination": "meta",
        "object": "1234567890",
        "mode": "add_remove",
        "mapping": {"EMAIL_SHA256": "email", "PHONE_SHA256": "phone"},
        "hashing": {"EMAIL_SHA256": "email", "PHONE_SHA256": "phone"},
        "consent": "ads",
        **overrides,
    }


def sync_paths(tmp_path: Path, destinations: list[dict], syncs: list[dict]) -> Any:
    from reverse_etl.runner import SyncPaths

    write_config(tmp_path / "syncs", destinations, syncs)
    return SyncPaths(tmp_path / "syncs", None, tmp_path / "artifacts" / "locks")


def run(settings: Settings, paths: Any, name: str, **kwargs: Any) -> Any:
    from reverse_etl.runner import run_sync

    return run_sync(settings, paths.catalog(), name, lock_dir=paths.lock_dir, **kwargs)


def rows_received(app: Any, since: int = 0, status: int | None = None) -> int:
    """Rows in requests the emulator answered (with `status`, default any 2xx)."""
    with app.lock:
        records = app.requests[since:]
    return sum(
        r.rows
        for r in records
        if (r.status == status if status is not None else 200 <= r.status < 300)
    )


REJECTED = "p0000602"  # the demo warehouse person HubSpot refuses (invalid email)


def demo_warehouse(settings: Settings) -> None:
    """The starter segments the shipped syncs read, every person in all of them."""
    people = person_frame(1000)
    people["country"] = "US"
    people["rfm_segment"] = "cant_lose_them"
    people["revenue_total"] = 120.5
    people["churn_score"] = 0.7
    people["churn_reason"] = "recency"
    people.loc[people.person_id == REJECTED, "email"] = "not-an-email"
    with Warehouse(settings).session() as s:
        for table in ("lapsed_vips", "recent_buyers_suppression", "high_value_churn_risk"):
            s.write_df(people, "segments", table, mode="replace")
        s.execute("create schema profiles")
        s.execute(
            "create table profiles.customer_profiles as select person_id, "
            "true as consent_email, true as consent_sms, true as consent_ads "
            "from segments.lapsed_vips"
        )
