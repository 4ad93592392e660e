"""Generic webhook: JSON batches signed with HMAC-SHA256 so the receiver can verify them.

Headers: `X-Tessera-Timestamp` (unix seconds) and `X-Tessera-Signature:
sha256=<hex hmac of "<timestamp>.<body>">` keyed by the secret from the environment.
A 2xx acknowledges the batch; an optional `{"results": [{"key", "ok", "error"}]}` body
reports per-row rejections.
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
)

SIGNATURE_HEADER = "X-Tessera-Signature"
TIMESTAMP_HEADER = "X-Tessera-Timestamp"


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class Webhook(BaseDestination):
    type = "webhook"
    modes = ("upsert", "update", "insert", "mirror", "add_remove")
    max_batch_size = 1000
    required_credentials = ("signing_secret",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.http = self.http_client()

    def send(self, rows: Sequence[PlanRow], operation: Operation) -> list[RowResult]:
        items = []
        for row in rows:
            item: dict[str, Any] = {"key": row.key}
            if operation != "delete":
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
