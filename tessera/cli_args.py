"""Argument types shared by the command-line layers."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from datetime import date

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def whole_number(low: int, high: int, unit: str) -> Callable[[str], int]:
    """An argparse type: a whole number from `low` to `high`. The bounds keep a value out of
    what would fail later, deep inside (a seed of -1 after the warehouse was emptied, a row
    count DuckDB cannot hold), and argparse names the option and exits 2."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} {unit}: use {low:,} to {high:,}")
        return value

    return parse


row_count = whole_number(0, 1_000_000_000, "rows")
person_count = whole_number(1, 100_000_000, "persons")
day_count = whole_number(1, 36_500, "days")
seed = whole_number(0, 2**63 - 1, "as a seed")


def non_empty(text: str) -> str:
    """Any text but an empty or blank one (argparse type: ids)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty value: give one")
    return text


def real_number(low: float, high: float, allowed: str) -> Callable[[str], float]:
    """An argparse type: a number from `low` to `high` (`allowed` says so in the error)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not low <= value <= high:  # NaN fails this too
            raise argparse.ArgumentTypeError(f"{text}: use {allowed}")
        return value

    return parse


seconds = real_number(0.0, 86_400.0, "0 to 86400 seconds")  # --stop-timeout
fraction = real_number(0.0, 1.0, "a share from 0 to 1")  # --min-precision, --min-recall


def iso_date(text: str) -> date:
    """A calendar date written YYYY-MM-DD (argparse type, for every date option: --as-of,
    --cutoff, --end-date ...). argparse names the option, so a mistake reads
    "argument --as-of: '2024-13-01' is not a date; write it as YYYY-MM-DD"."""
    value = text.strip()
    try:
        if _ISO_DATE.fullmatch(value):
            parsed = date.fromisoformat(value)
            if not 1900 <= parsed.year <= 2999:  # arithmetic on year 1 overflows
                raise argparse.ArgumentTypeError(f"{text!r}: use a date from 1900 to 2999")
            return parsed
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"{text!r} is not a date; write it as YYYY-MM-DD")


def dbt_vars(text: str) -> str:
    """A `--vars` value as dbt takes it: a YAML (or JSON) mapping, or an empty text. Checked
    strictly here (a key twice, a date that does not exist, where a syntax error is), and
    with the loader dbt parses it with, so dbt never stops on it later; returned as given."""
    import yaml

    from tessera.yaml_strict import YamlFileError, load_yaml_text

    try:
        value = load_yaml_text(text, "YAML", in_file=False)
        # dbt reads --vars with libyaml where installed, which refuses a few texts the
        # pure-Python loader accepts
        yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506
    except YamlFileError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("YAML: ")) from None
    except yaml.YAMLError as exc:
        raise argparse.ArgumentTypeError(f"not valid YAML: {' '.join(str(exc).split())}") from None
    if value is not None and not isinstance(value, dict):
        raise argparse.ArgumentTypeError(
            f"give a mapping of var names to values, like '{{as_of: 2026-01-31}}', not {value!r}"
        )
    return text
