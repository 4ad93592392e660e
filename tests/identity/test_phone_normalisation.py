"""Phone normalisation in staging against Google's libphonenumber (the `phonenumbers` package)
as the oracle: every region's example fixed-line and mobile numbers, written the ways people
write them (national with and without the trunk prefix, international with '+' and '00',
E.164, with an extension), through the real staging views on DuckDB."""

from __future__ import annotations

from pathlib import Path

import duckdb
import phonenumbers
import pytest
from identity_dbt import dbt, settings_for
from identity_raw import create_raw_tables, crm, insert, order
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from tessera.identity.phone_metadata import generated
from tessera.warehouse import Warehouse

# Regions whose numbers a retailer, bank or SaaS company in Europe, the Americas, India or
# Asia-Pacific sees every day: every written form must normalise exactly.
MAJOR = [
    "US",
    "CA",
    "GB",
    "IE",
    "DE",
    "FR",
    "ES",
    "IT",
    "NL",
    "BE",
    "CH",
    "AT",
    "SE",
    "NO",
    "DK",
    "FI",
    "PL",
    "PT",
    "CZ",
    "GR",
    "IN",
    "AU",
    "NZ",
    "JP",
    "SG",
    "HK",
    "ZA",
    "BR",
    "MX",
    "AE",
    "IL",
    "TR",
    "RU",
    "UA",
    "RO",
    "HU",
    "KR",
    "CN",
    "PH",
    "MY",
    "TH",
    "ID",
    "NG",
    "KE",
    "EG",
    "SA",
    "CL",
    "CO",
    "PE",
]


def _examples() -> list[tuple[str, str, str]]:
    """(region, written form, expected E.164) for every region's example numbers."""
    cases = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in (PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            e164 = phonenumbers.format_number(example, PhoneNumberFormat.E164)
            national = phonenumbers.format_number(example, PhoneNumberFormat.NATIONAL)
            international = phonenumbers.format_number(example, PhoneNumberFormat.INTERNATIONAL)
            for written in {
                national,
                international,
                e164,
                "00" + e164[1:],
                national + " ext. 42",
            }:
                cases.append((region, written, e164))
    return cases


CASES = _examples()


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("phones")
    path = tmp / "wh.duckdb"
    settings = settings_for(path)
    with Warehouse(settings).session() as session:
        create_raw_tables(session)
        insert(
            session,
            "orders",
            [
                order(f"o{i}", 1, customer_phone=written, shipping_country=region)
                for i, (region, written, _) in enumerate(CASES)
            ],
        )
        insert(
            session,
            "crm_contacts",
            [crm(f"c{i}", 1, phone=written) for i, (_, written, _) in enumerate(CASES)],
        )
    dbt(settings, tmp / "target", "run", "--select", "+stg_shop__orders", "+stg_crm__contacts")
    return path


def _phones(path: Path, model: str) -> dict[str, tuple[str | None, str | None]]:
    with duckdb.connect(str(path), read_only=True) as conn:
        rows = conn.execute(
            f"select source_record_id, phone, phone_extension from staging.{model}"
        ).fetchall()
    return {key: (phone, extension) for key, phone, extension in rows}


def test_every_written_form_resolves_with_the_records_country(staged: Path) -> None:
    phones = _phones(staged, "stg_shop__orders")
    wrong = [
        (region, written, expected, phones[f"o{i}"][0])
        for i, (region, written, expected) in enumerate(CASES)
        if phones[f"o{i}"][0] != expected
    ]
    wrong_major = [w for w in wrong if w[0] in MAJOR]
    assert wrong_major == []
    # Elsewhere the metadata is summarised (first digit and length): a few numbering plans
    # with carrier codes or mobile tokens in national form (Argentina's '15') are not read.
    assert len(wrong) <= 0.03 * len(CASES), wrong[:20]


def test_international_forms_resolve_without_a_country_and_national_ones_need_it(
    staged: Path,
) -> None:
    phones = _phones(staged, "stg_crm__contacts")
    for i, (region, written, expected) in enumerate(CASES):
        if region not in MAJOR:
            continue
        got = phones[f"c{i}"][0]
        if written.startswith(("+", "00")) or region == "US":
            assert got == expected, (region, written)
        elif region not in ("CA",) and got is not None:
            # read in the default region (US): never a number of another country
            assert got.startswith("+1"), (region, written, got)


def test_extensions_are_kept_apart_not_dropped(staged: Path) -> None:
    phones = _phones(staged, "stg_shop__orders")
    with_extension = [
        (phones[f"o{i}"], expected)
        for i, (region, written, expected) in enumerate(CASES)
        if written.endswith("ext. 42") and region in MAJOR
    ]
    assert with_extension
    assert all(got == (expected, "42") for got, expected in with_extension)


def test_the_phone_metadata_macro_is_generated_from_the_installed_phonenumbers() -> None:
    for path, text in generated().items():
        assert path.read_text() == text, (
            f"{path} is stale: run python -m tessera.identity.phone_metadata"
        )
