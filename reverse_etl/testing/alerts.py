"""A Slack incoming-webhook emulator: `POST /services/<token>` with a JSON message.

Slack's incoming webhooks carry their secret in the URL (no auth header), answer `ok` on
success, 404 `no_service` for an unknown URL and 400 `invalid_payload` when neither `text`
nor `blocks` is given. `messages` keeps every accepted payload.
"""

from __future__ import annotations

from typing import Any

from reverse_etl.testing.server import EmulatorApp, Response


class SlackWebhookEmulator(EmulatorApp):
    kind = "slack"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.messages: list[dict[str, Any]] = []

    def authorised(self, headers: dict[str, str], body: bytes) -> bool:
        return True  # the secret is the URL's path, checked in process()

    def process(self, method: str, path: str, body: Any, raw: bytes) -> Response:
        if method != "POST" or path != f"/services/{self.token}":
            return Response(404, b"no_service", {"Content-Type": "text/plain"})
        if not isinstance(body, dict) or not (body.get("text") or body.get("blocks")):
            return Response(400, b"invalid_payload", {"Content-Type": "text/plain"})
        self.messages.append(body)
        return Response(200, b"ok", {"Content-Type": "text/plain"})

    def summary(self) -> dict[str, Any]:
        return {"messages": len(self.messages)}
