"""How a step fails in the Dagster UI: a configuration error fails once, with its cause as the
run's message; only a transient error (a locked DuckDB file, a dropped connection, a 5xx that
outlived the client's own retries) is retried.

Dagster retries a step under its `RetryPolicy` whatever it raised, and once the retries are
spent the run page says only `Exceeded max_retries of 2`. A policy also turns a cancelled
run's interrupt into a retry, so a step the user stopped starts again. So warehouse steps
carry no RetryPolicy; their body runs inside `step_failures`:

    @asset(...)  # no retry_policy
    def my_asset(context: AssetExecutionContext, warehouse: WarehouseResource):
        with step_failures(context, "sync hubspot_lapsed_vips"):
            ...

- a transient error raises `dagster.RetryRequested` while attempts remain (twice, 10 s then
  20 s later);
- on the last attempt, and for every other error (missing credential, bad YAML, an invalid
  segment, a failing dbt test, a bug), it becomes `dagster.Failure(description=...,
  allow_retries=False)`, whose description is what the run page shows. The original
  exception stays attached as the cause, with its traceback, in the step's log;
- an interrupt (the run cancelled, Ctrl-C) is not an Exception and passes through untouched.

A step that raises `Failure` itself keeps its description. Code that knows an error is
transient and has no better type raises `TransientStepError`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dagster import AssetKey, AssetsDefinition, Failure, RetryRequested, asset

# A writer that finds the DuckDB file locked (a sensor tick, a CLI run) tries again shortly.
TRANSIENT_RETRIES = 2
TRANSIENT_WAIT_SECONDS = 10.0

_TRANSIENT_WORDS = (
    # DuckDB: "Could not set lock on file ...: Conflicting lock is held in ..."
    "could not set lock on file",
    "conflicting lock",
)


_OUR_PACKAGES = ("tessera", "ml", "reverse_etl", "orchestration")


class TransientStepError(RuntimeError):
    """An error worth retrying the step for (the caller knows it passes)."""


def is_transient(exc: BaseException) -> bool:
    """True for errors that pass by themselves: locks held by another process, dropped
    connections, timeouts, a destination's 5xx or 429 after the client's own retries."""
    for err in _chain(exc):
        if isinstance(err, TransientStepError | ConnectionError | TimeoutError):
            return True
        if _is_requests_transient(err) or _is_sync_transient(err):
            return True
        text = str(err).lower()
        if any(word in text for word in _TRANSIENT_WORDS):
            return True
    return False


def describe(exc: BaseException) -> str:
    """One readable sentence for the run page: our own errors already name what is wrong and
    where; anything else keeps its type so a bug is recognisable."""
    message = str(exc).strip() or repr(exc)
    if type(exc).__module__.split(".")[0] in _OUR_PACKAGES:
        return message
    return f"{type(exc).__name__}: {message}"


def attempt_number(context: Any) -> int:
    """0 on the first attempt, 1 on the first retry ... (asset and asset-check contexts)."""
    return int(getattr(context, "retry_number", 0) or 0)


@contextmanager
def step_failures(
    context: Any,
    what: str,
    max_retries: int = TRANSIENT_RETRIES,
    wait_seconds: float = TRANSIENT_WAIT_SECONDS,
) -> Iterator[None]:
    """Turn whatever the body raises into the failure the run page should show (module doc).

    `what` names the step for the message ("dbt build", "sync hubspot_lapsed_vips").
    """
    try:
        yield
    except (RetryRequested, Failure):
        raise
    except Exception as exc:
        raise step_failure(context, what, exc, max_retries, wait_seconds) from exc


def step_failure(
    context: Any,
    what: str,
    exc: Exception,
    max_retries: int = TRANSIENT_RETRIES,
    wait_seconds: float = TRANSIENT_WAIT_SECONDS,
) -> RetryRequested | Failure:
    """What `step_failures` raises for `exc`, for a step that catches errors itself:
    `raise step_failure(context, "sync x", exc) from exc`."""
    attempt = attempt_number(context)
    transient = is_transient(exc)
    if transient and attempt < max_retries:
        return RetryRequested(max_retries=max_retries, seconds_to_wait=wait_seconds * (attempt + 1))
    suffix = f" (gave up after {attempt + 1} attempts)" if transient else ""
    return Failure(description=f"{what} failed: {describe(exc)}{suffix}", allow_retries=False)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _is_requests_transient(exc: BaseException) -> bool:
    try:
        import requests
    except ImportError:  # pragma: no cover - requests ships with dagster
        return False
    return isinstance(exc, requests.ConnectionError | requests.Timeout)


def _is_sync_transient(exc: BaseException) -> bool:
    from reverse_etl.destinations.base import TransientError
    from reverse_etl.lock import SyncLockedError

    return isinstance(exc, TransientError | SyncLockedError)


def configuration_failure_asset(
    key: AssetKey, group: str, what: str, error: Exception
) -> AssetsDefinition:
    """An asset standing in for steps whose configuration does not load (a sync YAML that does
    not parse). The rest of the definitions load and run, and this step fails once, with the
    error (file, line, column) as the run's message, instead of the code location failing to
    load and taking every job with it."""
    message = f"{what} failed: {describe(error)}"

    @asset(key=key, group_name=group, description=f"Not loaded: {message}")
    def configuration_error() -> None:
        raise Failure(description=message, allow_retries=False)

    return configuration_error
