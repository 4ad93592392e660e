"""Google Ads Customer Match emulator: OfflineUserDataJob over REST.

Contract enforced (Google Ads API docs): `Authorization: Bearer` plus a `developer-token`
header on every call;
- `POST /vNN/customers/{cid}/offlineUserDataJobs:create` with a `CUSTOMER_MATCH_USER_LIST`
  job whose `customerMatchUserListMetadata.userList` is `customers/{cid}/userLists/{id}`;
- `POST .../offlineUserDataJobs/{id}:addOperations` while the job is PENDING: each
  operation exactly one of `create` / `remove` (`UserData`) or `removeAll`; 1 to 20
  `userIdentifiers` per `UserData`, each exactly one of `hashedEmail`, `hashedPhoneNumber`,
  `addressInfo`, `thirdPartyUserId`, `mobileId`; hashed values lower-case SHA-256 hex; at
  most 100,000 identifiers per request; create operations need the job's `consent` granted.
  With `enablePartialFailure` bad operations come back in `partialFailureError` by index,
  otherwise the whole request fails;
- `POST .../offlineUserDataJobs/{id}:run` starts it (409 ABORTED CONCURRENT_MODIFICATION when
  another job on the same list is still running) and returns a long-running operation;
- `GET /vNN/customers/{cid}/operations/{id}` says `done` once the job ran for
  `run_seconds`; `fail_jobs` > 0 makes the next jobs end FAILED with an `error`.
  `hold_jobs` > 0 makes the next jobs to run stay RUNNING, whatever the clock says, until
  each has turned away one other job on its list with 409 (a conflict a test can count on).
Operations are applied when the job runs (it finishes even if the client went away).
Members of a list are the hashed identifier tuples (hashedEmail, hashedPhoneNumber). Google
removes the user a remove operation's identifiers match, so a removal takes out every member
tuple that shares an identifier with it.
"""

from __future__ import annotations

import itertools
import re
import time
from dataclasses import dataclass, field
from typing import Any

from reverse_etl.testing.server import EmulatorApp, Response

PREFIX = r"^/v[0-9]+/customers/([0-9]+)"
CREATE = re.compile(PREFIX + r"/offlineUserDataJobs:create$")
JOB_ACTION = re.compile(PREFIX + r"/offlineUserDataJobs/([0-9]+):(addOperations|run)$")
OPERATION = re.compile(PREFIX + r"/operations/([0-9]+)$")
USER_LIST = re.compile(r"^customers/([0-9]+)/userLists/([0-9]+)$")
HEX64 = re.compile(r"^[0-9a-f]{64}$")
IDENTIFIER_KINDS = (
    "hashedEmail",
    "hashedPhoneNumber",
    "addressInfo",
    "thirdPartyUserId",
    "mobileId",
)
MAX_IDENTIFIERS_PER_REQUEST = 100_000
MAX_IDENTIFIERS_PER_USER = 20
FAILURE_TYPE = "type.googleapis.com/google.ads.googleads.v19.errors.GoogleAdsFailure"


@dataclass
class Job:
    id: str
    customer_id: str
    user_list: str
    consented: bool
    status: str = "PENDING"  # PENDING -> RUNNING -> SUCCESS | FAILED
    operations: list[tuple[str, tuple[str, str] | None]] = field(default_factory=list)
    run_at: float = 0.0
    fails: bool = False
    held: bool = False  # stays RUNNING until it has turned away another job
    conflicts: int = 0


def _error(
    status: int, grpc_status: str, message: str, code: dict[str, str] | None = None
) -> Response:
    body: dict[str, Any] = {"error": {"code": status, "status": grpc_status, "message": message}}
    if code:
        body["error"]["details"] = [
            {"@type": FAILURE_TYPE, "errors": [{"errorCode": code, "message": message}]}
        ]
    return Response(status, body)


class GoogleAdsEmulator(EmulatorApp):
    kind = "google_ads"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.developer_token = "test-developer-token"
        self.members: dict[str, set[tuple[str, str]]] = {}  # user list id -> members
        self.jobs: dict[str, Job] = {}
        self.operations: dict[str, str] = {}  # long-running operation id -> job id
        self.run_seconds = 0.05
        self.fail_jobs = 0
        self.hold_jobs = 0
        self._ids = itertools.count(1000)

    def authorised(self, headers: dict[str, str], body: bytes) -> bool:
        return (
            headers.get("authorization") == f"Bearer {self.token}"
            and headers.get("developer-token") == self.developer_token
        )

    def summary(self) -> dict[str, Any]:
        return {
            "lists": {k: len(v) for k, v in self.members.items()},
            "jobs": {
                s: sum(j.status == s for j in self.jobs.values())
                for s in ("PENDING", "RUNNING", "SUCCESS", "FAILED")
            },
            "requests": len(self.requests),
        }

    def process(self, method: str, path: str, body: Any, raw: bytes) -> Response:
        if method == "POST" and (match := CREATE.match(path)):
            return self._create(match.group(1), body)
        if method == "POST" and (match := JOB_ACTION.match(path)):
            job = self.jobs.get(match.group(2))
            if job is None or job.customer_id != match.group(1):
                return _error(404, "NOT_FOUND", f"no offline user data job {match.group(2)}")
            if match.group(3) == "addOperations":
                return self._add_operations(job, body)
            return self._run(job)
        if method == "GET" and (match := OPERATION.match(path)):
            return self._operation(match.group(1), match.group(2))
        return _error(404, "NOT_FOUND", f"no route {method} {path}")

    def _create(self, customer_id: str, body: Any) -> Response:
        job = body.get("job") if isinstance(body, dict) else None
        if not isinstance(job, dict) or job.get("type") != "CUSTOMER_MATCH_USER_LIST":
            return _error(400, "INVALID_ARGUMENT", "job.type must be CUSTOMER_MATCH_USER_LIST")
        metadata = job.get("customerMatchUserListMetadata") or {}
        match = USER_LIST.match(str(metadata.get("userList") or ""))
        if not match or match.group(1) != customer_id:
            return _error(
                400,
                "INVALID_ARGUMENT",
                "customerMatchUserListMetadata.userList must be "
                f"customers/{customer_id}/userLists/<id>",
            )
        consent = metadata.get("consent") or {}
        consented = (
            consent.get("adUserData") == "GRANTED" and consent.get("adPersonalization") == "GRANTED"
        )
        job_id = str(next(self._ids))
        self.jobs[job_id] = Job(job_id, customer_id, match.group(2), consented)
        return Response(
            200, {"resourceName": f"customers/{customer_id}/offlineUserDataJobs/{job_id}"}
        )

    def _check_operation(
        self, job: Job, operation: Any
    ) -> tuple[str, tuple[str, str] | None] | str:
        """The parsed operation, or the reason it is invalid."""
        if not isinstance(operation, dict) or len(operation) != 1:
            return "each operation is exactly one of create, remove, removeAll"
        ((verb, data),) = operation.items()
        if verb == "removeAll":
            return ("removeAll", None) if data is True else "removeAll must be true"
        if verb not in ("create", "remove") or not isinstance(data, dict):
            return f"unknown operation {verb!r}"
        if verb == "create" and not job.consented:
            return "create operations need customerMatchUserListMetadata.consent GRANTED"
        identifiers = data.get("userIdentifiers")
        if not isinstance(identifiers, list) or not identifiers:
            return "UserData needs at least one userIdentifier"
        if len(identifiers) > MAX_IDENTIFIERS_PER_USER:
            return f"at most {MAX_IDENTIFIERS_PER_USER} userIdentifiers per UserData"
        email = phone = ""
        for identifier in identifiers:
            if not isinstance(identifier, dict) or len(identifier) != 1:
                return "each userIdentifier holds exactly one identifier"
            ((kind, value),) = identifier.items()
            if kind not in IDENTIFIER_KINDS:
                return f"unknown identifier {kind!r}"
            if kind in ("hashedEmail", "hashedPhoneNumber") and not (
                isinstance(value, str) and HEX64.match(value)
            ):
                return f"{kind} is not a lower-case SHA-256 hex digest"
            if kind == "hashedEmail":
                email = value
            elif kind == "hashedPhoneNumber":
                phone = value
        return verb, (email, phone)

    def _add_operations(self, job: Job, body: Any) -> Response:
        if job.status != "PENDING":
            return _error(
                400,
                "INVALID_ARGUMENT",
                f"job is {job.status}; operations need PENDING",
                {"offlineUserDataJobError": "INVALID_JOB_STATUS"},
            )
        operations = body.get("operations") if isinstance(body, dict) else None
        if not isinstance(operations, list) or not operations:
            return _error(400, "INVALID_ARGUMENT", "operations must be a non-empty array")
        identifiers = sum(
            len((op.get("create") or op.get("remove") or {}).get("userIdentifiers") or [])
            for op in operations
            if isinstance(op, dict)
        )
        if identifiers > MAX_IDENTIFIERS_PER_REQUEST:
            return _error(
                400,
                "INVALID_ARGUMENT",
                f"{identifiers} user identifiers exceed {MAX_IDENTIFIERS_PER_REQUEST} per request",
                {"userDataError": "TOO_MANY_USER_IDENTIFIERS"},
            )
        partial = bool(body.get("enablePartialFailure"))
        accepted, errors = [], []
        for index, operation in enumerate(operations):
            parsed = self._check_operation(job, operation)
            if isinstance(parsed, str):
                errors.append(
                    {
                        "errorCode": {"offlineUserDataJobError": "INVALID_USER_DATA"},
                        "message": parsed,
                        "location": {
                            "fieldPathElements": [{"fieldName": "operations", "index": index}]
                        },
                    }
                )
            else:
                accepted.append(parsed)
        if errors and not partial:
            return _error(400, "INVALID_ARGUMENT", errors[0]["message"], errors[0]["errorCode"])
        job.operations.extend(accepted)
        answer: dict[str, Any] = {}
        if errors:
            answer["partialFailureError"] = {
                "code": 3,
                "message": f"{len(errors)} operation(s) failed",
                "details": [{"@type": FAILURE_TYPE, "errors": errors}],
            }
        return Response(200, answer, rows=len(operations))

    def _run(self, job: Job) -> Response:
        if job.status != "PENDING":
            return _error(
                400,
                "INVALID_ARGUMENT",
                f"job is already {job.status}",
                {"offlineUserDataJobError": "INVALID_JOB_STATUS"},
            )
        self._settle()
        for other in self.jobs.values():
            if other.status == "RUNNING" and other.user_list == job.user_list:
                other.conflicts += 1
                return _error(
                    409,
                    "ABORTED",
                    "another job on this list is running",
                    {"databaseError": "CONCURRENT_MODIFICATION"},
                )
        job.status, job.run_at = "RUNNING", time.monotonic()
        if self.hold_jobs > 0:
            self.hold_jobs -= 1
            job.held = True
        if self.fail_jobs > 0:
            self.fail_jobs -= 1
            job.fails = True
        else:
            members = self.members.setdefault(job.user_list, set())
            for verb, member in job.operations:
                if verb == "removeAll":
                    members.clear()
                elif verb == "create":
                    self.count("|".join(member or ()))
                    members.add(member)  # type: ignore[arg-type]
                else:
                    self.count("|".join(member or ()), removal=True)
                    removed = member or ("", "")
                    matched = [
                        m
                        for m in members
                        if any(v and v == w for v, w in zip(removed, m, strict=True))
                    ]
                    members.difference_update(matched)
        operation_id = str(next(self._ids))
        self.operations[operation_id] = job.id
        return Response(
            200,
            {
                "name": f"customers/{job.customer_id}/operations/{operation_id}",
                "metadata": {"@type": "OfflineUserDataJobMetadata", "jobId": job.id},
            },
        )

    def _settle(self) -> None:
        now = time.monotonic()
        for job in self.jobs.values():
            if job.status != "RUNNING":
                continue
            finished = job.conflicts > 0 if job.held else now - job.run_at >= self.run_seconds
            if finished:
                job.status = "FAILED" if job.fails else "SUCCESS"

    def _operation(self, customer_id: str, operation_id: str) -> Response:
        job = self.jobs.get(self.operations.get(operation_id, ""))
        if job is None or job.customer_id != customer_id:
            return _error(404, "NOT_FOUND", f"no operation {operation_id}")
        self._settle()
        answer: dict[str, Any] = {
            "name": f"customers/{customer_id}/operations/{operation_id}",
            "metadata": {"@type": "OfflineUserDataJobMetadata", "jobId": job.id},
            "done": job.status in ("SUCCESS", "FAILED"),
        }
        if job.status == "FAILED":
            answer["error"] = {"code": 13, "message": "INTERNAL_ERROR: emulated job failure"}
        return Response(200, answer)
