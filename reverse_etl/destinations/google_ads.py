"""Google Ads Customer Match: add and remove members of a customer list through an
OfflineUserDataJob (REST: create the job, `:addOperations`, `:run`, poll the operation).

Identifiers arrive normalised and SHA-256 hashed by the planner in SQL (`email_google`,
`phone_e164` rules), so raw PII never leaves the warehouse. One row is one `UserData` with a
`UserIdentifier` per present value (`hashedEmail`, `hashedPhoneNumber`); a row's `dest_id`
is its identifier tuple, so a removal or a changed identifier removes exactly what was
added. Limits (Google Ads API docs): at most 100,000 identifiers per `addOperations`
request and 20 per `UserData`; Google advises ~10,000 operations per request and one job
at a time per list (parallel jobs fail with CONCURRENT_MODIFICATION), so this destination
runs one worker. `enablePartialFailure` reports bad operations by index; those rows are
rejected and the rest are applied. Rows are acknowledged only when the job has finished.

Creating a job and adding operations to it are retried in place: a repeated create leaves
an empty job that is never run, and a repeated `addOperations` adds the same members to a
set. Starting the job is not: if `:run` fails the executor retries the whole batch with a
new job, because a lost answer cannot tell us whether the first one started.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from reverse_etl.audience import SEPARATOR
from reverse_etl.config import ConfigError
from reverse_etl.destinations.async_jobs import PollPolicy, poll_until, retry_in_place
from reverse_etl.destinations.base import (
    BaseDestination,
    DestinationError,
    Operation,
    PlanRow,
    RowResult,
    SyncConfig,
    TransientError,
    dumps,
    is_removal,
)

IDENTIFIER_RULES = {"hashedEmail": "email_google", "hashedPhoneNumber": "phone_e164"}
OPERATIONS_PER_REQUEST = 10_000  # Google's advice; 2 identifiers each stays far below 100,000
MAX_IDENTIFIERS_PER_REQUEST = 100_000
DIGITS = re.compile(r"^[0-9]+$")
API_VERSION = re.compile(r"^v[0-9]+$")
DESTINATION_OPTIONS = (
    "customer_id",
    "login_customer_id",
    "api_version",
    "poll_seconds",
    "max_poll_seconds",
    "job_timeout_seconds",
)


def _customer_id(value: Any) -> str:
    return str(value).replace("-", "")


class GoogleAdsCustomerMatch(BaseDestination):
    type = "google_ads"
    modes = ("add_remove",)
    max_batch_size = 100_000
    removes_by_identifier = True
    unreadable_reason = "Customer Match lists cannot be read back member by member (only sizes)"
    default_batch_size = 50_000  # rows per job: few large jobs, as Google advises
    required_credentials = ("access_token", "developer_token")
    documented_rate_limit = "100,000 identifiers / request; one running job per list"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.config.batch_size is None:
            self.batch_size = self.default_batch_size
        self.concurrency = 1  # concurrent jobs on one list fail with CONCURRENT_MODIFICATION
        options = self.config.options
        where = f"{self.config.source_file}: destination {self.name!r} field `options`"
        unknown = sorted(set(options) - set(DESTINATION_OPTIONS))
        if unknown:
            raise ConfigError(
                f"{where}: unknown option(s) {', '.join(unknown)} "
                f"(known: {', '.join(DESTINATION_OPTIONS)})"
            )
        self.customer_id = _customer_id(options.get("customer_id", ""))
        if not DIGITS.match(self.customer_id):
            raise ConfigError(f"{where}.customer_id: the Google Ads customer id (digits) is needed")
        login = options.get("login_customer_id")
        self.login_customer_id = _customer_id(login) if login is not None else None
        if self.login_customer_id is not None and not DIGITS.match(self.login_customer_id):
            raise ConfigError(f"{where}.login_customer_id must be digits")
        version = str(options.get("api_version", "v19"))
        if not API_VERSION.match(version):
            raise ConfigError(f"{where}.api_version: {version!r} is not like `v19`")
        try:
            self.poll = PollPolicy(
                float(options.get("poll_seconds", 5.0)),
                float(options.get("max_poll_seconds", 60.0)),
                float(options.get("job_timeout_seconds", 6 * 3600.0)),
            )
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{where}: {exc}") from None
        self.version = version
        self.schema = list(self.sync.mapping)
        self.user_list = f"customers/{self.customer_id}/userLists/{self.sync.object}"
        self.http = self.http_client()

    @classmethod
    def check_sync(cls, sync: SyncConfig) -> None:
        where = f"{sync.source_file}: sync {sync.name!r}"
        if not DIGITS.match(sync.object):
            raise ConfigError(f"{where} field `object` must be the numeric user list id")
        if sync.options:
            raise ConfigError(f"{where} field `options`: google_ads syncs take no options")
        for field in sync.mapping:
            if field not in IDENTIFIER_RULES:
                raise ConfigError(
                    f"{where} field `mapping`: {field!r} is not a Customer Match identifier "
                    f"(use {', '.join(IDENTIFIER_RULES)})"
                )
            if sync.hashing.get(field) != IDENTIFIER_RULES[field]:
                raise ConfigError(
                    f"{where} field `hashing`: {field} must be `{IDENTIFIER_RULES[field]}` so it "
                    "is normalised as Google documents and SHA-256 hashed in the warehouse"
                )
        if sync.consent != "ads":
            raise ConfigError(
                f"{where} field `consent`: Customer Match uploads declare ad_user_data and "
                "ad_personalization consent; set `consent: ads` so only consented rows are sent"
            )

    # --- plumbing ----------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        headers = {
            "Authorization": f"Bearer {self._secrets['access_token'].get_secret_value()}",
            "developer-token": self._secrets["developer_token"].get_secret_value(),
            "Content-Type": "application/json",
        }
        if self.login_customer_id:
            headers["login-customer-id"] = self.login_customer_id
        return headers

    def _post(self, path: str, body: dict[str, Any], what: str) -> dict[str, Any]:
        try:
            response = self.http.request(
                "POST", f"/{self.version}/{path}", dumps(body), self._headers(), what
            )
        except DestinationError as exc:
            # 409 ABORTED (CONCURRENT_MODIFICATION): another job on this list; try again later
            if "HTTP 409" in str(exc) or "CONCURRENT_MODIFICATION" in str(exc):
                raise TransientError(str(exc)) from None
            raise
        return response.json() or {}

    def _post_repeatable(self, path: str, body: dict[str, Any], what: str) -> dict[str, Any]:
        return retry_in_place(
            lambda: self._post(path, body, what), self.retry, what, self.note_retry
        )

    # --- send ----------------------------------------------------------------------------

    def send(self, rows: Sequence[PlanRow], operation: Operation) -> list[RowResult]:
        results: dict[str, RowResult] = {}
        removes: list[tuple[str, list[str]]] = []
        creates: list[tuple[str, list[str]]] = []
        for row in rows:
            if is_removal(operation):
                if row.previous_dest_id:
                    removes.append((row.key, row.previous_dest_id.split(SEPARATOR)))
                else:
                    results[row.key] = RowResult(row.key, True)
                continue
            values = [str(row.fields.get(f) or "") for f in self.schema]
            if not any(values):
                results[row.key] = RowResult(
                    row.key, False, "no email or phone to match on", sent=False
                )
                continue
            if row.previous_dest_id and row.previous_dest_id != SEPARATOR.join(values):
                removes.append((row.key, row.previous_dest_id.split(SEPARATOR)))  # old identity
            creates.append((row.key, values))
        failed: dict[str, str] = {}
        if removes:
            failed.update(self._run_job("remove", removes))
        if creates:
            failed.update(self._run_job("create", creates))
        for key, values in creates if not is_removal(operation) else removes:
            if key in failed:
                results[key] = RowResult(key, False, failed[key])
            elif is_removal(operation):
                results[key] = RowResult(key, True)
            else:
                results[key] = RowResult(key, True, dest_id=SEPARATOR.join(values))
        for key, message in failed.items():  # e.g. the old identity could not be removed
            results[key] = RowResult(key, False, message)
        return [
            results.get(row.key) or RowResult(row.key, False, "no result returned for this row")
            for row in rows
        ]

    def _user_data(self, values: list[str]) -> dict[str, Any]:
        return {
            "userIdentifiers": [
                {field: value} for field, value in zip(self.schema, values, strict=True) if value
            ]
        }

    def _run_job(self, verb: str, members: list[tuple[str, list[str]]]) -> dict[str, str]:
        """One job of `create` or `remove` operations; returns failed row keys -> message."""
        metadata: dict[str, Any] = {"userList": self.user_list}
        if verb == "create":
            metadata["consent"] = {"adUserData": "GRANTED", "adPersonalization": "GRANTED"}
        job = self._post_repeatable(
            f"customers/{self.customer_id}/offlineUserDataJobs:create",
            {
                "job": {
                    "type": "CUSTOMER_MATCH_USER_LIST",
                    "customerMatchUserListMetadata": metadata,
                }
            },
            "google ads create job",
        )
        resource = str(job.get("resourceName") or "")
        if not resource.startswith(f"customers/{self.customer_id}/offlineUserDataJobs/"):
            raise DestinationError("google ads create job: the answer has no job resourceName")
        failed: dict[str, str] = {}
        for start in range(0, len(members), OPERATIONS_PER_REQUEST):
            chunk = members[start : start + OPERATIONS_PER_REQUEST]
            answer = self._post_repeatable(
                f"{resource}:addOperations",
                {
                    "operations": [{verb: self._user_data(values)} for _, values in chunk],
                    "enablePartialFailure": True,
                },
                f"google ads add {verb} operations",
            )
            for index, message in partial_failures(answer).items():
                if 0 <= index < len(chunk):
                    failed[chunk[index][0]] = self.redact(message)
        if len(failed) == len(members):
            return failed  # nothing valid to run
        operation = self._post(f"{resource}:run", {}, "google ads run job")
        name = str(operation.get("name") or "")
        if not name:
            raise DestinationError("google ads run job: the answer has no operation name")
        final = poll_until(
            lambda: retry_in_place(
                lambda: (
                    self.http.request(
                        "GET",
                        f"/{self.version}/{name}",
                        None,
                        self._headers(),
                        "google ads job status",
                    ).json()
                    or {}
                ),
                self.retry,
                "google ads job status",
                self.note_retry,
            ),
            lambda state: bool(state.get("done")),
            self.poll,
            f"google ads job {resource}",
        )
        if final.get("error"):
            error = final["error"]
            message = self.redact(f"job failed: {error.get('message') or error}")
            return {key: failed.get(key, message) for key, _ in members}
        return failed


def partial_failures(answer: dict[str, Any]) -> dict[int, str]:
    """Operation index -> message from a `partialFailureError` (GoogleAdsFailure details)."""
    out: dict[int, str] = {}
    error = answer.get("partialFailureError") or {}
    for detail in error.get("details") or []:
        for failure in detail.get("errors") or []:
            path = (failure.get("location") or {}).get("fieldPathElements") or []
            if path and path[0].get("fieldName") == "operations" and "index" in path[0]:
                codes = ", ".join(f"{k}={v}" for k, v in (failure.get("errorCode") or {}).items())
                out[int(path[0]["index"])] = f"{codes}: {failure.get('message', 'rejected')}"
    return out
