"""HubSpot CRM contacts: batch upsert/update by email, batch archive for mirror removals.

New rows are upserted by `idProperty: email`, which is idempotent: a batch resent after a
crash (sent but never acknowledged in our state) updates the same contacts instead of
creating duplicates. Rows we synced before are updated by the contact id HubSpot gave us,
so a changed email renames the contact rather than creating a second one. Partial failures
come back as 207 multi-status with `errors[].context.ids` naming the rows.

Removals: a row that left a `mirror` segment, or whose person revoked consent for the
sync's purpose, is archived (`batch/archive`, by contact id; archiving twice is a no-op). A
deletion request goes through `gdpr-delete`, HubSpot's permanent delete for personal data
(one contact per call, by contact id, or by email when we never learnt the id).

Reading back (`tessera sync reconcile`): `batch/read` by contact id for rows we synced, by
email (`idProperty`) for rows never acknowledged, 100 inputs a call, asking only for the
mapped properties.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reverse_etl.config import ConfigError
from reverse_etl.destinations.base import (
    BaseDestination,
    BatchRejectedError,
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

ID_PROPERTY = "email"


class HubSpotContacts(BaseDestination):
    type = "hubspot"
    modes = ("upsert", "update", "insert", "mirror")
    max_batch_size = 100
    required_credentials = ("token",)
    readable = True
    read_batch_size = 100

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.http = self.http_client()

    @classmethod
    def check_sync(cls, sync: SyncConfig) -> None:
        if sync.object != "contacts":
            raise ConfigError(
                f"{sync.source_file}: sync {sync.name!r} field `object`: hubspot destinations "
                f"sync `contacts`, not {sync.object!r}"
            )
        if ID_PROPERTY not in sync.mapping:
            raise ConfigError(
                f"{sync.source_file}: sync {sync.name!r} field `mapping` needs an `email` "
                "entry: HubSpot contacts are upserted by email"
            )
        if ID_PROPERTY in sync.hashing:
            raise ConfigError(
                f"{sync.source_file}: sync {sync.name!r} field `hashing`: HubSpot needs the "
                "plain email as its id property; do not hash it"
            )

    @classmethod
    def match_field(cls, sync: SyncConfig) -> MatchField:
        return MatchField(ID_PROPERTY, case_insensitive=True, record="contact")

    def _headers(self) -> dict[str, str]:
        token = self._secrets["token"].get_secret_value()
        return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def send(self, rows: Sequence[PlanRow], operation: Operation) -> list[RowResult]:
        if operation == "erase":
            return self._gdpr_delete(rows)
        if is_removal(operation):
            return self._archive(rows)
        results: dict[str, RowResult] = {}
        by_id: list[tuple[PlanRow, str]] = []
        by_email: list[tuple[PlanRow, str]] = []
        for row in rows:
            email = str(row.fields.get(ID_PROPERTY) or "").strip().lower()
            if not email:
                results[row.key] = RowResult(row.key, False, "no email to upsert by")
            elif row.previous_dest_id:
                by_id.append((row, email))  # known contact: its email may have changed
            else:
                by_email.append((row, email))
        if by_id:
            by_email += self._update_by_id(by_id, results)
        if by_email:
            self._write_by_email(by_email, "update" if operation == "update" else "upsert", results)
        return [
            results.get(row.key) or RowResult(row.key, False, "no result returned for this row")
            for row in rows
        ]

    def _properties(self, row: PlanRow, email: str) -> dict[str, Any]:
        properties = clean_properties(row.fields, self.sync.send_nulls)
        properties[ID_PROPERTY] = email
        return properties

    def _post(self, verb: str, inputs: list[dict[str, Any]]) -> dict[str, Any]:
        response = self.http.request(
            "POST",
            f"/crm/v3/objects/contacts/batch/{verb}",
            dumps({"inputs": inputs}),
            self._headers(),
            what=f"hubspot batch {verb}",
        )
        return response.json() or {}

    def _error_message(self, error: dict[str, Any]) -> str:
        return self.redact(f"{error.get('category', 'ERROR')}: {error.get('message', 'rejected')}")

    def _update_by_id(
        self, rows: list[tuple[PlanRow, str]], results: dict[str, RowResult]
    ) -> list[tuple[PlanRow, str]]:
        """Update contacts we created before by their id, so a changed email renames the
        contact instead of creating a second one. Returns rows HubSpot no longer has."""
        by_dest: dict[str, list[tuple[PlanRow, str]]] = {}
        for row, email in rows:
            by_dest.setdefault(str(row.previous_dest_id), []).append((row, email))
        inputs = [
            {"id": dest_id, "properties": self._properties(*pairs[-1])}
            for dest_id, pairs in by_dest.items()
        ]
        body = self._post("update", inputs)
        for result in body.get("results", []):
            for row, _ in by_dest.get(str(result.get("id")), []):
                results[row.key] = RowResult(row.key, True, dest_id=str(result.get("id")))
        gone: list[tuple[PlanRow, str]] = []
        for error in body.get("errors", []):
            for dest_id in (error.get("context") or {}).get("ids", []):
                pairs = by_dest.get(str(dest_id), [])
                if error.get("category") == "OBJECT_NOT_FOUND":
                    gone += pairs  # deleted in HubSpot: upsert by email instead
                else:
                    for row, _ in pairs:
                        results[row.key] = RowResult(row.key, False, self._error_message(error))
        return gone

    def _write_by_email(
        self, rows: list[tuple[PlanRow, str]], verb: str, results: dict[str, RowResult]
    ) -> None:
        by_email: dict[str, list[str]] = {}
        inputs = []
        for row, email in rows:
            by_email.setdefault(email, []).append(row.key)
            inputs.append(
                {"id": email, "idProperty": ID_PROPERTY, "properties": self._properties(row, email)}
            )
        body = self._post(verb, inputs)
        for result in body.get("results", []):
            email = str(result.get("properties", {}).get(ID_PROPERTY, "")).lower()
            for key in by_email.get(email, []):
                results[key] = RowResult(key, True, dest_id=str(result.get("id")))
        for error in body.get("errors", []):
            for email in (error.get("context") or {}).get("ids", []):
                for key in by_email.get(str(email).lower(), []):
                    results[key] = RowResult(key, False, self._error_message(error))

    def _archive(self, rows: Sequence[PlanRow]) -> list[RowResult]:
        ids = [row.previous_dest_id for row in rows if row.previous_dest_id]
        if ids:
            self.http.request(
                "POST",
                "/crm/v3/objects/contacts/batch/archive",
                dumps({"inputs": [{"id": i} for i in ids]}),
                self._headers(),
                what="hubspot batch archive",
            )
        return [RowResult(row.key, True) for row in rows]

    def comparable(self, row: PlanRow) -> dict[str, Any]:
        email = str(row.fields.get(ID_PROPERTY) or "").strip().lower()
        return self._properties(row, email)

    def read(self, rows: Sequence[PlanRow]) -> dict[str, RemoteRecord | None]:
        found: dict[str, RemoteRecord | None] = {row.key: None for row in rows}
        by_id = {str(r.previous_dest_id): r for r in rows if r.previous_dest_id}
        by_email = {
            str(r.fields.get(ID_PROPERTY) or "").strip().lower(): r
            for r in rows
            if not r.previous_dest_id and r.fields.get(ID_PROPERTY)
        }
        properties = sorted({*self.sync.mapping, ID_PROPERTY})
        for id_property, wanted in ((None, by_id), (ID_PROPERTY, by_email)):
            if not wanted:
                continue
            body: dict[str, Any] = {
                "properties": properties,
                "inputs": [{"id": value} for value in wanted],
            }
            if id_property:
                body["idProperty"] = id_property
            response = self.http.request(
                "POST",
                "/crm/v3/objects/contacts/batch/read",
                dumps(body),
                self._headers(),
                what="hubspot batch read",
            )
            for result in (response.json() or {}).get("results", []):
                values = result.get("properties") or {}
                lookup = str(result.get("id")) if id_property is None else values.get(ID_PROPERTY)
                row = wanted.get(str(lookup or "").strip().lower() if id_property else lookup)
                if row is not None:
                    fields = {name: values.get(name) for name in properties}
                    found[row.key] = RemoteRecord(str(result.get("id")), fields)
        return found

    def _gdpr_delete(self, rows: Sequence[PlanRow]) -> list[RowResult]:
        results = []
        for row in rows:
            email = str(row.fields.get(ID_PROPERTY) or "").strip().lower()
            if row.previous_dest_id:
                body: dict[str, Any] = {"objectId": row.previous_dest_id}
            elif email:
                body = {"objectId": email, "idProperty": ID_PROPERTY}
            else:  # never acknowledged and no email left to find it by: nothing we know of
                results.append(RowResult(row.key, True))
                continue
            try:
                self.http.request(
                    "POST",
                    "/crm/v3/objects/contacts/gdpr-delete",
                    dumps(body),
                    self._headers(),
                    what="hubspot gdpr-delete",
                )
            except BatchRejectedError as exc:
                if "HTTP 404" not in str(exc):  # already gone is what we wanted
                    results.append(RowResult(row.key, False, str(exc)))
                    continue
            results.append(RowResult(row.key, True))
        return results

    def close(self) -> None:
        self.http.close()
