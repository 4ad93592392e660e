"""HubSpot CRM v3 contacts emulator: batch upsert / update / read / archive, list, GDPR delete.

Contract enforced (HubSpot CRM v3 docs): bearer token; `{"inputs": [...]}` with at most 100
inputs. Writes: each input has `id`, `idProperty: "email"` (upsert) and a `properties`
object; invalid emails are per-row errors in a 207 multi-status answer, and two inputs
naming one contact (an email twice, or an id twice) fail the whole batch. Upsert by email is
idempotent (a resent batch updates, never duplicates); `creates` counts contact creations
per email so tests can prove it.
Reads: `POST .../batch/read` with `properties`, optional `idProperty` and `inputs: [{id}]`
answers `{"status": "COMPLETE", "results": [{id, properties, createdAt, updatedAt,
archived}]}`, ids it does not have as a 207 with an OBJECT_NOT_FOUND error naming them in
`context.ids`; `GET /crm/v3/objects/contacts?limit=&after=&properties=` pages through every
contact (at most 100 a page) with `paging.next.after`. Property values come back as
strings, as HubSpot returns them. `POST /crm/v3/objects/contacts/gdpr-delete` with
`objectId` (and `idProperty: email` to name it by email) deletes permanently: 204, or 404.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any
from urllib.parse import parse_qs

from reverse_etl.testing.server import EmulatorApp, Response

MAX_INPUTS = 100
MAX_PAGE = 100
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
CONTACTS = "/crm/v3/objects/contacts"
PREFIX = f"{CONTACTS}/batch/"
NOW = "2026-01-01T00:00:00.000Z"


def _error(message: str, status: int = 400) -> Response:
    return Response(status, {"status": "error", "category": "VALIDATION_ERROR", "message": message})


class HubSpotEmulator(EmulatorApp):
    kind = "hubspot"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.contacts: dict[str, dict[str, Any]] = {}  # email -> {"id", "properties"}
        self.ids: dict[str, str] = {}  # id -> email
        self.creates: Counter[str] = Counter()
        self.archived: list[str] = []
        self.gdpr_deleted: list[str] = []
        self._next_id = 1000

    def summary(self) -> dict[str, Any]:
        return {
            "contacts": len(self.contacts),
            "creates": sum(self.creates.values()),
            "max_creates_per_email": max(self.creates.values(), default=0),
            "archived": len(self.archived),
            "requests": len(self.requests),
        }

    def parse_body(self, headers: dict[str, str], raw: bytes) -> Any:
        if not raw:
            return {":query": parse_qs(headers.get(":query", ""))}
        return super().parse_body(headers, raw)

    def process(self, method: str, path: str, body: Any, raw: bytes) -> Response:
        if method == "GET" and path.rstrip("/") == CONTACTS:
            return self._list(body.get(":query", {}) if isinstance(body, dict) else {})
        if method == "POST" and path == f"{CONTACTS}/gdpr-delete":
            return self._gdpr_delete(body)
        if method != "POST" or not path.startswith(PREFIX):
            return Response(404, {"status": "error", "message": f"no route {method} {path}"})
        action = path.removeprefix(PREFIX)
        if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
            return _error("body must be an object with an `inputs` array")
        inputs = body["inputs"]
        if not inputs:
            return _error("inputs must not be empty")
        if len(inputs) > MAX_INPUTS:
            return _error(f"batch of {len(inputs)} inputs exceeds the limit of {MAX_INPUTS}")
        if action == "archive":
            return self._archive(inputs)
        if action in ("upsert", "update"):
            return self._write(inputs, create=action == "upsert")
        if action == "read":
            return self._read(inputs, body.get("properties") or [], body.get("idProperty"))
        return Response(404, {"status": "error", "message": f"unknown batch action {action}"})

    def _archive(self, inputs: list[Any]) -> Response:
        for item in inputs:
            if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                return _error("every archive input needs a string `id`")
        for item in inputs:
            self.count(item["id"], removal=True)
            email = self.ids.pop(item["id"], None)
            if email is not None:  # archiving twice is a no-op, as in HubSpot
                self.contacts.pop(email, None)
                self.archived.append(email)
        return Response(204, None, rows=len(inputs))

    def _write(self, inputs: list[Any], create: bool) -> Response:
        for item in inputs:
            if (
                not isinstance(item, dict)
                or not isinstance(item.get("id"), str)
                or item.get("idProperty", None if not create else "missing") not in (None, "email")
                or not isinstance(item.get("properties"), dict)
            ):
                return _error(
                    "every input needs `id` and `properties`; upserts need `idProperty: email`"
                )
        # HubSpot refuses, whole, a batch in which two inputs resolve to one contact
        targets = Counter(
            item["id"].strip().lower() if item.get("idProperty") == "email" else item["id"]
            for item in inputs
        )
        repeated = sorted(target for target, n in targets.items() if n > 1)
        if repeated:
            return _error(f"Duplicate IDs found in batch input: {repeated}. IDs must be unique")
        results, errors = [], []
        for item in inputs:
            by_email = item.get("idProperty") == "email"
            properties = dict(item["properties"])
            if by_email:
                email = item["id"]
            elif "email" in properties:
                email = str(properties["email"])
            elif item["id"] in self.ids:  # an update by id that leaves the email alone
                email = self.ids[item["id"]]
            else:
                self.count(item["id"])
                errors.append(_row_error("OBJECT_NOT_FOUND", "no such contact", item))
                continue
            email = email.strip().lower()
            self.count(email)
            if not EMAIL.match(email):
                errors.append(_row_error("VALIDATION_ERROR", f"invalid email {email!r}", item))
                continue
            contact = self.contacts.get(email) if by_email else self._by_id(item["id"])
            is_new = contact is None
            if is_new and not create:
                errors.append(_row_error("OBJECT_NOT_FOUND", "no such contact", item))
                continue
            if not by_email and contact is not None:
                owner = self.contacts.get(email)
                if owner is not None and owner is not contact:
                    errors.append(_row_error("CONFLICT", "email belongs to another contact", item))
                    continue
                old_email = contact["properties"].get("email")
                if old_email != email:  # renamed: re-index under the new email
                    self.contacts.pop(old_email, None)
                    self.contacts[email] = contact
                    self.ids[contact["id"]] = email
            if contact is None:
                self._next_id += 1
                contact = {"id": str(self._next_id), "properties": {}}
                self.contacts[email] = contact
                self.ids[contact["id"]] = email
                self.creates[email] += 1
            contact["properties"].update(properties)
            contact["properties"]["email"] = email
            results.append(
                {"id": contact["id"], "properties": dict(contact["properties"]), "new": is_new}
            )
        body: dict[str, Any] = {"status": "COMPLETE", "results": results}
        if errors:
            body["errors"] = errors
            body["numErrors"] = len(errors)
        return Response(207 if errors else 200, body, rows=len(inputs))

    @staticmethod
    def _public(contact: dict[str, Any], properties: list[str]) -> dict[str, Any]:
        values = contact["properties"]
        shown = {name: values.get(name) for name in properties} if properties else dict(values)
        shown["hs_object_id"] = contact["id"]
        return {
            "id": contact["id"],
            "properties": {k: None if v is None else _as_text(v) for k, v in shown.items()},
            "createdAt": NOW,
            "updatedAt": NOW,
            "archived": False,
        }

    def _read(self, inputs: list[Any], properties: Any, id_property: Any) -> Response:
        if not isinstance(properties, list) or id_property not in (None, "email"):
            return _error("`properties` must be a list; idProperty may only be email here")
        results, missing = [], []
        for item in inputs:
            if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                return _error("every read input needs a string `id`")
            wanted = item["id"]
            contact = (
                self.contacts.get(wanted.strip().lower()) if id_property else self._by_id(wanted)
            )
            if contact is None:
                missing.append(wanted)
            else:
                results.append(self._public(contact, properties))
        body: dict[str, Any] = {"status": "COMPLETE", "results": results}
        if missing:
            body["errors"] = [
                {
                    "status": "error",
                    "category": "OBJECT_NOT_FOUND",
                    "message": "Could not get some CONTACT objects, they may be deleted or not "
                    "exist. Check that ids are valid.",
                    "context": {"ids": missing},
                }
            ]
            body["numErrors"] = 1
        return Response(207 if missing else 200, body, rows=len(inputs))

    def _list(self, query: dict[str, list[str]]) -> Response:
        try:
            limit = int((query.get("limit") or ["10"])[0])
            after = int((query.get("after") or ["0"])[0])
        except ValueError:
            return _error("limit and after must be integers")
        if not 1 <= limit <= MAX_PAGE:
            return _error(f"limit must be between 1 and {MAX_PAGE}")
        properties = [p for v in query.get("properties", []) for p in v.split(",") if p]
        ordered = sorted(self.contacts.values(), key=lambda c: int(c["id"]))
        page = [c for c in ordered if int(c["id"]) > after][:limit]
        body: dict[str, Any] = {"results": [self._public(c, properties) for c in page]}
        if page and int(page[-1]["id"]) < int(ordered[-1]["id"]):
            cursor = page[-1]["id"]
            body["paging"] = {"next": {"after": cursor, "link": f"{CONTACTS}?after={cursor}"}}
        return Response(200, body)

    def _gdpr_delete(self, body: Any) -> Response:
        if not isinstance(body, dict) or not isinstance(body.get("objectId"), str):
            return _error("gdpr-delete needs an `objectId`")
        if body.get("idProperty") not in (None, "email"):
            return _error("idProperty may only be email here")
        object_id = body["objectId"]
        self.count(object_id, removal=True)
        if body.get("idProperty"):
            contact = self.contacts.get(object_id.strip().lower())
        else:
            contact = self._by_id(object_id)
        if contact is None:
            return Response(404, {"status": "error", "category": "OBJECT_NOT_FOUND"})
        email = self.ids.pop(contact["id"])
        self.contacts.pop(email, None)
        self.gdpr_deleted.append(email)
        return Response(204, None, rows=1)

    def _by_id(self, contact_id: str) -> dict[str, Any] | None:
        email = self.ids.get(contact_id)
        return None if email is None else self.contacts.get(email)


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _row_error(category: str, message: str, item: dict[str, Any]) -> dict[str, Any]:
    return {
        "status": "error",
        "category": category,
        "message": message,
        "context": {"ids": [item["id"]]},
    }
