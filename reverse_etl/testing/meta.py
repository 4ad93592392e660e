"""Meta Custom Audiences emulator: `POST` (add) and `DELETE` (remove) `/{audience_id}/users`.

Contract enforced: bearer token, `{"payload": {"schema": [...], "data": [[...]]}}` with
known schema keys, at most 10,000 rows, each row as long as the schema; values must be
lower-case SHA-256 hex (or empty), otherwise the row is counted invalid and sampled back in
`invalid_entry_samples`. Members are the hashed identifier tuples per audience. Meta
matches each row to a user through any of its identifiers and removes that user, so a
removal takes out every member tuple that shares an identifier with it (same schema key).
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from reverse_etl.testing.server import EmulatorApp, Response

MAX_ROWS = 10_000
SCHEMA_KEYS = {"EMAIL_SHA256", "PHONE_SHA256", "EMAIL", "PHONE"}
HEX64 = re.compile(r"^[0-9a-f]{64}$")
PATH = re.compile(r"^/(?:v[0-9.]+/)?([0-9]+)/users$")


def _error(message: str) -> Response:
    return Response(400, {"error": {"message": message, "type": "OAuthException", "code": 100}})


class MetaAudienceEmulator(EmulatorApp):
    kind = "meta_audience"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.members: dict[str, set[tuple[str, ...]]] = {}

    def summary(self) -> dict[str, Any]:
        return {
            "audiences": {k: len(v) for k, v in self.members.items()},
            "requests": len(self.requests),
        }

    def process(self, method: str, path: str, body: Any, raw: bytes) -> Response:
        match = PATH.match(path)
        if not match or method not in ("POST", "DELETE"):
            return Response(404, {"error": {"message": f"no route {method} {path}"}})
        audience = match.group(1)
        payload = body.get("payload") if isinstance(body, dict) else None
        if not isinstance(payload, dict):
            return _error("missing `payload` object")
        schema = payload.get("schema")
        schema = [schema] if isinstance(schema, str) else schema
        data = payload.get("data")
        if not isinstance(schema, list) or not schema or set(schema) - SCHEMA_KEYS:
            return _error(f"invalid schema {schema!r}")
        if not isinstance(data, list) or not data:
            return _error("`data` must be a non-empty array")
        if len(data) > MAX_ROWS:
            return _error(f"{len(data)} rows exceed the limit of {MAX_ROWS} per call")
        members = self.members.setdefault(audience, set())
        invalid: dict[str, str] = {}
        for row in data:
            row = [row] if isinstance(row, str) else row
            if not isinstance(row, list) or len(row) != len(schema):
                return _error("every data row must have one value per schema key")
            bad = [v for v in row if v and not (isinstance(v, str) and HEX64.match(v))]
            if bad or not any(row):
                for value in bad or [""]:
                    invalid[str(value)] = "value is not a lower-case SHA-256 hex digest"
                continue
            self.count("|".join(row), removal=method != "POST")
            if method == "POST":
                members.add(tuple(row))
            else:
                matched = [
                    m
                    for m in members
                    if len(m) == len(row) and any(v and v == w for v, w in zip(row, m, strict=True))
                ]
                members.difference_update(matched)
        return Response(
            200,
            {
                "audience_id": audience,
                "session_id": uuid.uuid4().int % 10**15,
                "num_received": len(data),
                "num_invalid_entries": len(invalid),
                "invalid_entry_samples": invalid,
            },
            rows=len(data),
        )
