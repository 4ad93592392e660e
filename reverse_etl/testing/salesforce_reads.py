"""Salesforce emulator reads: SOQL query (with query locators) and sObject GET by external id.

Mixed into SalesforceEmulator (salesforce.py), whose `records` hold object -> external id ->
record. The SOQL understood is `SELECT f, ... FROM Object [WHERE Field IN ('a', ...)]`.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

from reverse_etl.testing.server import Response

API = r"/services/data/v[0-9]{2}\.[0-9]"
QUERY = re.compile(rf"^{API}/query/?$")
QUERY_MORE = re.compile(rf"^{API}/query/([A-Za-z0-9]+)-([0-9]+)$")
BY_EXTERNAL_ID = re.compile(rf"^{API}/sobjects/([A-Za-z0-9_]+)/([A-Za-z0-9_]+)/([^/]+)$")
SOQL = re.compile(
    r"^\s*SELECT\s+(?P<fields>[A-Za-z0-9_,\s]+?)\s+FROM\s+(?P<object>[A-Za-z0-9_]+)"
    r"(?:\s+WHERE\s+(?P<field>[A-Za-z0-9_]+)\s+IN\s*\((?P<values>.*)\))?\s*$",
    re.IGNORECASE | re.DOTALL,
)
SOQL_STRING = re.compile(r"'((?:[^'\\]|\\.)*)'")


def _error(status: int, code: str, message: str) -> Response:
    return Response(status, [{"errorCode": code, "message": message}])


class SalesforceReads:
    records: dict[str, dict[str, dict[str, Any]]]
    query_page_size: int
    _cursors: dict[str, list[dict[str, Any]]]

    def _new_id(self, prefix: str) -> str:  # provided by SalesforceEmulator
        raise NotImplementedError

    # --- reads -----------------------------------------------------------------------------

    @staticmethod
    def _shown(obj: str, record: dict[str, Any], fields: list[str]) -> dict[str, Any]:
        url = f"/services/data/v61.0/sobjects/{obj}/{record['Id']}"
        return {
            "attributes": {"type": obj, "url": url},
            **{f: record.get(f) for f in fields},
        }

    def _query(self, soql: str) -> Response:
        match = SOQL.match(soql)
        if not match:
            return _error(400, "MALFORMED_QUERY", f"unsupported query: {soql[:200]}")
        fields = [f.strip() for f in match.group("fields").split(",") if f.strip()]
        obj = match.group("object")
        records = list(self.records.get(obj, {}).values())
        if match.group("field"):
            field = match.group("field")
            wanted = {
                re.sub(r"\\(.)", r"\1", v) for v in SOQL_STRING.findall(match.group("values"))
            }
            records = [r for r in records if str(r.get(field)) in wanted]
        rows = [self._shown(obj, r, fields) for r in sorted(records, key=lambda r: r["Id"])]
        locator = self._new_id("01g")
        self._cursors[locator] = rows
        return self._page(locator, 0)

    def _page(self, locator: str, offset: int) -> Response:
        rows = self._cursors.get(locator)
        if rows is None:
            return _error(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        page = rows[offset : offset + self.query_page_size]
        end = offset + len(page)
        body: dict[str, Any] = {"totalSize": len(rows), "done": end >= len(rows), "records": page}
        if end < len(rows):
            body["nextRecordsUrl"] = f"/services/data/v61.0/query/{locator}-{end}"
        else:
            self._cursors.pop(locator, None)
        return Response(200, body, rows=len(page))

    def _by_external_id(self, obj: str, field: str, value: str) -> Response:
        for record in self.records.get(obj, {}).values():
            if str(record.get(field)) == unquote(value):
                return Response(200, self._shown(obj, record, sorted(record)))
        return _error(404, "NOT_FOUND", "The requested resource does not exist")
