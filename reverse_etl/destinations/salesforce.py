"""Salesforce: upsert by external id (Bulk API 2.0 for big batches, sObject Collections for
small ones) and delete by record id for `mirror` removals.

Sizing: a batch of at least `bulk_threshold` rows (default 2,000, Salesforce's own advice)
becomes one Bulk API 2.0 ingest job: create the job, PUT the CSV, PATCH `UploadComplete`,
poll until `JobComplete` / `Failed` / `Aborted`, then read `successfulResults` and
`failedResults` and match each result row to its plan row by the external id column (and
`unprocessedrecords` are simply not acknowledged). Smaller batches go through sObject
Collections upsert, 200 records per call with `allOrNone: false`, whose results come back
in request order. Both are idempotent upserts keyed by the external id, so a batch resent
after a crash updates the same records instead of creating duplicates.

The external id field is named by the sync (`options.external_id_field`) and must map the
sync's primary key, so every segment row has exactly one Salesforce record.

Removals (mirror leavers, consent revoked, deletion requests) delete the record by Id; a
deleted record sits in Salesforce's recycle bin for 15 days before it is purged. Reading
back (`tessera sync reconcile`): a SOQL query by external id, `SELECT Id, <mapped fields>
FROM <object> WHERE <external id> IN (...)`, 200 keys a query, following `nextRecordsUrl`.
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from reverse_etl.config import ConfigError
from reverse_etl.destinations.async_jobs import (
    PollPolicy,
    poll_until,
    retry_in_place,
    wait_out_rate_limits,
)
from reverse_etl.destinations.base import (
    BaseDestination,
    DestinationError,
    HttpResponse,
    Operation,
    PlanRow,
    RemoteRecord,
    RowResult,
    SyncConfig,
    clean_properties,
    dumps,
    is_removal,
)
from reverse_etl.match import MatchField

API_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
API_VERSION = re.compile(r"^[0-9]{2}\.[0-9]$")
COLLECTION_SIZE = 200  # sObject Collections: records per call
MAX_UPLOAD_BYTES = 100_000_000  # 150 MB after Salesforce's base64 conversion ~= 100 MB raw
FINAL_STATES = ("JobComplete", "Failed", "Aborted")
ALREADY_DELETED = ("ENTITY_IS_DELETED", "INVALID_CROSS_REFERENCE_KEY")
NULL_IN_CSV = "#N/A"  # Bulk API: an empty cell leaves the field alone; #N/A clears it
SYNC_OPTIONS = ("external_id_field",)
DESTINATION_OPTIONS = (
    "api_version",
    "bulk_threshold",
    "poll_seconds",
    "max_poll_seconds",
    "job_timeout_seconds",
)


def _csv_value(value: Any, send_nulls: bool) -> str:
    if value is None:
        return NULL_IN_CSV if send_nulls else ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _soql_string(value: str) -> str:
    """A SOQL string literal: backslash and quote escaped, as SOQL requires."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def read_csv(body: bytes) -> list[dict[str, str]]:
    text = body.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text, newline="")))


class SalesforceBulk(BaseDestination):
    type = "salesforce"
    modes = ("upsert", "mirror")
    max_batch_size = 100_000
    default_batch_size = 10_000  # one Bulk API internal batch per job
    required_credentials = ("access_token",)
    readable = True
    read_batch_size = 200
    documented_rate_limit = "150M records and 15,000 Bulk batches per 24 h"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.config.batch_size is None:
            self.batch_size = self.default_batch_size
        options = self.config.options
        where = f"{self.config.source_file}: destination {self.name!r} field `options`"
        unknown = sorted(set(options) - set(DESTINATION_OPTIONS))
        if unknown:
            raise ConfigError(
                f"{where}: unknown option(s) {', '.join(unknown)} "
                f"(known: {', '.join(DESTINATION_OPTIONS)})"
            )
        version = str(options.get("api_version", "61.0"))
        if not API_VERSION.match(version):
            raise ConfigError(f"{where}.api_version: {version!r} is not like `61.0`")
        try:
            self.bulk_threshold = int(options.get("bulk_threshold", 2000))
            self.poll = PollPolicy(
                float(options.get("poll_seconds", 1.0)),
                float(options.get("max_poll_seconds", 10.0)),
                float(options.get("job_timeout_seconds", 3600.0)),
            )
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{where}: {exc}") from None
        self.api = f"/services/data/v{version}"
        self.object = self.sync.object
        self.external_id_field = str(self.sync.options["external_id_field"])
        self.columns = [self.external_id_field] + [
            f for f in self.sync.mapping if f != self.external_id_field
        ]
        self.http = self.http_client()

    @classmethod
    def match_field(cls, sync: SyncConfig) -> MatchField:
        # external ids are unique case-insensitively unless the field is made case-sensitive
        field = str(sync.options.get("external_id_field"))
        return MatchField(field, case_insensitive=True, record="record")

    @classmethod
    def check_sync(cls, sync: SyncConfig) -> None:
        where = f"{sync.source_file}: sync {sync.name!r}"
        if not API_NAME.match(sync.object):
            raise ConfigError(
                f"{where} field `object`: {sync.object!r} is not a Salesforce object API name "
                "(e.g. Contact, Lead, Customer__c)"
            )
        unknown = sorted(set(sync.options) - set(SYNC_OPTIONS))
        if unknown:
            raise ConfigError(f"{where} field `options`: unknown option(s) {', '.join(unknown)}")
        field = sync.options.get("external_id_field")
        if not isinstance(field, str) or not API_NAME.match(field):
            raise ConfigError(
                f"{where} field `options.external_id_field`: name the Salesforce external id "
                "field to upsert by (e.g. Tessera_Person_Id__c)"
            )
        if len(sync.key_columns) != 1 or sync.mapping.get(field) != sync.key_columns[0]:
            raise ConfigError(
                f"{where} field `mapping`: the external id field {field!r} must map the "
                f"primary key column ({', '.join(sync.key_columns)}), so each segment row is "
                "exactly one Salesforce record"
            )
        for name in sync.mapping:
            if not API_NAME.match(name):
                raise ConfigError(
                    f"{where} field `mapping`: {name!r} is not a Salesforce field API name"
                )
        if field in sync.hashing:
            raise ConfigError(f"{where} field `hashing`: do not hash the external id {field!r}")

    # --- plumbing ----------------------------------------------------------------------

    def _headers(self, content_type: str = "application/json") -> dict[str, str]:
        token = self._secrets["access_token"].get_secret_value()
        return {
            "Authorization": f"Bearer {token}",
            "Content-Type": content_type,
            "Accept": "application/json",
        }

    def _call(self, method: str, path: str, body: Any, what: str) -> HttpResponse:
        return self.http.request(
            method, path, None if body is None else dumps(body), self._headers(), what
        )

    def _read(self, path: str, what: str) -> HttpResponse:
        return retry_in_place(
            lambda: self.http.request("GET", path, None, self._headers(), what),
            self.retry,
            what,
            self.note_retry,
        )

    @staticmethod
    def _error_text(errors: list[dict[str, Any]]) -> str:
        parts = []
        for error in errors or []:
            fields = ",".join(error.get("fields") or [])
            parts.append(
                f"{error.get('statusCode', 'ERROR')}: {error.get('message', 'rejected')}"
                + (f" ({fields})" if fields else "")
            )
        return "; ".join(parts) or "rejected without a message"

    # --- send ----------------------------------------------------------------------------

    def send(self, rows: Sequence[PlanRow], operation: Operation) -> list[RowResult]:
        if is_removal(operation):  # mirror removal, consent revoked, deletion request
            results = self._delete(rows)
        elif len(rows) >= self.bulk_threshold:
            results = self._bulk_upsert(rows)
        else:
            results = self._collections_upsert(rows)
        return [
            results.get(row.key) or RowResult(row.key, False, "no result returned for this row")
            for row in rows
        ]

    def comparable(self, row: PlanRow) -> dict[str, Any]:
        return self._record(row)

    def read(self, rows: Sequence[PlanRow]) -> dict[str, RemoteRecord | None]:
        found: dict[str, RemoteRecord | None] = {row.key: None for row in rows}
        by_external = {str(row.key): row.key for row in rows}
        fields = ["Id", *self.columns]
        quoted = ", ".join(_soql_string(value) for value in by_external)
        soql = (
            f"SELECT {', '.join(fields)} FROM {self.object} "
            f"WHERE {self.external_id_field} IN ({quoted})"
        )
        path: str | None = f"{self.api}/query?q={quote(soql)}"
        while path:
            page = self._read(path, "salesforce query").json() or {}
            for record in page.get("records") or []:
                key = by_external.get(str(record.get(self.external_id_field)))
                if key is not None:
                    values = {name: record.get(name) for name in self.columns}
                    found[key] = RemoteRecord(record.get("Id"), values)
            path = None if page.get("done", True) else page.get("nextRecordsUrl")
        return found

    def _record(self, row: PlanRow) -> dict[str, Any]:
        values = clean_properties(row.fields, self.sync.send_nulls)
        values[self.external_id_field] = str(row.key)
        return values

    def _collections_upsert(self, rows: Sequence[PlanRow]) -> dict[str, RowResult]:
        results: dict[str, RowResult] = {}
        path = f"{self.api}/composite/sobjects/{quote(self.object)}/{quote(self.external_id_field)}"
        for start in range(0, len(rows), COLLECTION_SIZE):
            chunk = rows[start : start + COLLECTION_SIZE]
            records = [{"attributes": {"type": self.object}, **self._record(r)} for r in chunk]
            response = self._call(
                "PATCH",
                path,
                {"allOrNone": False, "records": records},
                "salesforce collections upsert",
            )
            answers = response.json() or []
            if not isinstance(answers, list) or len(answers) != len(chunk):
                raise DestinationError(
                    f"salesforce collections upsert: expected {len(chunk)} results, got "
                    f"{len(answers) if isinstance(answers, list) else type(answers).__name__}"
                )
            for row, answer in zip(chunk, answers, strict=True):
                if answer.get("success"):
                    results[row.key] = RowResult(row.key, True, dest_id=answer.get("id"))
                else:
                    message = self.redact(self._error_text(answer.get("errors", [])))
                    results[row.key] = RowResult(row.key, False, message)
        return results

    def _upsert_csv(self, rows: Sequence[PlanRow]) -> bytes:
        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(self.columns)
        send_nulls = self.sync.send_nulls
        for row in rows:
            writer.writerow(
                [str(row.key)]
                + [_csv_value(row.fields.get(c), send_nulls) for c in self.columns[1:]]
            )
        return buffer.getvalue().encode("utf-8")

    def _bulk_upsert(self, rows: Sequence[PlanRow]) -> dict[str, RowResult]:
        data = self._upsert_csv(rows)
        if len(data) > MAX_UPLOAD_BYTES and len(rows) > 1:  # one upload per job: split the job
            half = len(rows) // 2
            return {**self._bulk_upsert(rows[:half]), **self._bulk_upsert(rows[half:])}
        by_external_id = {str(row.key): row.key for row in rows}
        job = {
            "object": self.object,
            "externalIdFieldName": self.external_id_field,
            "contentType": "CSV",
            "operation": "upsert",
            "lineEnding": "LF",
        }
        return self._run_job(job, data, self.external_id_field, by_external_id)

    def _delete(self, rows: Sequence[PlanRow]) -> dict[str, RowResult]:
        results = {row.key: RowResult(row.key, True) for row in rows if not row.previous_dest_id}
        by_id = {str(row.previous_dest_id): row.key for row in rows if row.previous_dest_id}
        if len(by_id) >= self.bulk_threshold:
            data = ("Id\n" + "".join(f"{record_id}\n" for record_id in by_id)).encode()
            job = {
                "object": self.object,
                "contentType": "CSV",
                "operation": "delete",
                "lineEnding": "LF",
            }
            found = self._run_job(job, data, "Id", by_id)
        else:
            found = self._collections_delete(by_id)
        for key, result in found.items():
            gone = not result.ok and (result.error or "").startswith(ALREADY_DELETED)
            results[key] = RowResult(key, True) if gone else result
        return results

    def _collections_delete(self, by_id: dict[str, str]) -> dict[str, RowResult]:
        results: dict[str, RowResult] = {}
        ids = list(by_id)
        for start in range(0, len(ids), COLLECTION_SIZE):
            chunk = ids[start : start + COLLECTION_SIZE]
            response = self._call(
                "DELETE",
                f"{self.api}/composite/sobjects?ids={','.join(chunk)}&allOrNone=false",
                None,
                "salesforce collections delete",
            )
            answers = response.json() or []
            if not isinstance(answers, list) or len(answers) != len(chunk):
                raise DestinationError(
                    f"salesforce collections delete: expected {len(chunk)} results"
                )
            for record_id, answer in zip(chunk, answers, strict=True):
                key = by_id[record_id]
                if answer.get("success"):
                    results[key] = RowResult(key, True)
                else:
                    message = self.redact(self._error_text(answer.get("errors", [])))
                    results[key] = RowResult(key, False, message)
        return results

    # --- Bulk API 2.0 ingest job -----------------------------------------------------------

    def _run_job(
        self, job: dict[str, Any], data: bytes, match_column: str, keys: dict[str, str]
    ) -> dict[str, RowResult]:
        """Create, upload, close and poll one ingest job; results keyed by plan row key."""
        created = wait_out_rate_limits(
            lambda: self._call("POST", f"{self.api}/jobs/ingest", job, "salesforce create job"),
            self.retry,
            self.note_retry,
        )
        info = created.json() or {}
        job_id = str(info.get("id") or "")
        if not job_id:
            raise DestinationError("salesforce create job: the answer has no job id")
        job_path = f"{self.api}/jobs/ingest/{job_id}"
        try:
            content_url = "/" + str(info.get("contentUrl") or f"{job_path}/batches").lstrip("/")
            wait_out_rate_limits(
                lambda: self.http.request(
                    "PUT",
                    content_url,
                    data,
                    self._headers("text/csv"),
                    "salesforce upload job data",
                ),
                self.retry,
                self.note_retry,
            )
            wait_out_rate_limits(
                lambda: self._call(
                    "PATCH", job_path, {"state": "UploadComplete"}, "salesforce close job"
                ),
                self.retry,
                self.note_retry,
            )
        except DestinationError:
            self._abort_quietly(job_path)
            raise
        final = poll_until(
            lambda: self._read(job_path, "salesforce job status").json() or {},
            lambda state: state.get("state") in FINAL_STATES,
            self.poll,
            f"salesforce job {job_id}",
        )
        results: dict[str, RowResult] = {}
        for row in read_csv(self._read(f"{job_path}/successfulResults/", "results").body):
            key = keys.get(row.get(match_column, ""))
            if key is not None:
                results[key] = RowResult(key, True, dest_id=row.get("sf__Id") or None)
        for row in read_csv(self._read(f"{job_path}/failedResults/", "failed results").body):
            key = keys.get(row.get(match_column, ""))
            if key is not None:
                results[key] = RowResult(key, False, self.redact(row.get("sf__Error") or "failed"))
        if final.get("state") != "JobComplete":
            reason = self.redact(str(final.get("errorMessage") or "no reason given"))
            for key in keys.values():
                if key not in results:  # unprocessed: not acknowledged, retried next run
                    message = f"not processed: job {final.get('state')}: {reason}"
                    results[key] = RowResult(key, False, message)
        return results

    def _abort_quietly(self, job_path: str) -> None:
        """Best effort: an open job we gave up on should not linger for 7 days."""
        with contextlib.suppress(DestinationError):
            self._call("PATCH", job_path, {"state": "Aborted"}, "salesforce abort job")

    def close(self) -> None:
        self.http.close()
