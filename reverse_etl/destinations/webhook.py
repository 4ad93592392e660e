"""Generic webhook: JSON batches signed with HMAC-SHA256 so the receiver can verify them.

Headers: `X-Tessera-Timestamp` (unix seconds) and `X-Tessera-Signature:
sha256=<hex hmac of "<timestamp>.<body>">` keyed by the secret from the environment.
A 2xx acknowledges the batch; an optional `{"results": [{"key", "ok", "error"}]}` body
reports per-row rejections.

Idempotency: every row carries an `event_id`, a hash of (sync, key, operation, row hash)
that is the same whenever the same version of a row is sent again, in this run (a retried
batch) or the next (a resend after a crash); the request carries an `Idempotency-Key`
header derived from its rows' event ids. A receiver that remembers event ids it applied
sees each change once. Operations: upsert / update / insert, `delete` (left a mirror
segment), `suppress` (consent revoked) and `erase` (a deletion request; no fields are sent).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Sequence
from typing import Any

from reverse_etl.destinations.base import (
    BaseDestination,
    Operation,
    PlanRow,
    RowResult,
    clean_properties,
    dumps,
    is_removal,
)

SIGNATURE_HEADER = "X-Tessera-Signature"
TIMESTAMP_HEADER = "X-Tessera-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"


def event_id(sync_name: str, row: PlanRow, operation: str) -> str:
    """Stable per version of a row: the same change sent twice has the same id."""
    parts = (sync_name, row.key, operation, row.row_hash or "")
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def idempotency_key(event_ids: list[str]) -> str:
    return hashlib.sha256(",".join(sorted(event_ids)).encode()).hexdigest()


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class Webhook(BaseDestination):
    type = "webhook"
    modes = ("upsert", "update", "insert", "mirror", "add_remove")
    max_batch_size = 1000
    unreadable_reason = "a webhook receiver has no read API Tessera could rely on"
    required_credentials = ("signing_secret",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.http = self.http_client()

    def send(self, rows: Sequence[PlanRow], operation: Operation) -> list[RowResult]:
        items = []
        for row in rows:
            item: dict[str, Any] = {
                "key": row.key,
                "event_id": event_id(self.sync.name, row, operation),
            }
            if not is_removal(operation):
                item["fields"] = clean_properties(row.fields, self.sync.send_nulls)
            items.append(item)
        body = dumps(
            {
                "sync": self.sync.name,
                "object": self.sync.object,
                "operation": operation,
                "rows": items,
            }
        )
        timestamp = str(int(time.time()))
        secret = self._secrets["signing_secret"].get_secret_value().encode()
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(secret, timestamp, body),
            IDEMPOTENCY_HEADER: idempotency_key([item["event_id"] for item in items]),
        }
        response = self.http.request("POST", "", body, headers, what="webhook post")
        rejected: dict[str, str] = {}
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if isinstance(payload, dict):
            for result in payload.get("results") or []:
                if not result.get("ok", True):
                    rejected[str(result.get("key"))] = self.redact(
                        str(result.get("error") or "rejected by webhook")
                    )
        return [
            RowResult(row.key, False, rejected[row.key])
            if row.key in rejected
            else RowResult(row.key, True, dest_id=row.key)
            for row in rows
        ]

    def close(self) -> None:
        self.http.close()
