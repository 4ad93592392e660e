"""JSON encode/decode for request bodies: orjson when installed (pinned with dagster-dbt),
the standard library otherwise. Both produce compact UTF-8 bytes."""

from __future__ import annotations

import json
from typing import Any

try:
    import orjson
except ImportError:  # pragma: no cover - orjson ships with the pinned dependency set
    orjson = None


def dumps(payload: Any) -> bytes:
    if orjson is not None:
        return orjson.dumps(payload, default=str)
    return json.dumps(payload, separators=(",", ":"), default=str).encode()


def loads(data: bytes | str) -> Any:
    if orjson is not None:
        return orjson.loads(data)
    return json.loads(data)
