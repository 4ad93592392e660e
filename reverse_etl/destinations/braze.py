"""Braze `POST /users/track`: user attributes keyed by `external_id` (or `email`), and
subscription state from the sync's consent purpose.

Each row is one attribute object; a request carries at most 75 objects in total across
`attributes`, `events` and `purchases` (the limit since Braze's 2024 rate-limit change), and
Braze allows 3,000 requests per 3 s. A 201 may list "minor errors" as
`{"type", "input_array", "index"}`: those rows were skipped and are recorded as rejected.

Consent: rows only reach Braze when the sync's consent purpose is granted (the planner joins
it), so every object sent says so: `email_subscribe: opted_in` for the `email` purpose, and
`subscription_groups: [{id, subscribed}]` when the sync names `options.subscription_group_id`.
`mirror` keeps that group equal to the segment: a person who leaves it is unsubscribed
from the group. A person who revokes consent for the sync's purpose is suppressed in every
mode: unsubscribed from the group and, for the `email` purpose, `email_subscribe:
unsubscribed`. A deletion request deletes the Braze user (`POST /users/delete`, 50
identifiers per call, by the `external_id` or email we synced). Nothing else deletes users.

Idempotency: `/users/track` attribute objects set values, so a batch resent after a crash
writes the same values again and creates no second user (the user is keyed by its id).

Reading back (`tessera sync reconcile`): `POST /users/export/ids`, 50 `external_ids` a
call (one `email_address` a call for syncs keyed by email), standard attributes from the
user's top level and the others from `custom_attributes`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reverse_etl.config import ConfigError
from reverse_etl.destinations.base import (
    BaseDestination,
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

IDENTIFIERS = ("external_id", "email")
SET_BY_CONSENT = ("email_subscribe", "subscription_groups")
SYNC_OPTIONS = ("subscription_group_id",)
MAX_OBJECTS = 75
MAX_DELETES = 50  # identifiers per /users/delete call
MAX_EXPORT_IDS = 50  # external_ids per /users/export/ids call
STANDARD_ATTRIBUTES = (
    "external_id",
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
)
DELETE_FIELD = {"external_id": "external_ids", "email": "email_addresses"}


class BrazeUsers(BaseDestination):
    type = "braze"
    modes = ("upsert", "mirror")
    max_batch_size = MAX_OBJECTS
    required_credentials = ("api_key",)
    documented_rate_limit = "3,000 requests / 3 s"
    readable = True
    read_batch_size = MAX_EXPORT_IDS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.identifier = identifier_field(self.sync)
        group = self.sync.options.get("subscription_group_id")
        self.group_id = str(group) if group is not None else None
        self.http = self.http_client()

    @classmethod
    def match_field(cls, sync: SyncConfig) -> MatchField:
        identifier = identifier_field(sync)  # external_id is case-sensitive in Braze
        return MatchField(identifier, case_insensitive=identifier == "email", record="user")

    @classmethod
    def check_sync(cls, sync: SyncConfig) -> None:
        where = f"{sync.source_file}: sync {sync.name!r}"
        if sync.object != "users":
            raise ConfigError(f"{where} field `object`: braze syncs `users`, not {sync.object!r}")
        unknown = sorted(set(sync.options) - set(SYNC_OPTIONS))
        if unknown:
            raise ConfigError(
                f"{where} field `options`: unknown option(s) {', '.join(unknown)} "
                f"(known: {', '.join(SYNC_OPTIONS)})"
            )
        identifier = identifier_field(sync)
        if identifier in sync.hashing:
            raise ConfigError(f"{where} field `hashing`: Braze needs the plain {identifier}")
        clash = [f for f in SET_BY_CONSENT if f in sync.mapping]
        if clash:
            raise ConfigError(
                f"{where} field `mapping`: {', '.join(clash)} is set from the sync's `consent` "
                "and `options.subscription_group_id`; do not map it"
            )
        if sync.mode == "mirror" and not sync.options.get("subscription_group_id"):
            raise ConfigError(
                f"{where} field `options.subscription_group_id`: mode `mirror` keeps a Braze "
                "subscription group equal to the segment and needs the group's id"
            )

    def _headers(self) -> dict[str, str]:
        key = self._secrets["api_key"].get_secret_value()
        return {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    def _group_state(self, state: str) -> list[dict[str, str]]:
        return [{"subscription_group_id": str(self.group_id), "subscription_state": state}]

    def _subscribe(self, row: PlanRow, identifier: str) -> dict[str, Any]:
        attributes = clean_properties(row.fields, self.sync.send_nulls)
        attributes[self.identifier] = identifier
        if self.sync.consent == "email":
            attributes["email_subscribe"] = "opted_in"
        if self.group_id and self.sync.consent:
            attributes["subscription_groups"] = self._group_state("subscribed")
        return attributes

    def _unsubscribe(self, identifier: str, suppress: bool = False) -> dict[str, Any]:
        attributes: dict[str, Any] = {self.identifier: identifier}
        if self.group_id:
            attributes["subscription_groups"] = self._group_state("unsubscribed")
        if suppress and self.sync.consent == "email":
            attributes["email_subscribe"] = "unsubscribed"
        return attributes

    def send(self, rows: Sequence[PlanRow], operation: Operation) -> list[RowResult]:
        if operation == "erase":
            return self._delete_users(rows)
        results: dict[str, RowResult] = {}
        # (row key, attribute object, whether it is the row's own object): a row whose
        # identifier changed also sends an object unsubscribing its old identity
        objects: list[tuple[str, dict[str, Any], bool]] = []
        for row in rows:
            if is_removal(operation):
                unsubscribe = self._unsubscribe(
                    str(row.previous_dest_id), suppress=operation == "suppress"
                )
                if row.previous_dest_id and len(unsubscribe) > 1:
                    objects.append((row.key, unsubscribe, True))
                else:  # nothing Braze holds for this sync to take back
                    results[row.key] = RowResult(row.key, True)
                continue
            identifier = str(row.fields.get(self.identifier) or "").strip()
            if not identifier:
                results[row.key] = RowResult(row.key, False, f"no {self.identifier} to key on")
                continue
            if row.previous_dest_id and row.previous_dest_id != identifier and self.group_id:
                objects.append((row.key, self._unsubscribe(row.previous_dest_id), False))
            objects.append((row.key, self._subscribe(row, identifier), True))
        for start in range(0, len(objects), MAX_OBJECTS):
            self._track(objects[start : start + MAX_OBJECTS], operation, results)
        return [
            results.get(row.key) or RowResult(row.key, False, "no result returned for this row")
            for row in rows
        ]

    def _track(
        self,
        objects: list[tuple[str, dict[str, Any], bool]],
        operation: Operation,
        results: dict[str, RowResult],
    ) -> None:
        response = self.http.request(
            "POST",
            "/users/track",
            dumps({"attributes": [attributes for _, attributes, _ in objects]}),
            self._headers(),
            what="braze users/track",
        )
        body = response.json() or {}
        rejected: dict[int, str] = {}
        for error in body.get("errors") or []:
            if isinstance(error, dict) and error.get("input_array") == "attributes":
                index = error.get("index")
                if isinstance(index, int):
                    rejected[index] = self.redact(str(error.get("type") or "rejected"))
        for index, (key, attributes, own) in enumerate(objects):
            if index in rejected:
                results[key] = RowResult(key, False, rejected[index])
            elif not own or (key in results and not results[key].ok):
                continue  # a failed unsubscribe of the old identity fails the row
            elif is_removal(operation):
                results[key] = RowResult(key, True)
            else:
                results[key] = RowResult(key, True, dest_id=str(attributes[self.identifier]))

    def comparable(self, row: PlanRow) -> dict[str, Any]:
        attributes = clean_properties(row.fields, self.sync.send_nulls)
        attributes[self.identifier] = str(row.fields.get(self.identifier) or "").strip()
        return attributes

    def read(self, rows: Sequence[PlanRow]) -> dict[str, RemoteRecord | None]:
        found: dict[str, RemoteRecord | None] = {row.key: None for row in rows}
        wanted: dict[str, list[PlanRow]] = {}
        for row in rows:
            value = row.previous_dest_id or str(row.fields.get(self.identifier) or "").strip()
            if value:
                wanted.setdefault(value, []).append(row)
        fields = sorted(
            {*STANDARD_ATTRIBUTES, "custom_attributes"}
            & {*self.sync.mapping, self.identifier, "custom_attributes"}
        )
        if self.identifier == "external_id":
            values = list(wanted)
            requests = [
                {"external_ids": values[i : i + MAX_EXPORT_IDS]}
                for i in range(0, len(values), MAX_EXPORT_IDS)
            ]
        else:
            requests = [{"email_address": value} for value in wanted]
        for request in requests:
            response = self.http.request(
                "POST",
                "/users/export/ids",
                dumps({**request, "fields_to_export": fields}),
                self._headers(),
                what="braze users/export/ids",
            )
            for user in (response.json() or {}).get("users") or []:
                identifier = str(user.get(self.identifier) or "")
                custom = user.get("custom_attributes") or {}
                values = {
                    name: user.get(name) if name in STANDARD_ATTRIBUTES else custom.get(name)
                    for name in {*self.sync.mapping, self.identifier}
                }
                for row in wanted.get(identifier, []):
                    found[row.key] = RemoteRecord(identifier, values)
        return found

    def _delete_users(self, rows: Sequence[PlanRow]) -> list[RowResult]:
        """Deletion requests: delete the Braze users we synced (by the identifier we used)."""
        identifiers = {}
        for row in rows:
            value = row.previous_dest_id or str(row.fields.get(self.identifier) or "").strip()
            if value:
                identifiers[row.key] = value
        values = sorted(set(identifiers.values()))
        for start in range(0, len(values), MAX_DELETES):
            self.http.request(
                "POST",
                "/users/delete",
                dumps({DELETE_FIELD[self.identifier]: values[start : start + MAX_DELETES]}),
                self._headers(),
                what="braze users/delete",
            )
        return [RowResult(row.key, True) for row in rows]

    def close(self) -> None:
        self.http.close()


def identifier_field(sync: SyncConfig) -> str:
    for name in IDENTIFIERS:
        if name in sync.mapping:
            return name
    raise ConfigError(
        f"{sync.source_file}: sync {sync.name!r} field `mapping` needs `external_id` (or "
        "`email`): Braze users are keyed by one of them"
    )
