"""Validation of 5-field cron strings (minute hour day-of-month month day-of-week)."""

from __future__ import annotations

import re

_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
_DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
_FIELDS = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, {m: i + 1 for i, m in enumerate(_MONTHS)}),
    ("day of week", 0, 7, {d: i for i, d in enumerate(_DAYS)}),
)
_MACROS = {"@hourly", "@daily", "@weekly", "@monthly", "@yearly", "@annually", "@midnight"}
_PART = re.compile(r"^(\*|[a-z0-9]+(?:-[a-z0-9]+)?)(?:/(\d+))?$")


def validate_cron(expression: str) -> None:
    """Raise ValueError naming the bad field if `expression` is not a valid cron string."""
    text = expression.strip().lower()
    if text in _MACROS:
        return
    fields = text.split()
    if len(fields) != 5:
        raise ValueError(
            f"schedule {expression!r} must have 5 fields (minute hour day month weekday)"
        )
    for value, (label, low, high, names) in zip(fields, _FIELDS, strict=True):
        for part in value.split(","):
            match = _PART.match(part)
            if not match:
                raise ValueError(f"schedule {expression!r}: bad {label} field {value!r}")
            base, step = match.groups()
            if step is not None and int(step) == 0:
                raise ValueError(f"schedule {expression!r}: step 0 in {label} field")
            if base == "*":
                continue
            for bound in base.split("-"):
                number = names.get(bound, bound)
                if not str(number).isdigit() or not low <= int(number) <= high:
                    raise ValueError(
                        f"schedule {expression!r}: {label} {bound!r} is outside {low}-{high}"
                    )
