"""Braze emulator: `POST /users/track`.

Contract enforced (Braze REST API docs): bearer REST API key; a JSON object whose optional
`attributes`, `events` and `purchases` arrays hold at most 75 objects in total; each object
names one user: exactly one of `external_id`, `user_alias`, `braze_id`, or else an `email`
or `phone` (then they identify the user; otherwise they are attributes). Invalid objects
are skipped and reported as minor errors `{"type", "input_array", "index"}` in a 201
`{"message": "success", ...}`; when no object is valid the answer is a 400 with the same
errors. Checked per attribute object: `email` is an
email address, `email_subscribe` is opted_in|subscribed|unsubscribed, and
`subscription_groups` entries have an id and subscribed|unsubscribed. The rate limit
(3,000 requests per 3 s) is the shared server's, switched on by the test or benchmark.

Reads and deletes (Braze docs): `POST /users/export/ids` with up to 50 `external_ids` (or
one `email_address`) and `fields_to_export` (required) answers `{"users": [...],
"invalid_user_ids": [...], "message": "success"}`; standard attributes (first_name, email,
email_subscribe ...) are top-level fields of a user, every other attribute is under
`custom_attributes`. `POST /users/delete` with up to 50 `external_ids` or
`email_addresses` (one kind per request) deletes them: `{"deleted": n, "message":
"success"}`.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from reverse_etl.testing.server import EmulatorApp, Response

MAX_OBJECTS = 75
PROFILE_IDS = ("external_id", "user_alias", "braze_id")
CONTACT_IDS = ("email", "phone")  # identify the user only when no profile id is given
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
EMAIL_SUBSCRIBE = ("opted_in", "subscribed", "unsubscribed")
GROUP_STATES = ("subscribed", "unsubscribed")
MAX_EXPORT = MAX_DELETE = 50
STANDARD = {
    "external_id",
    "braze_id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "country",
    "language",
    "gender",
    "dob",
    "home_city",
    "time_zone",
    "email_subscribe",
    "push_subscribe",
}
NOTHING_VALID = "Valid data must be provided in the 'attributes', 'events', or 'purchases' fields."


class BrazeEmulator(EmulatorApp):
    kind = "braze"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.users: dict[tuple[str, str], dict[str, Any]] = {}  # (id type, id) -> attributes
        self.groups: dict[str, set[tuple[str, str]]] = {}  # group id -> subscribed users
        self.creates: Counter[tuple[str, str]] = Counter()
        self.events = 0
        self.purchases = 0
        self.deleted: list[tuple[str, str]] = []

    def summary(self) -> dict[str, Any]:
        return {
            "users": len(self.users),
            "groups": {g: len(m) for g, m in self.groups.items()},
            "max_creates_per_user": max(self.creates.values(), default=0),
            "requests": len(self.requests),
        }

    def subscribed(self, group_id: str) -> dict[str, dict[str, Any]]:
        """Identifier value -> attributes of the users subscribed to `group_id`."""
        return {user[1]: dict(self.users[user]) for user in self.groups.get(group_id, set())}

    def process(self, method: str, path: str, body: Any, raw: bytes) -> Response:
        if method == "POST" and path == "/users/export/ids":
            return self._export(body)
        if method == "POST" and path == "/users/delete":
            return self._delete(body)
        if method != "POST" or path != "/users/track":
            return Response(404, {"message": f"no route {method} {path}"})
        if not isinstance(body, dict):
            return Response(400, {"message": "body must be a JSON object"})
        arrays = {name: body.get(name) or [] for name in ("attributes", "events", "purchases")}
        for name, items in arrays.items():
            if not isinstance(items, list):
                return Response(400, {"message": f"'{name}' must be an array"})
        total = sum(len(items) for items in arrays.values())
        if total > MAX_OBJECTS:
            return Response(
                400,
                {"message": f"{total} objects exceed the limit of {MAX_OBJECTS} per request"},
            )
        errors: list[dict[str, Any]] = []
        processed = Counter[str]()
        for name, items in arrays.items():
            for index, item in enumerate(items):
                problem = self._check(name, item)
                if problem:
                    errors.append({"type": problem, "input_array": name, "index": index})
                    continue
                processed[name] += 1
                self._apply(name, item)
        if not processed:
            return Response(400, {"message": NOTHING_VALID, "errors": errors}, rows=total)
        answer: dict[str, Any] = {"message": "success"}
        for name, count in processed.items():
            answer[f"{name}_processed"] = count
        if errors:
            answer["errors"] = errors
        return Response(201, answer, rows=total)

    def _export(self, body: Any) -> Response:
        if not isinstance(body, dict) or not isinstance(body.get("fields_to_export"), list):
            return Response(400, {"message": "'fields_to_export' is required"})
        fields = body["fields_to_export"]
        if "external_ids" in body:
            ids = body["external_ids"]
            if not isinstance(ids, list) or len(ids) > MAX_EXPORT:
                return Response(400, {"message": f"send at most {MAX_EXPORT} external_ids"})
            wanted = [("external_id", str(i)) for i in ids]
        elif isinstance(body.get("email_address"), str):
            wanted = [("email", body["email_address"])]
        else:
            return Response(400, {"message": "name external_ids or one email_address"})
        users, invalid = [], []
        for user in wanted:
            attributes = self.users.get(user)
            if attributes is None:
                invalid.append(user[1])
                continue
            exported: dict[str, Any] = {user[0]: user[1]}
            custom = {k: v for k, v in attributes.items() if k not in STANDARD}
            for field in fields:
                if field == "custom_attributes":
                    exported["custom_attributes"] = custom
                elif field in STANDARD and field in attributes:
                    exported[field] = attributes[field]
            users.append(exported)
        answer: dict[str, Any] = {"users": users, "message": "success"}
        if invalid:
            answer["invalid_user_ids"] = invalid
        return Response(201, answer, rows=len(wanted))

    def _delete(self, body: Any) -> Response:
        kinds = {"external_ids": "external_id", "email_addresses": "email"}
        named = [k for k in kinds if isinstance(body, dict) and k in body]
        if len(named) != 1 or not isinstance(body[named[0]], list):
            return Response(400, {"message": "name exactly one of external_ids, email_addresses"})
        values = body[named[0]]
        if len(values) > MAX_DELETE:
            return Response(400, {"message": f"at most {MAX_DELETE} identifiers per request"})
        deleted = 0
        for value in values:
            user = (kinds[named[0]], str(value))
            self.count(f"{user[0]}:{user[1]}", removal=True)
            if self.users.pop(user, None) is not None:
                deleted += 1
                self.deleted.append(user)
                for members in self.groups.values():
                    members.discard(user)
        return Response(201, {"deleted": deleted, "message": "success"}, rows=len(values))

    def _check(self, array: str, item: Any) -> str | None:
        if not isinstance(item, dict):
            return "object is not a JSON object"
        if _identifier(item) is None:
            return "exactly one of external_id, user_alias or braze_id (or else email or phone) "
            "is required"
        if array == "events" and not (item.get("name") and item.get("time")):
            return "events need 'name' and 'time'"
        if array == "purchases" and not all(
            item.get(k) is not None for k in ("product_id", "currency", "price", "time")
        ):
            return "purchases need 'product_id', 'currency', 'price' and 'time'"
        if array != "attributes":
            return None
        email = item.get("email")
        if email is not None and not EMAIL.match(str(email).strip()):
            return "'email' must be a valid email address"
        if item.get("email_subscribe", "opted_in") not in EMAIL_SUBSCRIBE:
            return "'email_subscribe' must be opted_in, subscribed or unsubscribed"
        groups = item.get("subscription_groups", [])
        if not isinstance(groups, list) or not all(
            isinstance(g, dict)
            and isinstance(g.get("subscription_group_id"), str)
            and g.get("subscription_state") in GROUP_STATES
            for g in groups
        ):
            return "'subscription_groups' entries need subscription_group_id and a valid state"
        return None

    def _apply(self, array: str, item: dict[str, Any]) -> None:
        user = _identifier(item)
        assert user is not None  # checked before
        self.count(f"{user[0]}:{user[1]}")
        if array == "events":
            self.events += 1
            return
        if array == "purchases":
            self.purchases += 1
            return
        attributes = self.users.get(user)
        if attributes is None:
            attributes = self.users[user] = {}
            self.creates[user] += 1
        for name, value in item.items():
            if name == "subscription_groups":
                for group in value:
                    members = self.groups.setdefault(group["subscription_group_id"], set())
                    if group["subscription_state"] == "subscribed":
                        members.add(user)
                    else:
                        members.discard(user)
            elif value is None:
                attributes.pop(name, None)  # Braze: null removes the attribute
            else:
                attributes[name] = value


def _identifier(item: dict[str, Any]) -> tuple[str, str] | None:
    """The one user identifier of an object: a profile id, else an email or phone."""
    for kinds in (PROFILE_IDS, CONTACT_IDS):
        named = [kind for kind in kinds if item.get(kind) not in (None, "")]
        if len(named) > 1:
            return None
        if named:
            return named[0], str(item[named[0]])
    return None
