"""Salesforce emulator: Bulk API 2.0 ingest jobs and sObject Collections upsert / delete.

Contract enforced (Salesforce REST API docs):
- bearer token on every call; paths under `/services/data/vNN.N/`;
- `POST .../jobs/ingest` with `object`, `operation` (insert|update|upsert|delete),
  `externalIdFieldName` (required for upsert), `contentType: CSV`, `lineEnding: LF|CRLF`;
- `PUT .../jobs/ingest/{id}/batches` with `Content-Type: text/csv`, once per job, only while
  the job is `Open`, at most `max_upload_bytes`, line endings as declared, header naming the
  external id field (upsert) or `Id` (delete);
- `PATCH .../jobs/ingest/{id}` to `UploadComplete` (needs data) or `Aborted`;
- `GET .../jobs/ingest/{id}` reports `UploadComplete`, then `InProgress` for
  `in_progress_polls` polls, then `JobComplete` (or `Failed` when `fail_jobs` > 0);
- results as CSV: `successfulResults/` (sf__Id, sf__Created, columns), `failedResults/`
  (sf__Id, sf__Error, columns), `unprocessedrecords/` (columns), only once the job is final;
- `PATCH .../composite/sobjects/{object}/{externalIdField}` with `allOrNone` and at most
  200 `records`, each with `attributes.type`; per-record results in request order;
- `DELETE .../composite/sobjects?ids=...&allOrNone=false` with at most 200 ids.
- reads: `GET .../query?q=SELECT f, ... FROM Object [WHERE Field IN ('a', ...)]` (the SOQL
  this emulator understands; anything else is MALFORMED_QUERY) answers `{totalSize, done,
  records: [{attributes: {type, url}, Id, ...}]}` at most `query_page_size` records at a
  time, with `nextRecordsUrl` (`.../query/<locator>-<offset>`) while `done` is false;
  `GET .../sobjects/{Object}/{ExternalIdField}/{value}` answers one record or 404 NOT_FOUND.
Per-record rejections: an `Email` that is not an email address (INVALID_EMAIL_ADDRESS), a
missing external id (MISSING_ARGUMENT), deleting a deleted record (ENTITY_IS_DELETED).
The job's records are applied when it is closed (Salesforce keeps processing even if the
client goes away); `creates` counts record creations per external id.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from reverse_etl.jsonio import loads
from reverse_etl.testing.salesforce_reads import (
    BY_EXTERNAL_ID,
    QUERY,
    QUERY_MORE,
    SalesforceReads,
)
from reverse_etl.testing.server import EmulatorApp, Response

API = r"/services/data/v[0-9]{2}\.[0-9]"
JOBS = re.compile(rf"^{API}/jobs/ingest/?$")
JOB = re.compile(rf"^{API}/jobs/ingest/([A-Za-z0-9]+)/?$")
JOB_PART = re.compile(
    rf"^{API}/jobs/ingest/([A-Za-z0-9]+)/(batches|successfulResults|failedResults|"
    r"unprocessedrecords)/?$"
)
COLLECTION_UPSERT = re.compile(rf"^{API}/composite/sobjects/([A-Za-z0-9_]+)/([A-Za-z0-9_]+)$")
COLLECTION = re.compile(rf"^{API}/composite/sobjects/?$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
OPERATIONS = ("insert", "update", "upsert", "delete")
MAX_COLLECTION = 200
FINAL = ("JobComplete", "Failed", "Aborted")


@dataclass
class CsvBody:
    text: str
    content_type: str


@dataclass
class Job:
    id: str
    object: str
    operation: str
    external_id: str | None
    line_ending: str
    state: str = "Open"
    final: str = "JobComplete"  # the state the job reaches after its InProgress polls
    data: str | None = None
    polls: int = 0
    successes: list[dict[str, str]] = field(default_factory=list)
    failures: list[dict[str, str]] = field(default_factory=list)
    unprocessed: list[dict[str, str]] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    error_message: str | None = None


def _error(status: int, code: str, message: str) -> Response:
    return Response(status, [{"errorCode": code, "message": message}])


def _csv(header: list[str], rows: list[dict[str, str]]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=header, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode()


class SalesforceEmulator(SalesforceReads, EmulatorApp):
    kind = "salesforce"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # object -> external id value -> record (with "Id"); deleted ids remembered
        self.records: dict[str, dict[str, dict[str, Any]]] = {}
        self.ids: dict[str, tuple[str, str]] = {}  # record id -> (object, external id value)
        self.deleted: set[str] = set()
        self.creates: Counter[str] = Counter()
        self.jobs: dict[str, Job] = {}
        self.in_progress_polls = 2
        self.fail_jobs = 0  # the next N closed jobs end `Failed` with nothing processed
        self.max_upload_bytes = 150_000_000
        self.query_page_size = 2000
        self._cursors: dict[str, list[dict[str, Any]]] = {}
        self._next = 0

    def summary(self) -> dict[str, Any]:
        return {
            "records": {obj: len(r) for obj, r in self.records.items()},
            "creates": sum(self.creates.values()),
            "max_creates_per_external_id": max(self.creates.values(), default=0),
            "jobs": Counter(job.state for job in self.jobs.values()),
            "requests": len(self.requests),
        }

    def live(self, obj: str) -> dict[str, dict[str, Any]]:
        return {ext: dict(rec) for ext, rec in self.records.get(obj, {}).items()}

    def parse_body(self, headers: dict[str, str], raw: bytes) -> Any:
        content_type = headers.get("content-type", "")
        if content_type.startswith("text/csv"):
            return CsvBody(raw.decode("utf-8"), content_type)
        if not raw:
            return {":query": parse_qs(headers.get(":query", ""))}
        return loads(raw)

    def _new_id(self, prefix: str) -> str:
        self._next += 1
        return f"{prefix}{self._next:015d}"

    # --- routing ---------------------------------------------------------------------------

    def process(self, method: str, path: str, body: Any, raw: bytes) -> Response:
        if JOBS.match(path) and method == "POST":
            return self._create_job(body)
        if match := JOB.match(path):
            job = self.jobs.get(match.group(1))
            if job is None:
                return _error(404, "NOT_FOUND", f"no job {match.group(1)}")
            if method == "GET":
                return self._job_info(job, poll=True)
            if method == "PATCH":
                return self._change_state(job, body)
        if match := JOB_PART.match(path):
            job = self.jobs.get(match.group(1))
            if job is None:
                return _error(404, "NOT_FOUND", f"no job {match.group(1)}")
            part = match.group(2)
            if part == "batches" and method == "PUT":
                return self._upload(job, body)
            if part != "batches" and method == "GET":
                return self._results(job, part)
        if (match := COLLECTION_UPSERT.match(path)) and method == "PATCH":
            return self._collection_upsert(match.group(1), match.group(2), body)
        if COLLECTION.match(path) and method == "DELETE":
            return self._collection_delete(body)
        if method == "GET" and QUERY.match(path):
            query = body.get(":query", {}) if isinstance(body, dict) else {}
            return self._query(" ".join(query.get("q", [])))
        if method == "GET" and (match := QUERY_MORE.match(path)):
            return self._page(match.group(1), int(match.group(2)))
        if method == "GET" and (match := BY_EXTERNAL_ID.match(path)):
            return self._by_external_id(*match.groups())
        return _error(404, "NOT_FOUND", f"no route {method} {path}")

    # --- Bulk API 2.0 ----------------------------------------------------------------------

    def _create_job(self, body: Any) -> Response:
        if not isinstance(body, dict):
            return _error(400, "INVALIDJOB", "body must be a JSON object")
        operation, obj = body.get("operation"), body.get("object")
        if operation not in OPERATIONS:
            return _error(400, "INVALIDJOB", f"unknown operation {operation!r}")
        if not isinstance(obj, str) or not obj:
            return _error(400, "INVALIDJOB", "`object` is required")
        if body.get("contentType", "CSV") != "CSV":
            return _error(400, "INVALIDJOB", "contentType must be CSV")
        line_ending = body.get("lineEnding", "LF")
        if line_ending not in ("LF", "CRLF"):
            return _error(400, "INVALIDJOB", "lineEnding must be LF or CRLF")
        external_id = body.get("externalIdFieldName")
        if operation == "upsert" and not external_id:
            return _error(400, "INVALIDJOB", "externalIdFieldName is required for upsert")
        job = Job(self._new_id("750"), obj, operation, external_id, line_ending)
        self.jobs[job.id] = job
        return self._job_info(job)

    def _job_info(self, job: Job, poll: bool = False) -> Response:
        if poll and job.state in ("UploadComplete", "InProgress"):
            job.polls += 1
            job.state = "InProgress" if job.polls <= self.in_progress_polls else job.final
        return Response(
            200,
            {
                "id": job.id,
                "operation": job.operation,
                "object": job.object,
                "state": job.state,
                "externalIdFieldName": job.external_id,
                "concurrencyMode": "Parallel",
                "contentType": "CSV",
                "apiVersion": 61.0,
                "contentUrl": f"services/data/v61.0/jobs/ingest/{job.id}/batches",
                "lineEnding": job.line_ending,
                "columnDelimiter": "COMMA",
                "numberRecordsProcessed": len(job.successes) + len(job.failures),
                "numberRecordsFailed": len(job.failures),
                **({"errorMessage": job.error_message} if job.error_message else {}),
            },
        )

    def _upload(self, job: Job, body: Any) -> Response:
        if not isinstance(body, CsvBody):
            return _error(400, "INVALIDJOB", "job data must be sent as Content-Type: text/csv")
        if job.state != "Open":
            return _error(409, "INVALIDJOBSTATE", f"job is {job.state}, not Open")
        if job.data is not None:
            return _error(409, "INVALIDJOBSTATE", "job data was already uploaded")
        if len(body.text.encode()) > self.max_upload_bytes:
            return _error(413, "EXCEEDED_QUOTA", "job data exceeds the upload size limit")
        if job.line_ending == "LF" and "\r\n" in body.text:
            return _error(400, "INVALIDJOB", "lineEnding is LF but the data has CRLF")
        header = next(csv.reader(io.StringIO(body.text, newline="")), [])
        needed = job.external_id if job.operation == "upsert" else "Id"
        if job.operation in ("upsert", "delete") and needed not in header:
            return _error(400, "INVALIDJOB", f"the CSV header has no {needed} column")
        job.data = body.text
        job.columns = header
        return Response(201, None, rows=max(0, body.text.count("\n") - 1))

    def _change_state(self, job: Job, body: Any) -> Response:
        state = body.get("state") if isinstance(body, dict) else None
        if state == "Aborted":
            if job.state in FINAL:
                return _error(409, "INVALIDJOBSTATE", f"job is already {job.state}")
            job.state = "Aborted"
            return self._job_info(job)
        if state != "UploadComplete":
            return _error(400, "INVALIDJOBSTATE", f"cannot set state {state!r}")
        if job.state != "Open" or job.data is None:
            return _error(409, "INVALIDJOBSTATE", "close an Open job after uploading its data")
        job.state = "UploadComplete"
        rows = list(csv.DictReader(io.StringIO(job.data, newline="")))
        if self.fail_jobs > 0:
            self.fail_jobs -= 1
            job.final = "Failed"
            job.error_message = "InvalidBatch : emulated job failure"
            job.unprocessed = rows
        else:
            job.final = "JobComplete"
            self._apply_job(job, rows)
        return self._job_info(job)

    def _apply_job(self, job: Job, rows: list[dict[str, str]]) -> None:
        for row in rows:
            if job.operation == "delete":
                ok, record_id, created, error = self._delete(row.get("Id", ""))
            else:
                values = {k: (None if v == "#N/A" else v) for k, v in row.items() if v != ""}
                ok, record_id, created, error = self._upsert(
                    job.object, str(job.external_id), values
                )
            if ok:
                job.successes.append(
                    {"sf__Id": record_id, "sf__Created": str(created).lower(), **row}
                )
            else:
                job.failures.append({"sf__Id": record_id or "", "sf__Error": error, **row})

    def _results(self, job: Job, part: str) -> Response:
        if job.state not in FINAL:
            return _error(400, "INVALIDJOBSTATE", f"job is {job.state}: results are not ready")
        if part == "successfulResults":
            data = _csv(["sf__Id", "sf__Created", *job.columns], job.successes)
        elif part == "failedResults":
            data = _csv(["sf__Id", "sf__Error", *job.columns], job.failures)
        else:
            data = _csv(job.columns, job.unprocessed)
        return Response(200, data, {"Content-Type": "text/csv"}, rows=0)

    # --- records ---------------------------------------------------------------------------

    def _upsert(
        self, obj: str, external_field: str, values: dict[str, Any]
    ) -> tuple[bool, str | None, bool, str]:
        external = str(values.get(external_field) or "").strip()
        self.count(external)
        if not external:
            return False, None, False, f"MISSING_ARGUMENT:{external_field} not specified:--"
        email = values.get("Email")
        if email is not None and not EMAIL.match(str(email).strip()):
            error = f"INVALID_EMAIL_ADDRESS:Email: invalid email address {email}:Email"
            return False, None, False, error
        records = self.records.setdefault(obj, {})
        record = records.get(external)
        created = record is None
        if record is None:
            record = {"Id": self._new_id("003")}
            records[external] = record
            self.ids[record["Id"]] = (obj, external)
            self.creates[external] += 1
        for name, value in values.items():
            if value is None:
                record.pop(name, None)
            else:
                record[name] = value
        return True, record["Id"], created, ""

    def _delete(self, record_id: str) -> tuple[bool, str, bool, str]:
        self.count(record_id, removal=True)
        if record_id in self.deleted:
            return False, record_id, False, "ENTITY_IS_DELETED:entity is deleted:--"
        owner = self.ids.pop(record_id, None)
        if owner is None:
            return False, record_id, False, "INVALID_CROSS_REFERENCE_KEY:invalid id:--"
        self.records[owner[0]].pop(owner[1], None)
        self.deleted.add(record_id)
        return True, record_id, False, ""

    # --- sObject Collections ---------------------------------------------------------------

    def _collection_upsert(self, obj: str, external_field: str, body: Any) -> Response:
        if not isinstance(body, dict) or not isinstance(body.get("records"), list):
            return _error(400, "JSON_PARSER_ERROR", "body needs a `records` array")
        records = body["records"]
        if not records or len(records) > MAX_COLLECTION:
            return _error(
                400, "EXCEEDED_ID_LIMIT", f"send 1 to {MAX_COLLECTION} records, not {len(records)}"
            )
        if not isinstance(body.get("allOrNone", False), bool):
            return _error(400, "JSON_PARSER_ERROR", "allOrNone must be a boolean")
        answers = []
        for record in records:
            attributes = record.get("attributes") if isinstance(record, dict) else None
            if not isinstance(attributes, dict) or attributes.get("type") != obj:
                return _error(400, "INVALID_TYPE", f"every record needs attributes.type {obj}")
            values = {k: v for k, v in record.items() if k != "attributes"}
            ok, record_id, created, error = self._upsert(obj, external_field, values)
            if ok:
                answers.append({"id": record_id, "success": True, "errors": [], "created": created})
            else:
                code, message, fields = (error.split(":", 2) + ["", ""])[:3]
                answers.append(
                    {
                        "success": False,
                        "errors": [
                            {
                                "statusCode": code,
                                "message": message,
                                "fields": [f for f in fields.split(",") if f and f != "--"],
                            }
                        ],
                    }
                )
        return Response(200, answers, rows=len(records))

    def _collection_delete(self, body: Any) -> Response:
        query = body.get(":query", {}) if isinstance(body, dict) else {}
        ids = [i for value in query.get("ids", []) for i in value.split(",") if i]
        if not ids or len(ids) > MAX_COLLECTION:
            return _error(400, "EXCEEDED_ID_LIMIT", f"send 1 to {MAX_COLLECTION} ids")
        answers = []
        for record_id in ids:
            ok, _, _, error = self._delete(record_id)
            if ok:
                answers.append({"id": record_id, "success": True, "errors": []})
            else:
                code, message = error.split(":")[:2]
                answers.append(
                    {
                        "success": False,
                        "errors": [{"statusCode": code, "message": message, "fields": []}],
                    }
                )
        return Response(200, answers, rows=len(ids))
