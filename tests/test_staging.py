"""dbt staging on a small generated warehouse: the real `dbt build`, then facts on the data."""

from __future__ import annotations

import dataclasses
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tessera.datagen import generate
from tessera.datagen.mess import PLACEHOLDER_VALUES
from tessera.dbt import run_dbt
from tessera.settings import DBT_PROJECT_DIR, Settings
from tessera.sources.contract import load_contract
from tessera.warehouse import Session, Warehouse

RAW_TABLES = [t for t in load_contract().tables if t.qualified_name != "shop.customers"]

PERSONS = 400
SEED = 11
STAGING_DIR = DBT_PROJECT_DIR / "models" / "staging"
E164 = r"\+[1-9][0-9]{7,14}"
EMAIL_SHAPE = r"[^@\s]+@[^@\s]+\.[^@\s]+"


@dataclasses.dataclass(frozen=True)
class Staged:
    """A raw table, its staging model and how the model renames the raw identifiers."""

    raw: str
    model: str
    key: str  # the raw primary key as an expression over raw alias `r`
    raw_columns: dict[str, str]  # staging `<id>_raw` column -> raw column


STAGED = (
    Staged(
        "events",
        "stg_segment__events",
        "r.message_id",
        {
            "email_raw": "traits_email",
            "phone_raw": "traits_phone",
            "anonymous_id_raw": "anonymous_id",
            "user_id_raw": "user_id",
            "device_id_raw": "device_id",
        },
    ),
    Staged(
        "orders",
        "stg_shop__orders",
        "r.order_id",
        {
            "email_raw": "customer_email",
            "phone_raw": "customer_phone",
            "user_id_raw": "user_id",
            "anonymous_id_raw": "anonymous_id",
        },
    ),
    Staged("order_items", "stg_shop__order_items", "r.order_id || '-' || r.line_number", {}),
    Staged("returns", "stg_shop__returns", "r.return_id", {}),
    Staged(
        "crm_contacts",
        "stg_crm__contacts",
        "r.contact_id",
        {
            "crm_id_raw": "contact_id",
            "email_raw": "email",
            "phone_raw": "phone",
            "user_id_raw": "external_user_id",
        },
    ),
    Staged("email_events", "stg_esp__email_events", "r.event_id", {"email_raw": "email"}),
    Staged(
        "ad_clicks",
        "stg_ads__ad_clicks",
        "r.click_id",
        {"anonymous_id_raw": "anonymous_id", "device_id_raw": "device_id"},
    ),
    Staged(
        "support_tickets",
        "stg_helpdesk__tickets",
        "r.ticket_id",
        {"email_raw": "requester_email", "phone_raw": "requester_phone"},
    ),
    Staged(
        "pos_purchases",
        "stg_pos__purchases",
        "r.transaction_id",
        {"loyalty_id_raw": "loyalty_id", "phone_raw": "phone", "email_raw": "email"},
    ),
    Staged("consents", "stg_cmp__consents", "r.consent_id", {"subject_id_raw": "subject_id"}),
)
MODELS = [s.model for s in STAGED]
# every staging model reads its contract table through a base model (models/staging/*/base)
BASE_MODELS = [f"base_{t.source}__{t.name}" for t in load_contract().tables]
ALL_MODELS = [*MODELS, "stg_shop__customers", *BASE_MODELS]


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("staging")
    return dataclasses.replace(Settings.from_env({}), warehouse_path=root / "wh.duckdb")


@pytest.fixture(scope="module")
def build_results(settings: Settings) -> list[dict]:
    """Generate a small warehouse once, then run the real `dbt build --select staging`."""
    generate(Warehouse(settings), persons=PERSONS, seed=SEED, progress=False)
    target = settings.warehouse_path.parent / "target"
    run_dbt(settings, ["build", "--select", "staging", "--target-path", str(target)], stream=False)
    return json.loads((target / "run_results.json").read_text())["results"]


@pytest.fixture
def session(settings: Settings, build_results: list[dict]) -> Iterator[Session]:
    with Warehouse(settings).session(read_only=True) as s:
        yield s


def _model_yaml(model: str) -> dict:
    (path,) = STAGING_DIR.rglob(f"{model}.yml")
    return yaml.safe_load(path.read_text())


def _column_names(session: Session, model: str) -> list[str]:
    return [name for name, _type in session.columns("staging", model)]


# --- the build -----------------------------------------------------------------------------


def test_dbt_build_of_staging_passes_with_models_tests_and_unit_tests(
    build_results: list[dict],
) -> None:
    by_type: dict[str, list[dict]] = {}
    for result in build_results:
        by_type.setdefault(result["unique_id"].split(".")[0], []).append(result)
    assert sorted(r["unique_id"].split(".")[-1] for r in by_type["model"]) == sorted(ALL_MODELS)
    assert len(by_type["test"]) >= 40
    unit_tests = {r["unique_id"].split(".")[-1] for r in by_type["unit_test"]}
    assert {
        "test_normalise_email_nasty_cases",
        "test_normalise_phone_nasty_cases",
        "test_normalise_phone_uses_shipping_country_for_trunk_zero",
        "test_consent_subject_normalised_per_subject_type",
    } <= unit_tests
    failed = [r["unique_id"] for r in build_results if r["status"] not in ("success", "pass")]
    assert failed == []


def test_staging_models_are_views_in_schema_staging(session: Session) -> None:
    rows = session.df(
        "select table_name, table_type from information_schema.tables "
        "where table_schema = 'staging'"
    )
    types = dict(zip(rows.table_name, rows.table_type, strict=True))
    assert {m: types.get(m) for m in ALL_MODELS} == dict.fromkeys(ALL_MODELS, "VIEW")


# --- data facts ----------------------------------------------------------------------------


@pytest.mark.parametrize("staged", STAGED, ids=lambda s: s.model)
def test_row_count_equals_raw_and_keys_are_kept(session: Session, staged: Staged) -> None:
    raw_count = session.scalar(f"select count(*) from raw.{staged.raw}")
    assert raw_count > 0, f"the generator wrote no rows to raw.{staged.raw}"
    assert session.scalar(f"select count(*) from staging.{staged.model}") == raw_count
    missing_keys = session.scalar(
        f"select count(*) from raw.{staged.raw} r anti join staging.{staged.model} s "
        f"on s.source_record_id = {staged.key}"
    )
    assert missing_keys == 0


@pytest.mark.parametrize("staged", [s for s in STAGED if s.raw_columns], ids=lambda s: s.model)
def test_raw_identifiers_are_kept_unchanged(session: Session, staged: Staged) -> None:
    mismatched = {
        stg_col: session.scalar(
            f"select count(*) from staging.{staged.model} s join raw.{staged.raw} r "
            f"on s.source_record_id = {staged.key} "
            f"where s.{stg_col} is distinct from r.{raw_col}"
        )
        for stg_col, raw_col in staged.raw_columns.items()
    }
    assert mismatched == dict.fromkeys(staged.raw_columns, 0)


def _union(session: Session, column: str) -> str:
    selects = [
        f"select '{m}' as model, {column}, {column}_raw as raw from staging.{m}"
        for m in MODELS
        if column in _column_names(session, m)
    ]
    assert selects, f"no staging model has a {column} column"
    return " union all ".join(selects)


def test_emails_are_trimmed_lower_case_and_well_formed(session: Session) -> None:
    emails = session.df(f"select model, email, raw from ({_union(session, 'email')})")
    present = emails[emails.email.notna()]
    assert len(present) > 100
    assert (present.email == present.raw.str.strip().str.lower()).all()
    assert present.email.str.fullmatch(EMAIL_SHAPE).all()
    # raw padding and case mess was present and got cleaned
    assert (present.raw != present.email).sum() > 0
    nulled = emails[emails.email.isna() & emails.raw.notna()]
    assert not nulled.raw.str.strip().str.fullmatch(EMAIL_SHAPE).any()


def test_phones_are_e164_or_null(session: Session) -> None:
    phones = session.df(f"select model, phone, raw from ({_union(session, 'phone')})")
    present = phones[phones.phone.notna()]
    assert len(present) > 20
    assert present.phone.str.fullmatch(E164).all()
    assert phones[phones.raw.isna()].phone.isna().all()


def _is_placeholder(values: pd.Series) -> pd.Series:
    return values.str.strip().str.lower().isin(PLACEHOLDER_VALUES)


@pytest.mark.parametrize("id_type", ["email", "phone"])
def test_normalised_identifiers_agree_with_ground_truth(session: Session, id_type: str) -> None:
    """Staging turns every identifier the generator issued, in whatever mess it was rendered,
    into the canonical value of truth.identifier_person; only placeholders come out otherwise."""
    rows = session.df(
        f"select s.model, s.{id_type} as value, s.raw, t.id_value is not null as in_truth "
        f"from ({_union(session, id_type)}) s left join (select distinct id_value "
        f"from truth.identifier_person where id_type = '{id_type}') t on t.id_value = s.{id_type} "
        "where s.raw is not null"
    )
    not_placeholder = rows[~_is_placeholder(rows.raw)]
    assert len(not_placeholder) > 20
    wrong = not_placeholder[~not_placeholder.in_truth]
    assert wrong.empty, f"normalised {id_type}s not in ground truth:\n{wrong.head(20)}"


def test_consent_subjects_are_normalised_per_subject_type(session: Session) -> None:
    rows = session.df(
        "select subject_type, subject_id, subject_id_raw from staging.stg_cmp__consents"
    )
    emails = rows[(rows.subject_type == "email") & rows.subject_id.notna()]
    phones = rows[(rows.subject_type == "phone") & rows.subject_id.notna()]
    assert (emails.subject_id == emails.subject_id_raw.str.strip().str.lower()).all()
    assert phones.subject_id.str.fullmatch(E164).all()


# --- the contract other layers build on ----------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
def test_every_staging_column_is_documented_in_the_model_yaml(session: Session, model: str) -> None:
    (doc,) = _model_yaml(model)["models"]
    documented = [c["name"] for c in doc["columns"]]
    assert documented == _column_names(session, model)
    assert all(c.get("description") for c in doc["columns"])
    key = next(c for c in doc["columns"] if c["name"] == "source_record_id")
    assert {"unique", "not_null"} <= set(key["data_tests"])


def test_the_generator_writes_the_contract_tables_it_generates() -> None:
    """datagen writes the source contract (read from the sources YAML), not a schema of its own:
    every contract table but the optional shop.customers, column for column."""
    from tessera.datagen.schema import RAW_TABLES as GENERATED

    contract = {t.name: t for t in load_contract().tables}
    assert {t.name for t in GENERATED} == set(contract) - {"customers"}
    for table in GENERATED:
        spec = contract[table.name]
        assert table.column_names == spec.column_names, table.name
        assert [c[1] for c in table.columns] == [c.data_type.upper() for c in spec.columns]
        assert table.loaded_at_field == spec.loaded_at_field


def test_docs_generate_writes_a_catalog_of_staging_and_its_sources(
    settings: Settings, build_results: list[dict]
) -> None:
    target = settings.warehouse_path.parent / "target"  # the build's: dbt re-parses partially
    source_names = sorted({p.parent.name for p in STAGING_DIR.glob("*/_*__sources.yml")})
    selection = ["staging", *(f"source:{name}" for name in source_names)]
    run_dbt(
        settings,
        ["docs", "generate", "--select", *selection, "--target-path", str(target)],
        stream=False,
    )
    catalog = json.loads((target / "catalog.json").read_text())
    models = {n.split(".")[-1]: n for n in catalog["nodes"] if n.startswith("model.")}
    assert set(models) == set(ALL_MODELS)
    assert "phone" in catalog["nodes"][models["stg_shop__orders"]]["columns"]
    sources = {n.split(".")[-1] for n in catalog["sources"]}
    assert sources == {t.name for t in RAW_TABLES}


# --- the Snowflake dialect (default__ macros) on a fakesnow server ---------------------------

NASTY_PHONES = {
    "(415) 555-0134": "+14155550134",
    "001-415-555-0134": "+14155550134",
    "1-415-555-0134": "+14155550134",
    "+44 (0)20 7946 0958": "+442079460958",
    "+44 020 7946 0958": "+442079460958",
    "0044 20 7946 0958": "+442079460958",
    "+39 06 1234 5678": "+390612345678",
    "020 7946 0958": None,
    "555-CALL-NOW": None,
    "555-0134": None,
    "(41) 97573-5014": None,  # Brazilian national, no country: not Swiss +41
    "": None,
}
NASTY_EMAILS = {
    "  John.Doe@Example.COM ": "john.doe@example.com",
    "\tMIXED@Case.Org\n": "mixed@case.org",
    "test@test.com": "test@test.com",
    "john@example": None,
    "a@@b.com": None,
    "john doe@example.com": None,
    "": None,
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def fakesnow_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """A fakesnow HTTP server on loopback and the env vars the snowflake profile reads."""
    port = _free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("fakesnow")), "-s", "-p", str(port)],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    env = {
        "TESSERA_TARGET": "snowflake",
        "SNOWFLAKE_ACCOUNT": "fakesnow",
        "SNOWFLAKE_USER": "fake",
        "SNOWFLAKE_PASSWORD": "snow",
        "SNOWFLAKE_DATABASE": "TESSERA",
        "SNOWFLAKE_HOST": "localhost",
        "SNOWFLAKE_PORT": str(port),
        "SNOWFLAKE_PROTOCOL": "http",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"fakesnow server did not start on port {port}") from None
                time.sleep(0.2)
        yield env
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.snowflake
def test_snowflake_dialect_normalises_nasty_values_like_duckdb(
    fakesnow_env: dict[str, str], tmp_path: Path
) -> None:
    settings = Settings.from_env(fakesnow_env)
    with Warehouse(settings).session() as sf:
        sf.execute("create database if not exists tessera")
        sf.execute("create schema if not exists tessera.raw")
        sf.execute("use schema tessera.raw")
        for table in RAW_TABLES:
            ddl = table.ddl().replace(" TIMESTAMP", " TIMESTAMP_NTZ").replace(" DOUBLE", " FLOAT")
            sf.execute(ddl)
        for i, phone in enumerate(NASTY_PHONES):
            sf.execute(
                "insert into raw.crm_contacts (contact_id, phone) values (%s, %s)", [f"p{i}", phone]
            )
        for i, email in enumerate(NASTY_EMAILS):
            sf.execute(
                "insert into raw.crm_contacts (contact_id, email) values (%s, %s)", [f"e{i}", email]
            )
        sf.execute(
            "insert into raw.orders (order_id, customer_phone, shipping_country) "
            "values ('o1', '(020) 7946 0958', ' gb'), ('o2', '030 1234567', 'US'), "
            "('o3', '07911 123456', 'United Kingdom')"
        )
    run_dbt(
        settings,
        ["run", "--select", "+stg_crm__contacts", "+stg_shop__orders"]
        + ["--target-path", str(tmp_path / "target")],
        stream=False,
    )
    with Warehouse(settings).session() as sf:
        contacts = sf.df("select phone_raw, phone, email_raw, email from staging.stg_crm__contacts")
        orders = sf.df("select order_id, phone from staging.stg_shop__orders order by order_id")
    contacts.columns = contacts.columns.str.lower()
    contacts = contacts.astype(object).where(contacts.notna(), None)
    phones = contacts[contacts.phone_raw.notna()]
    assert dict(zip(phones.phone_raw, phones.phone, strict=True)) == NASTY_PHONES
    emails = contacts[contacts.email_raw.notna()]
    assert dict(zip(emails.email_raw, emails.email, strict=True)) == NASTY_EMAILS
    orders.columns = orders.columns.str.lower()
    assert orders.astype(object).where(orders.notna(), None).phone.tolist() == [
        "+442079460958",
        None,
        "+447911123456",
    ]
