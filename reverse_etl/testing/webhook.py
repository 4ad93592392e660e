"""Generic signed webhook receiver: verifies the HMAC signature and applies the rows.

Rejects (401) a missing or wrong signature or a timestamp more than 5 minutes old; rows
whose `email` field is not an email are rejected per row in `{"results": [...]}`.

Behaves as a receiver should with Tessera's idempotency: a row whose `event_id` was
applied before is acknowledged and not applied again (`duplicates` counts them), which
is how a resend after a crash is absorbed downstream. `erase` and `suppress` remove the
record like `delete`; `erased` lists the keys erased.
"""

from __future__ import annotations

import hmac
import re
import threading
import time
from typing import Any

from reverse_etl.destinations.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from reverse_etl.testing.server import EmulatorApp, Response

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_ROWS = 1000
OPERATIONS = ("upsert", "update", "insert", "delete", "suppress", "erase")
REMOVALS = ("delete", "suppress", "erase")
TOLERANCE_SECONDS = 300


class WebhookEmulator(EmulatorApp):
    kind = "webhook"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.records: dict[str, dict[str, Any]] = {}
        self.deliveries = 0
        self.applied_events: set[str] = set()
        self.duplicates = 0
        self.erased: set[str] = set()
        self.idempotency_keys: list[str] = []
        self._request = threading.local()

    def summary(self) -> dict[str, Any]:
        return {
            "records": len(self.records),
            "requests": len(self.requests),
            "duplicates": self.duplicates,
        }

    def authorised(self, headers: dict[str, str], body: bytes) -> bool:
        self._request.headers = headers  # this thread's request, read by process()
        timestamp = headers.get(TIMESTAMP_HEADER.lower(), "")
        signature = headers.get(SIGNATURE_HEADER.lower(), "")
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > TOLERANCE_SECONDS:
            return False
        expected = sign(self.token.encode(), timestamp, body)
        return hmac.compare_digest(expected, signature)

    def process(self, method: str, path: str, body: Any, raw: bytes) -> Response:
        if method != "POST" or not isinstance(body, dict):
            return Response(400, {"message": "POST a JSON object"})
        rows = body.get("rows")
        operation = body.get("operation")
        if not isinstance(rows, list) or operation not in OPERATIONS:
            return Response(400, {"message": "need `rows` and a known `operation`"})
        if len(rows) > MAX_ROWS:
            return Response(400, {"message": f"more than {MAX_ROWS} rows"})
        self.idempotency_keys.append(str(self._request.headers.get("idempotency-key", "")))
        removal = operation in REMOVALS
        results = []
        for row in rows:
            key = str(row.get("key"))
            fields = row.get("fields") or {}
            email = fields.get("email")
            self.count(key, removal=removal)
            if not removal and email is not None and not EMAIL.match(str(email).strip()):
                results.append({"key": key, "ok": False, "error": "invalid email"})
                continue
            event = row.get("event_id")
            if event and event in self.applied_events:
                self.duplicates += 1
                results.append({"key": key, "ok": True})
                continue
            if removal:
                self.records.pop(key, None)
                if operation == "erase":
                    self.erased.add(key)
            else:
                self.records[key] = fields
            if event:
                self.applied_events.add(event)
            results.append({"key": key, "ok": True})
        self.deliveries += 1
        return Response(200, {"results": results}, rows=len(rows))
