"""The one error type of the ml layer: its message is meant for the person running it."""

from __future__ import annotations


class MLError(RuntimeError):
    """Training, evaluation or scoring cannot proceed; the message says why and what to do."""


class NotEnoughDataError(MLError):
    """The data cannot support this model yet (too few persons, positives or history); not
    a configuration mistake. `tessera demo` reports it and carries on."""


class HistoryTooShortError(NotEnoughDataError):
    """No validation cutoff with a complete outcome window and a training cutoff before it."""
