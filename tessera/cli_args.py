"""Argument types shared by the command-line layers."""

from __future__ import annotations

import argparse
import re
from datetime import date

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def row_count(text: str) -> int:
    """A number of rows to show or sample: a whole number, 0 or more (argparse type)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} rows: use 0 or more")
    return value


def iso_date(text: str) -> date:
    """A calendar date written YYYY-MM-DD (argparse type, for every date option: --as-of,
    --cutoff, --end-date ...). argparse names the option, so a mistake reads
    "argument --as-of: '2024-13-01' is not a date; write it as YYYY-MM-DD"."""
    value = text.strip()
    try:
        if _ISO_DATE.fullmatch(value):
            return date.fromisoformat(value)
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"{text!r} is not a date; write it as YYYY-MM-DD")
