"""Argument types shared by the command-line layers."""

from __future__ import annotations

import argparse


def row_count(text: str) -> int:
    """A number of rows to show or sample: a whole number, 0 or more (argparse type)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} rows: use 0 or more")
    return value
