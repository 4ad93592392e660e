"""Meta Custom Audiences: add and remove hashed members (`POST`/`DELETE /{audience_id}/users`).

Identifiers arrive already normalised and SHA-256 hashed by the planner (in SQL), so raw
PII never leaves the warehouse. A row's `dest_id` is its hashed identifier tuple: removals
and changed identifiers send exactly what was added before.

Idempotency: an audience is a set of hashed identifier tuples, so adding a member twice (a
batch resent after a crash) leaves one member, and removing an absent one is a no-op. Meta
offers no way to read an audience's members back (only an approximate count), so
`tessera sync reconcile` cannot check it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from reverse_etl.audience import SEPARATOR
from reverse_etl.config import ConfigError
from reverse_etl.destinations.base import (
    BaseDestination,
    Operation,
    PlanRow,
    RowResult,
    SyncConfig,
    dumps,
    is_removal,
)

SCHEMA_RULES = {"EMAIL_SHA256": "email", "PHONE_SHA256": "phone"}


class MetaCustomAudience(BaseDestination):
    type = "meta_audience"
    modes = ("add_remove", "upsert")
    max_batch_size = 10_000
    removes_by_identifier = True
    unreadable_reason = "Meta Custom Audiences do not list their members (only an approximate size)"
    required_credentials = ("access_token",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.schema = list(self.sync.mapping)
        self.path = f"/{self.sync.object}/users"
        self.http = self.http_client()

    @classmethod
    def check_sync(cls, sync: SyncConfig) -> None:
        where = f"{sync.source_file}: sync {sync.name!r}"
        if not re.fullmatch(r"[0-9]+", sync.object):
            raise ConfigError(f"{where} field `object` must be the numeric audience id")
        for field in sync.mapping:
            if field not in SCHEMA_RULES:
                raise ConfigError(
                    f"{where} field `mapping`: {field!r} is not a Meta schema key "
                    f"(use {', '.join(SCHEMA_RULES)})"
                )
            if sync.hashing.get(field) != SCHEMA_RULES[field]:
                raise ConfigError(
                    f"{where} field `hashing`: {field} must be `{SCHEMA_RULES[field]}` so it is "
                    "normalised and SHA-256 hashed before it leaves the warehouse"
                )

    def _headers(self) -> dict[str, str]:
        token = self._secrets["access_token"].get_secret_value()
        return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def _call(self, method: str, data: list[list[str]]) -> set[str]:
        """One call; returns the hashed values Meta reported as invalid."""
        response = self.http.request(
            method,
            self.path,
            dumps({"payload": {"schema": self.schema, "data": data}}),
            self._headers(),
            what=f"meta audience {'add' if method == 'POST' else 'remove'}",
        )
        body = response.json() or {}
        return set((body.get("invalid_entry_samples") or {}).keys())

    def send(self, rows: Sequence[PlanRow], operation: Operation) -> list[RowResult]:
        if is_removal(operation):  # left the segment, consent revoked or deletion request
            data = [r.previous_dest_id.split(SEPARATOR) for r in rows if r.previous_dest_id]
            if data:
                self._call("DELETE", data)
            return [RowResult(r.key, True) for r in rows]

        results: dict[str, RowResult] = {}
        sent: list[tuple[PlanRow, list[str]]] = []
        for row in rows:
            values = [row.fields.get(f) or "" for f in self.schema]
            if not any(values):
                results[row.key] = RowResult(
                    row.key, False, "no email or phone to match on", sent=False
                )
            else:
                sent.append((row, values))
        if sent:
            stale = [
                r.previous_dest_id.split(SEPARATOR)
                for r, values in sent
                if r.previous_dest_id and r.previous_dest_id != SEPARATOR.join(values)
            ]
            # identifiers changed: the old hashed tuple leaves the audience, before the new
            # one is added, since Meta removes the user a tuple matches and the old and new
            # tuples of one person usually match the same user (through the email kept)
            if stale:
                self._call("DELETE", stale)
            invalid = self._call("POST", [values for _, values in sent])
            for row, values in sent:
                bad = [v for v in values if v and v in invalid]
                if bad:
                    results[row.key] = RowResult(row.key, False, "invalid hashed identifier")
                else:
                    results[row.key] = RowResult(row.key, True, dest_id=SEPARATOR.join(values))
        return [results[row.key] for row in rows]

    def close(self) -> None:
        self.http.close()
