"""The one small interface every destination implements, and the HTTP plumbing they share.

A destination turns a batch of plan rows into one or more API calls and answers with one
`RowResult` per row. It raises `TransientError` (retry later: 5xx, timeout, 429) or
`BatchRejectedError` (the whole batch is invalid), and `DestinationAuthError` to stop the
run. Retrying, rate limiting, batching and committing are the executor's job, not its.
`DestinationDownError` and `AllRowsRejectedError` are the runner's: a run that delivered
nothing because the destination never took a batch, or refused every row it took.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Protocol

import urllib3
from pydantic import SecretStr

from reverse_etl.config import ConfigError, DestinationConfig, RateLimitConfig, RetryConfig
from reverse_etl.config import SyncConfig as SyncConfig
from reverse_etl.jsonio import dumps as dumps
from reverse_etl.jsonio import loads
from reverse_etl.match import MatchField

Operation = Literal["upsert", "update", "insert", "delete", "suppress", "erase"]
# delete: the row left the segment (mirror, add_remove); suppress: consent for the sync's
# purpose was revoked; erase: a deletion request. All three take the row out of the
# destination (each destination says how); the last two happen in every mode.
REMOVALS: tuple[Operation, ...] = ("delete", "suppress", "erase")


def is_removal(operation: Operation) -> bool:
    return operation in REMOVALS


@dataclass(slots=True)
class PlanRow:
    key: str
    kind: str  # added | changed | retry | removed | suppressed | erased
    row_hash: str | None
    previous_dest_id: str | None
    fields: dict[str, Any]  # destination field -> value (already hashed where configured)
    person_id: str | None = None


@dataclass(frozen=True, slots=True)
class RowResult:
    key: str
    ok: bool
    error: str | None = None
    dest_id: str | None = None  # id the destination knows the row by (for later removal)
    # False: refused before any call (nothing to match on), so the destination refused nothing
    sent: bool = True


@dataclass(frozen=True, slots=True)
class RemoteRecord:
    """What a destination holds for one row, as read back for `tessera sync reconcile`."""

    dest_id: str | None
    fields: dict[str, Any]  # destination field -> value, for the sync's mapped fields


class DestinationError(RuntimeError):
    """A destination call failed; messages never contain credentials."""


class TransientError(DestinationError):
    """Worth retrying: 5xx, timeouts, dropped connections, and 429 (see RateLimitedError)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RateLimitedError(TransientError):
    """429: wait `retry_after` seconds; not a failure of the rows."""


class DestinationDownError(TransientError):
    """A run delivered nothing: every batch failed to reach the destination (refused
    connections, timeouts or 5xx after every retry), or was not sent once
    `retry.max_undelivered_batches` in a row had failed. The run is recorded `failed`, its rows
    stay pending for the next run, and `result` is the run's RunResult. Transient: it passes
    when the destination is back (Dagster retries the step)."""

    def __init__(self, message: str, result: Any = None) -> None:
        super().__init__(message)
        self.result = result


class AllRowsRejectedError(DestinationError):
    """A run delivered nothing because the destination answered and refused every row it
    was sent (per-row or whole-batch 4xx, a bulk job ending Failed). The run is recorded
    `failed`; the rows are in `tessera_sync.errors`, as any rejection, and the next run
    retries them. Not transient: sending the same rows again at once is refused again, so
    Dagster fails the step once. `result` is the run's RunResult."""

    def __init__(self, message: str, result: Any = None) -> None:
        super().__init__(message)
        self.result = result


class BatchRejectedError(DestinationError):
    """The destination refused the whole batch (a 4xx other than auth and 429)."""


class DestinationAuthError(DestinationError):
    """Credentials refused (401/403): no point sending more batches this run."""


class Destination(Protocol):
    name: str
    type: ClassVar[str]
    modes: ClassVar[tuple[str, ...]]
    max_batch_size: ClassVar[int]
    required_credentials: ClassVar[tuple[str, ...]]
    batch_size: int
    concurrency: int
    rate_limit: RateLimitConfig | None
    retry: RetryConfig

    @property
    def retries_in_place(self) -> int: ...

    def send(self, rows: Sequence[PlanRow], operation: Operation) -> list[RowResult]: ...

    def close(self) -> None: ...


class BaseDestination:
    """Common construction: config, the sync being served, secrets, batch size checks."""

    type: ClassVar[str] = ""
    modes: ClassVar[tuple[str, ...]] = ()
    max_batch_size: ClassVar[int] = 1000
    required_credentials: ClassVar[tuple[str, ...]] = ()
    # reconcile: whether what the destination holds can be read back, and why not
    readable: ClassVar[bool] = False
    unreadable_reason: ClassVar[str] = "this destination offers no API to read its rows back"
    read_batch_size: ClassVar[int] = 100
    # Members are removed by their identifiers, which two rows may share (ad audiences):
    # the plan narrows removals to identifiers no staying member holds (audience.py).
    removes_by_identifier: ClassVar[bool] = False

    def __init__(
        self, config: DestinationConfig, sync: SyncConfig, secrets: Mapping[str, SecretStr]
    ) -> None:
        missing = [c for c in self.required_credentials if c not in secrets]
        if missing:
            raise ConfigError(
                f"{config.source_file}: destination {config.name!r} field `credentials` "
                f"needs {', '.join(missing)} (name: ENV_VAR_NAME)"
            )
        batch_size = config.batch_size or self.max_batch_size
        if batch_size > self.max_batch_size:
            raise ConfigError(
                f"{config.source_file}: destination {config.name!r} field `batch_size`: "
                f"{batch_size} exceeds the {self.type} limit of {self.max_batch_size}"
            )
        self.config = config
        self.sync = sync
        self.name = config.name
        self.batch_size = batch_size
        self.concurrency = config.concurrency
        self.rate_limit = config.rate_limit
        self.retry = config.retry
        self._secrets = dict(secrets)
        self._retries_in_place = 0
        self._retries_lock = threading.Lock()

    @classmethod
    def check_sync(cls, sync: SyncConfig) -> None:
        """Raise ConfigError if `sync` cannot work with this destination type."""

    @classmethod
    def match_field(cls, sync: SyncConfig) -> MatchField | None:
        """The field this destination knows a record by, when two rows of `sync` with one
        value there would be one record (match.py). None: rows are separate whatever their
        values (audiences are sets of hashed identifiers; files and webhooks take every row)."""
        return None

    def read(self, rows: Sequence[PlanRow]) -> dict[str, RemoteRecord | None]:
        """Row key -> what the destination holds for it (None: nothing), by the id we know
        (`previous_dest_id`) or the row's natural key. Only for `readable` destinations."""
        raise NotImplementedError(self.unreadable_reason)

    def comparable(self, row: PlanRow) -> dict[str, Any]:
        """The mapped fields as this destination would store them from `row` (what a read
        must give back for the row to be in sync); fields never sent are left out."""
        return clean_properties(row.fields, self.sync.send_nulls)

    def note_retry(self) -> None:
        """Count a call the destination repeated itself (polls, idempotent writes)."""
        with self._retries_lock:
            self._retries_in_place += 1

    @property
    def retries_in_place(self) -> int:
        with self._retries_lock:
            return self._retries_in_place

    def redact(self, text: str) -> str:
        for secret in self._secrets.values():
            value = secret.get_secret_value()
            if value:
                text = text.replace(value, "***")
        return text

    def http_client(self) -> HttpClient:
        """A pooled client for this destination's base URL, timeout and concurrency, whose
        errors have the credentials redacted."""
        return HttpClient(
            self.config.base_url,
            timeout=self.config.timeout_seconds,
            pool_size=self.concurrency,
            redact=self.redact,
        )

    def close(self) -> None:
        """Release connections; the default has none."""


def clean_properties(fields: Mapping[str, Any], send_nulls: bool) -> dict[str, Any]:
    """JSON-ready values; nulls dropped unless the sync asks to overwrite with them."""
    out: dict[str, Any] = {}
    for name, value in fields.items():
        if value is None and not send_nulls:
            continue
        if value is not None and not isinstance(value, str | int | float | bool):
            value = str(value)
        out[name] = value
    return out


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return loads(self.body) if self.body else None


class HttpClient:
    """Keep-alive HTTP with status codes mapped to the destination error types.

    urllib3's own retries are off: the executor owns retrying so that 429s, backoff and
    accounting are the same for every destination.
    """

    def __init__(self, base_url: str, timeout: float, pool_size: int, redact: Any) -> None:
        self.base_url = base_url.rstrip("/")
        self._redact = redact
        self._pool = urllib3.PoolManager(
            num_pools=4,
            maxsize=pool_size,
            block=False,
            retries=False,
            timeout=urllib3.Timeout(connect=timeout, read=timeout),
        )

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None,
        headers: Mapping[str, str],
        what: str,
    ) -> HttpResponse:
        url = self.base_url + path
        try:
            raw = self._pool.request(method, url, body=body, headers=dict(headers))
        except (urllib3.exceptions.TimeoutError, urllib3.exceptions.ProtocolError) as exc:
            raise TransientError(f"{what}: {type(exc).__name__} talking to {url}") from None
        except urllib3.exceptions.HTTPError as exc:
            raise TransientError(f"{what}: {type(exc).__name__} talking to {url}") from None
        response = HttpResponse(raw.status, dict(raw.headers), raw.data)
        if raw.status == 429:
            raise RateLimitedError(
                f"{what}: 429 rate limited", retry_after=_retry_after(raw.headers)
            )
        if raw.status >= 500:
            raise TransientError(f"{what}: HTTP {raw.status} {self._snippet(response)}")
        if raw.status in (401, 403):
            raise DestinationAuthError(
                f"{what}: HTTP {raw.status} credentials refused by {self.base_url} "
                f"{self._snippet(response)}"
            )
        if raw.status >= 400:
            raise BatchRejectedError(f"{what}: HTTP {raw.status} {self._snippet(response)}")
        return response

    def _snippet(self, response: HttpResponse) -> str:
        text = response.body[:300].decode("utf-8", errors="replace")
        return self._redact(text)

    def close(self) -> None:
        self._pool.clear()


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("Retry-After") or headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: fall back to backoff
