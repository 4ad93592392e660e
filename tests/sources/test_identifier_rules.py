"""`tessera sources check` judges identifiers exactly as the build does.

Raw values a company's CRM holds (placeholders identity knows and a simple list would not,
blocked values, junk mailboxes, account ids made of one digit) are loaded into
raw.crm_contacts; dbt builds staging and identity on them; for every value, the check's
verdict (the SQL it runs on the raw column) must be identity's: dropped as a placeholder or
blocked value, malformed, or kept. A copy of identity's rules that drifts fails here.
"""

from __future__ import annotations

import duckdb
import pytest

from tessera.dbt import run_dbt
from tessera.settings import Settings
from tessera.sources.contract import load_contract
from tessera.sources.identifiers import IdentifierRules
from tessera.warehouse import Warehouse

# (column of raw.crm_contacts, its identifier type, its staging column)
COLUMNS = (("email", "email", "email"), ("phone", "phone", "phone"))
COLUMNS += (("external_user_id", "user_id", "user_id"),)
VALUES = {
    "email": [
        "ann@example.com", "  Bob.Smith@Example.COM ", "unknown", "(null)", "test@test.com",
        "x@x.com", "noemail@gmail.com", "na@gmail.com", "abcde@gmail.com", "bob@example",
        "{email}", "aaaa@example.com", "123@example.com", "N/A",
    ],
    "phone": [
        "+1 415 555 0100", "(415) 634-0199", "n/a", "+11234567890", "0000000000",
        "+1 111 111 1111", "12", "+44 20 7946 0958", "undefined",
    ],
    "external_user_id": [
        "u-123", "undefined", "null", "0", "{{user_id}}", "has space", "1111", "00000",
        "__USER_ID__", "42",
    ],
}  # fmt: skip
KEPT = ("valid", "shared_identifier")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, IdentifierRules]:
    work = tmp_path_factory.mktemp("identifier-rules")
    warehouse = work / "wh.duckdb"
    rows = max(len(v) for v in VALUES.values())
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema raw")
        con.execute(load_contract().table("crm", "crm_contacts").ddl("raw"))
        for i in range(rows):
            values = [VALUES[c][i] if i < len(VALUES[c]) else None for c, _, _ in COLUMNS]
            con.execute(
                "insert into raw.crm_contacts (contact_id, email, phone, external_user_id, "
                "updated_at) values (?, ?, ?, ?, current_timestamp)",
                [f"contact-{i}", *values],
            )
    settings = Settings.from_env({"TESSERA_WAREHOUSE": str(warehouse)})
    rules = IdentifierRules.compile(settings)
    run_dbt(
        settings,
        ["run", "--select", "+identity_nodes", "--target-path", str(work / "target")],
        stream=False,
    )
    return settings, rules


@pytest.mark.parametrize(("column", "id_type", "staged"), COLUMNS)
def test_the_check_drops_and_keeps_what_identity_does(
    built: tuple[Settings, IdentifierRules], column: str, id_type: str, staged: str
) -> None:
    settings, rules = built
    with Warehouse(settings).session(read_only=True) as session:
        frame = session.df(
            f"""
            select r.{column} as raw_value, s.{staged} as staged, n.status,
                {rules.verdict_sql(id_type, f"r.{column}")} as verdict
            from raw.crm_contacts r
            join staging.stg_crm__contacts s on s.source_record_id = r.contact_id
            left join identity.identity_nodes n
                on n.id_type = '{id_type}' and n.id_value = s.{staged}
            where r.{column} is not null
            """
        )
    rows = [
        {k: (None if v is None or v != v else v) for k, v in r.items()}
        for r in frame.to_dict("records")
    ]
    assert len(rows) == len(VALUES[column])
    for row in rows:
        identity = row["status"] if row["staged"] is not None else "dropped by staging"
        where = f"{column} {row['raw_value']!r}: identity {identity}, check {row['verdict']}"
        assert (row["verdict"] is None) == (identity in KEPT), where
        if identity in ("placeholder", "blocked_value", "invalid_format"):
            assert row["verdict"] == identity, where
    verdicts = {r["verdict"] for r in rows}
    assert None in verdicts and len(verdicts) >= 3  # the values exercise kept and dropped
