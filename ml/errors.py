"""The one error type of the ml layer: its message is meant for the person running it."""

from __future__ import annotations


class MLError(RuntimeError):
    """Training, evaluation or scoring cannot proceed; the message says why and what to do."""
