"""Generic signed webhook receiver: verifies the HMAC signature and applies the rows.

Rejects (401) a missing or wrong signature or a timestamp more than 5 minutes old; rows
whose `email` field is not an email are rejected per row in `{"results": [...]}`.
"""

from __future__ import annotations

import hmac
import re
import time
from typing import Any

from reverse_etl.destinations.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from reverse_etl.testing.server import EmulatorApp, Response

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_ROWS = 1000
TOLERANCE_SECONDS = 300


class WebhookEmulator(EmulatorApp):
    kind = "webhook"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.records: dict[str, dict[str, Any]] = {}
        self.deliveries = 0

    def summary(self) -> dict[str, Any]:
        return {"records": len(self.records), "requests": len(self.requests)}

    def authorised(self, headers: dict[str, str], body: bytes) -> bool:
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
        if not isinstance(rows, list) or operation not in ("upsert", "update", "insert", "delete"):
            return Response(400, {"message": "need `rows` and a known `operation`"})
        if len(rows) > MAX_ROWS:
            return Response(400, {"message": f"more than {MAX_ROWS} rows"})
        results = []
        for row in rows:
            key = str(row.get("key"))
            fields = row.get("fields") or {}
            email = fields.get("email")
            if operation != "delete" and email is not None and not EMAIL.match(str(email).strip()):
                results.append({"key": key, "ok": False, "error": "invalid email"})
                continue
            if operation == "delete":
                self.records.pop(key, None)
            else:
                self.records[key] = fields
            results.append({"key": key, "ok": True})
        self.deliveries += 1
        return Response(200, {"results": results}, rows=len(rows))
