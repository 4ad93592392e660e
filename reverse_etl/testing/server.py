"""Threaded HTTP server on 127.0.0.1 shared by the emulators: auth, rate limit, faults, log.

Each emulator is an `EmulatorApp` subclass that validates a request and applies it to its
in-memory state. The server wraps every request with the same contract enforcement:
bearer-token (or signature) auth, a sliding-window rate limit answering 429 + Retry-After,
injected 5xx and timeouts (by probability, by an explicit schedule, or for every other
distinct request body: a destination that takes every other batch), optional latency,
and a record of the request. An outage is real too: `handle.go_down()` (or
`Faults.down_after_requests`) closes the listening socket, so connections are refused, and
drops open ones unanswered; `handle.come_back()` listens again on the same port, same state.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from reverse_etl.jsonio import dumps, loads


@dataclass
class Faults:
    """What can go wrong; change fields on a running emulator (handle.app.faults)."""

    rate_limit_requests: int | None = None  # requests allowed per window; None = no limit
    rate_limit_window_seconds: float = 10.0
    retry_after_seconds: float | None = None  # None: seconds until the window frees up
    error_rate: float = 0.0  # probability of a 5xx
    timeout_rate: float = 0.0  # probability of hanging past the client's timeout
    hang_seconds: float = 2.0
    applied_before_failure: float = 0.5  # probability a failed request was applied anyway
    latency_seconds: float = 0.0
    schedule: list[str] = field(default_factory=list)  # forced next outcomes: 429|500|timeout
    seed: int | None = None
    # once this many requests are answered the destination goes down (see handle.go_down)
    down_after_requests: int | None = None
    # 500|timeout: the 1st, 3rd, 5th ... distinct request body fails that way every time it
    # comes (its retries too), the others are answered; whichever worker sends them
    fail_every_other_body: str | None = None


@dataclass(frozen=True)
class RequestRecord:
    method: str
    path: str
    status: int
    rows: int
    at: float


@dataclass
class Response:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    rows: int = 0


class EmulatorApp:
    """Base emulator: subclasses implement `authorised` and `process`."""

    kind = "base"

    def __init__(self, token: str, faults: Faults | None = None) -> None:
        self.token = token
        self.faults = faults or Faults()
        self.requests: list[RequestRecord] = []
        # every row received, per the destination's own key (email, external id, hashed
        # identifiers ...): writes and removals apart, so tests can count resends exactly
        self.received: Counter[str] = Counter()
        self.removals_received: Counter[str] = Counter()
        self.lock = threading.Lock()  # guards state and the request log
        self._window: deque[float] = deque()
        self._bodies: dict[bytes, int] = {}  # distinct request bodies, in the order first seen
        self._rng = random.Random(self.faults.seed)

    # subclasses ---------------------------------------------------------------------
    def authorised(self, headers: dict[str, str], body: bytes) -> bool:
        return headers.get("authorization") == f"Bearer {self.token}"

    def process(self, method: str, path: str, body: Any, raw: bytes) -> Response:
        raise NotImplementedError

    def summary(self) -> dict[str, Any]:
        return {}

    def count(self, key: str, removal: bool = False) -> None:
        """Record one row received for `key` (call with the lock held, from `process`)."""
        (self.removals_received if removal else self.received)[str(key)] += 1

    def resends(self) -> int:
        """Rows received for a key beyond the first (writes)."""
        with self.lock:
            return sum(n - 1 for n in self.received.values() if n > 1)

    def parse_body(self, headers: dict[str, str], raw: bytes) -> Any:
        """The request body as the app wants it (JSON by default); ValueError if malformed."""
        return loads(raw) if raw else None

    # shared contract ------------------------------------------------------------------
    def _rate_limited(self, now: float) -> float | None:
        limit = self.faults.rate_limit_requests
        if limit is None:
            return None
        window = self.faults.rate_limit_window_seconds
        while self._window and self._window[0] <= now - window:
            self._window.popleft()
        if len(self._window) >= limit:
            if self.faults.retry_after_seconds is not None:
                return self.faults.retry_after_seconds
            return max(0.0, self._window[0] + window - now)
        self._window.append(now)
        return None

    def _forced(self, raw: bytes) -> str | None:
        if self.faults.schedule:
            return self.faults.schedule.pop(0)
        if self.faults.fail_every_other_body:
            seen = self._bodies.setdefault(raw, len(self._bodies))
            return self.faults.fail_every_other_body if seen % 2 == 0 else None
        roll = self._rng.random()
        if roll < self.faults.error_rate:
            return "500"
        if roll < self.faults.error_rate + self.faults.timeout_rate:
            return "timeout"
        return None

    def dispatch(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> Response:
        if self.faults.latency_seconds and not path.startswith("/_emulator/"):
            time.sleep(self.faults.latency_seconds)
        if method == "GET" and path == "/_emulator/summary":
            with self.lock:
                return Response(200, self.summary())
        if method == "POST" and path == "/_emulator/latency":  # benchmarks slow it down
            self.faults.latency_seconds = float(loads(raw or b"0"))
            return Response(200, {"latency_seconds": self.faults.latency_seconds})
        if method == "GET" and path == "/_emulator/received":
            with self.lock:
                return Response(
                    200,
                    {"received": dict(self.received), "removals": dict(self.removals_received)},
                )
        if not self.authorised(headers, raw):
            return self._record(method, path, Response(401, {"message": "authentication failed"}))
        with self.lock:
            wait = self._rate_limited(time.monotonic())
            forced = self._forced(raw) if wait is None else None
            apply_anyway = self._rng.random() < self.faults.applied_before_failure
        if wait is not None or forced == "429":
            seconds = wait if wait is not None else (self.faults.retry_after_seconds or 1.0)
            retry_after = str(math.ceil(seconds)) if seconds >= 1 else f"{seconds:.3f}"
            response = Response(
                429, {"status": "error", "category": "RATE_LIMITS"}, {"Retry-After": retry_after}
            )
            return self._record(method, path, response)
        try:
            body = self.parse_body(headers, raw)
        except ValueError:
            return self._record(method, path, Response(400, {"message": "body is not JSON"}))
        if forced in ("500", "timeout"):
            if apply_anyway:  # the destination did the work but the answer is lost
                with self.lock:
                    self.process(method, path, body, raw)
            if forced == "timeout":
                time.sleep(self.faults.hang_seconds)
                return self._record(method, path, Response(504, {"message": "gateway timeout"}))
            return self._record(method, path, Response(503, {"message": "service unavailable"}))
        with self.lock:
            response = self.process(method, path, body, raw)
        return self._record(method, path, response)

    def _record(self, method: str, path: str, response: Response) -> Response:
        with self.lock:
            self.requests.append(
                RequestRecord(method, path, response.status, response.rows, time.time())
            )
        return response

    def goes_down_now(self) -> bool:
        """Whether the request just answered is the last before the outage (once)."""
        with self.lock:
            limit = self.faults.down_after_requests
            if limit is None or len(self.requests) < limit:
                return False
            self.faults.down_after_requests = None
            return True

    def statuses(self) -> dict[int, int]:
        with self.lock:
            counts: dict[int, int] = {}
            for record in self.requests:
                counts[record.status] = counts.get(record.status, 0) + 1
            return counts


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are separate writes: avoid 40 ms stalls
    server: _Server

    def _handle(self) -> None:
        if self.server.down.is_set():  # a connection opened before the outage: no answer
            self.close_connection = True
            return
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        url = urlsplit(self.path)
        path = url.path
        headers[":query"] = url.query  # pseudo-header: apps that take query parameters read it
        response = self.server.app.dispatch(self.command, path, headers, raw)
        if self.server.app.goes_down_now():
            # down before this answer leaves: whatever the client sends next finds no server
            response.headers["Connection"] = "close"
            self.server.go_down()
        if isinstance(response.body, bytes):  # already encoded (e.g. CSV); headers name the type
            payload = response.body
        else:
            payload = b"" if response.body is None else dumps(response.body)
        try:
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            if "Content-Type" not in response.headers:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (an injected timeout)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        return


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: EmulatorApp) -> None:
        super().__init__(address, _Handler)
        self.app = app
        self.down = threading.Event()

    def go_down(self) -> None:
        """Stop listening (new connections are refused); open ones get no more answers.
        Never call it from the thread running `serve_forever`."""
        if self.down.is_set():
            return
        self.down.set()
        self.shutdown()
        self.server_close()


@dataclass
class EmulatorHandle:
    app: Any
    base_url: str
    _server: _Server
    _thread: threading.Thread

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def go_down(self) -> None:
        """The destination is down: connections to `base_url` are refused until
        `come_back()`; the app keeps its state."""
        self._server.go_down()
        self._thread.join(timeout=5)

    def come_back(self) -> None:
        """Listen again on the same port with the same app (and its state)."""
        self.go_down()
        port = int(self.base_url.rsplit(":", 1)[1])
        self._server, self._thread = _serve(self.app, port)

    def __enter__(self) -> EmulatorHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def make_app(kind: str, token: str, faults: Faults | None = None) -> EmulatorApp:
    from reverse_etl.testing.alerts import SlackWebhookEmulator
    from reverse_etl.testing.braze import BrazeEmulator
    from reverse_etl.testing.google_ads import GoogleAdsEmulator
    from reverse_etl.testing.hubspot import HubSpotEmulator
    from reverse_etl.testing.meta import MetaAudienceEmulator
    from reverse_etl.testing.salesforce import SalesforceEmulator
    from reverse_etl.testing.webhook import WebhookEmulator

    apps: dict[str, type[EmulatorApp]] = {
        "hubspot": HubSpotEmulator,
        "meta_audience": MetaAudienceEmulator,
        "webhook": WebhookEmulator,
        "salesforce": SalesforceEmulator,
        "braze": BrazeEmulator,
        "google_ads": GoogleAdsEmulator,
        "slack": SlackWebhookEmulator,
    }
    if kind not in apps:
        raise ValueError(f"no emulator for {kind!r} (have: {', '.join(apps)})")
    return apps[kind](token=token, faults=faults)


def start_emulator(
    kind: str, token: str = "test-token", faults: Faults | None = None, port: int = 0
) -> EmulatorHandle:
    """Serve an emulator on 127.0.0.1 in a daemon thread; returns its base URL and state."""
    app = make_app(kind, token, faults)
    server, thread = _serve(app, port)
    host, bound_port = server.server_address[:2]
    return EmulatorHandle(app, f"http://{host}:{bound_port}", server, thread)


def _serve(app: EmulatorApp, port: int) -> tuple[_Server, threading.Thread]:
    server = _Server(("127.0.0.1", port), app)
    # a short poll interval: going down (shutdown) takes at most that long, well inside a
    # client's timeout while the request that triggered it waits for its answer
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.05},
        name=f"emulator-{app.kind}",
        daemon=True,
    )
    thread.start()
    return server, thread
