"""Generate dbt_project/macros/phone_metadata.sql from the `phonenumbers` package's metadata.

Phone normalisation in staging (macros/normalise_phone.sql) needs, per region, its calling
code, its trunk (national) prefix, its international call prefix and which national
significant numbers it can have. Those facts change with numbering plans, so they are taken
from Google's libphonenumber metadata (the `phonenumbers` package), never typed by hand:

    .venv/bin/python -m tessera.identity.phone_metadata          # rewrite both macros
    .venv/bin/python -m tessera.identity.phone_metadata --check  # exit 1 if out of date

A national number is summarised per kind a person gives (fixed line, mobile, VoIP, personal,
pager; not short service codes) by the digits it may start with and the lengths it may have,
e.g. GB: '[12][0-9]{8,9}|7[0-9]{9}|...'. The full libphonenumber patterns would be exact but
run to hundreds of kilobytes of regex per query; the first digit and length already tell a
US number from a British one. Patterns use only [..], {m,n} and |, which DuckDB (RE2) and
Snowflake (POSIX ERE) read alike.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

MACRO_PATH = Path(__file__).resolve().parents[2] / "dbt_project" / "macros" / "phone_metadata.sql"
NAMES_MACRO_PATH = MACRO_PATH.with_name("phone_country_names.sql")
DIGITS = re.compile(r"^[0-9]+$")
# Names people and systems use for a country that are not its ISO 3166 alpha-2 code.
REGION_ALIASES = {"UK": "GB"}
# Languages whose country names a record's country column may hold ('Germany',
# 'Deutschland', 'Allemagne', 'Brasil'), from phonenumbers' geocoder; with ISO 3166 alpha-3
# codes and names from pycountry ('GBR', 'IND', 'Korea, Republic of').
NAME_LANGUAGES = ("en", "de", "fr", "es", "pt", "it", "nl")
PERSONAL_KINDS = ("fixed_line", "mobile", "voip", "personal_number", "pager")


@dataclass
class Region:
    code: str
    calling_code: str
    trunk_prefix: str
    international_prefix: str
    national: dict[tuple[int, ...], set[str]]  # lengths -> first digits

    @property
    def national_pattern(self) -> str:
        return national_pattern(self.national)

    is_main: bool


def _digits_or_empty(value: str | None) -> str:
    value = (value or "").replace("~", "")
    return value if DIGITS.match(value) else ""


def first_characters(pattern: str) -> set[str]:
    """The characters a match of `pattern` can start with (its FIRST set)."""
    from re import _parser  # the stdlib's own regex parser; the tree is stable within 3.11+

    def sequence(items: list) -> tuple[set[str], bool]:
        out: set[str] = set()
        for op, av in items:
            chars, nullable = item(str(op), av)
            out |= chars
            if not nullable:
                return out, False
        return out, True

    def item(op: str, av) -> tuple[set[str], bool]:
        if op == "LITERAL":
            return {chr(av)}, False
        if op == "IN":
            chars: set[str] = set()
            for sub_op, sub_av in av:
                if str(sub_op) == "LITERAL":
                    chars.add(chr(sub_av))
                elif str(sub_op) == "RANGE":
                    chars |= {chr(c) for c in range(sub_av[0], sub_av[1] + 1)}
                else:  # \d
                    chars |= set("0123456789")
            return chars, False
        if op == "SUBPATTERN":
            return sequence(list(av[-1]))
        if op == "BRANCH":
            chars, nullable = set(), False
            for branch in av[1]:
                branch_chars, branch_nullable = sequence(list(branch))
                chars |= branch_chars
                nullable |= branch_nullable
            return chars, nullable
        if op in ("MAX_REPEAT", "MIN_REPEAT"):
            low, _high, sub = av
            chars, nullable = sequence(list(sub))
            return chars, nullable or low == 0
        if op == "CATEGORY":
            return set("0123456789"), False
        return set(), True  # anchors

    return sequence(list(_parser.parse(pattern)))[0]


def _char_class(chars: set[str]) -> str:
    digits = sorted(chars & set("0123456789"))
    if len(digits) == 10:
        return "[0-9]"
    return digits[0] if len(digits) == 1 else "[" + "".join(digits) + "]"


def _length_pattern(rest_lengths: list[int]) -> str:
    """Lengths of the digits after the first: [8, 9, 11] -> '[0-9]{8,9}' and '[0-9]{11}'."""
    runs: list[list[int]] = []
    for n in sorted(set(rest_lengths)):
        if runs and runs[-1][1] == n - 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return "|".join(f"[0-9]{{{lo}}}" if lo == hi else f"[0-9]{{{lo},{hi}}}" for lo, hi in runs)


def national_parts(meta) -> dict[tuple[int, ...], set[str]]:
    """Per set of lengths, the first digits of a region's personal numbers of those lengths."""
    general = tuple(n for n in (meta.general_desc.possible_length or ()) if n > 0)
    by_lengths: dict[tuple[int, ...], set[str]] = {}
    for kind in PERSONAL_KINDS:
        desc = getattr(meta, kind, None)
        if desc is None or not desc.national_number_pattern:
            continue
        lengths = tuple(n for n in (desc.possible_length or ()) if n > 0) or general
        chars = first_characters(desc.national_number_pattern) & set("0123456789")
        if lengths and chars:
            by_lengths.setdefault(tuple(sorted(lengths)), set()).update(chars)
    if not by_lengths and general and meta.general_desc.national_number_pattern:
        chars = first_characters(meta.general_desc.national_number_pattern)
        by_lengths[tuple(sorted(general))] = chars & set("0123456789")
    return by_lengths


def national_pattern(by_lengths: dict[tuple[int, ...], set[str]]) -> str:
    """'[12][0-9]{8,9}|7[0-9]{9}': first digits and lengths, one alternative per length set."""
    alternatives = []
    for lengths, chars in sorted(by_lengths.items()):
        rest = _length_pattern([n - 1 for n in lengths])
        alternatives.append(_char_class(chars) + (f"({rest})" if "|" in rest else rest))
    return "|".join(sorted(set(alternatives)))


def load_regions() -> list[Region]:
    from phonenumbers import PhoneMetadata
    from phonenumbers.data import _AVAILABLE_REGION_CODES

    regions = []
    for code in sorted(_AVAILABLE_REGION_CODES):
        meta = PhoneMetadata.metadata_for_region(code)
        if meta is None or meta.general_desc is None:
            continue
        national = national_parts(meta)
        if not national:
            continue
        international = _digits_or_empty(meta.international_prefix) or _digits_or_empty(
            meta.preferred_international_prefix
        )
        regions.append(
            Region(
                code=code,
                calling_code=str(meta.country_code),
                trunk_prefix=_digits_or_empty(meta.national_prefix),
                international_prefix=international,
                national=national,
                is_main=bool(meta.main_country_for_code),
            )
        )
    return regions


def _region_entry(code: str, r: Region) -> str:
    return (
        f"'{code}': {{'cc': '{r.calling_code}', 'trunk': '{r.trunk_prefix}', "
        f"'intl': '{r.international_prefix}', 'national': '{r.national_pattern}'}}"
    )


def country_names(codes: set[str]) -> dict[str, str]:
    """Upper-case name -> ISO alpha-2 code for the regions in `codes`: alpha-3 codes, ISO
    names (pycountry) and names in NAME_LANGUAGES (phonenumbers' geocoder). A name two
    regions share is left out (no guessing), and so is one with a quote."""
    import phonenumbers
    import pycountry
    from phonenumbers.geocoder import country_name_for_number

    found: dict[str, set[str]] = {}

    def add(name: str | None, code: str) -> None:
        key = " ".join((name or "").split()).upper()
        if len(key) > 2 and "'" not in key and "\\" not in key:
            found.setdefault(key, set()).add(code)

    for country in pycountry.countries:
        if country.alpha_2 in codes:
            for attribute in ("alpha_3", "name", "common_name", "official_name"):
                add(getattr(country, attribute, None), country.alpha_2)
    for code in sorted(codes):
        example = phonenumbers.example_number(code)
        if example is not None:
            for language in NAME_LANGUAGES:
                add(country_name_for_number(example, language), code)
    return {name: next(iter(c)) for name, c in sorted(found.items()) if len(c) == 1}


def render() -> str:
    import phonenumbers

    regions = load_regions()
    by_code = {r.code: r for r in regions}
    entries = [_region_entry(r.code, r) for r in regions]
    entries += [_region_entry(alias, by_code[code]) for alias, code in REGION_ALIASES.items()]
    codes: dict[str, list[Region]] = {}
    for r in regions:
        codes.setdefault(r.calling_code, []).append(r)
    code_entries = []
    for calling_code, members in sorted(codes.items(), key=lambda item: int(item[0])):
        main = next((r for r in members if r.is_main), members[0])
        merged: dict[tuple[int, ...], set[str]] = {}
        for r in members:
            for lengths, chars in r.national.items():
                merged.setdefault(lengths, set()).update(chars)
        national = national_pattern(merged)
        code_entries.append(
            f"'{calling_code}': {{'trunk': '{main.trunk_prefix}', 'main_region': '{main.code}', "
            f"'national': '{national}'}}"
        )
    body = ",\n            ".join(entries)
    code_body = ",\n            ".join(code_entries)
    return (
        "{#- GENERATED by `python -m tessera.identity.phone_metadata` from phonenumbers "
        f"{phonenumbers.__version__}\n"
        "    (Google libphonenumber metadata). Do not edit: regenerate. See that module.\n"
        "    regions: ISO 3166 alpha-2 (and aliases) -> calling code, trunk prefix,\n"
        "    international prefix, national number pattern (first digit and lengths).\n"
        "    calling_codes: calling code -> trunk prefix and main region of its main country,\n"
        "    national number pattern of all its regions.\n"
        "-#}\n"
        "{%- macro phone_metadata() -%}\n"
        "    {{ return({\n"
        "        'regions': {\n"
        f"            {body}\n"
        "        },\n"
        "        'calling_codes': {\n"
        f"            {code_body}\n"
        "        },\n"
        "    }) }}\n"
        "{%- endmacro -%}\n"
    )


def render_country_names() -> str:
    """The macro of the names a record's country column may hold, one line per region."""
    import phonenumbers

    by_region: dict[str, list[str]] = {}
    for name, code in country_names({r.code for r in load_regions()}).items():
        by_region.setdefault(code, []).append(name)
    body = ",\n            ".join(
        f"'{code}': [{', '.join(repr(n) for n in names)}]"
        for code, names in sorted(by_region.items())
    )
    return (
        "{#- GENERATED by `python -m tessera.identity.phone_metadata` from pycountry and the\n"
        f"    geocoder of phonenumbers {phonenumbers.__version__}. Do not edit: regenerate.\n"
        "    region -> the upper-case names and ISO alpha-3 code a country column may hold\n"
        "    for it (a name two regions share is left out).\n"
        "-#}\n"
        "{%- macro phone_country_names() -%}\n"
        "    {{ return({\n"
        f"            {body}\n"
        "    }) }}\n"
        "{%- endmacro -%}\n"
    )


def generated() -> dict[Path, str]:
    """Each generated macro file and its text."""
    return {MACRO_PATH: render(), NAMES_MACRO_PATH: render_country_names()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tessera.identity.phone_metadata")
    parser.add_argument("--check", action="store_true", help="exit 1 if the macro is stale")
    args = parser.parse_args(argv)
    files = generated()
    if args.check:
        stale = [p for p, text in files.items() if (p.read_text() if p.exists() else "") != text]
        for path in stale:
            print(f"{path} is out of date: run python -m tessera.identity.phone_metadata")
        return 1 if stale else 0
    for path, text in files.items():
        path.write_text(text)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
