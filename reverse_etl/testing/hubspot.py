"""HubSpot CRM v3 contacts emulator: batch upsert / update by email, batch archive.

Contract enforced: bearer token, `{"inputs": [...]}` with at most 100 inputs, each with
`id`, `idProperty: "email"` and a `properties` object; invalid emails are per-row errors in
a 207 multi-status answer. Upsert by email is idempotent (a resent batch updates, never
duplicates); `creates` counts contact creations per email so tests can prove it.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from reverse_etl.testing.server import EmulatorApp, Response

MAX_INPUTS = 100
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PREFIX = "/crm/v3/objects/contacts/batch/"


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
        self._next_id = 1000

    def summary(self) -> dict[str, Any]:
        return {
            "contacts": len(self.contacts),
            "creates": sum(self.creates.values()),
            "max_creates_per_email": max(self.creates.values(), default=0),
            "archived": len(self.archived),
            "requests": len(self.requests),
        }

    def process(self, method: str, path: str, body: Any, raw: bytes) -> Response:
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
        results, errors = [], []
        for item in inputs:
            by_email = item.get("idProperty") == "email"
            properties = dict(item["properties"])
            email = (item["id"] if by_email else str(properties.get("email", ""))).strip().lower()
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

    def _by_id(self, contact_id: str) -> dict[str, Any] | None:
        email = self.ids.get(contact_id)
        return None if email is None else self.contacts.get(email)


def _row_error(category: str, message: str, item: dict[str, Any]) -> dict[str, Any]:
    return {
        "status": "error",
        "category": category,
        "message": message,
        "context": {"ids": [item["id"]]},
    }
