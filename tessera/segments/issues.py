"""What a refusal says: the problem, and where in the author's file (line and column)."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class Issue:
    """One reason a segment is refused (or, as a warning, could not be fully checked).

    `line` and `column` are 1-based and point into `file` (the author's .sql or .yml) when it
    is set, otherwise into the SQL text that was checked.
    """

    segment: str
    code: str
    message: str
    line: int | None = None
    column: int | None = None
    severity: str = "error"
    file: str | None = None

    @property
    def where(self) -> str:
        label = self.file or self.segment
        if self.line is None:
            return label
        column = f", column {self.column}" if self.column is not None else ""
        return f"{label} (line {self.line}{column})"

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"

    def at(self, line: int, column: int, file: str | None = None) -> Issue:
        return replace(self, line=line, column=column, file=file or self.file)


class SegmentValidationError(ValueError):
    """The segment's SQL was rejected; `issues` lists each problem with its position."""

    def __init__(self, segment: str, issues: list[Issue]) -> None:
        self.segment = segment
        self.issues = issues
        lines = "\n".join(f"  - {issue}" for issue in issues)
        super().__init__(f"segment {segment!r} is not valid:\n{lines}")


def line_col(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of a character offset."""
    offset = max(0, min(offset, len(text)))
    before = text[:offset]
    line = before.count("\n") + 1
    return line, offset - (before.rfind("\n") + 1) + 1


def offset_of(text: str, line: int, column: int) -> int:
    """Character offset of a 1-based line and column (clamped to the text)."""
    start = 0
    for _ in range(max(0, line - 1)):
        newline = text.find("\n", start)
        if newline < 0:
            return len(text)
        start = newline + 1
    return min(len(text), start + max(0, column - 1))


def first_position(text: str) -> tuple[int, int]:
    """Where the text starts (its first non-blank character): the position of last resort."""
    stripped = len(text) - len(text.lstrip())
    return line_col(text, stripped if stripped < len(text) else 0)


@dataclass
class SourceMap:
    """Maps offsets in rendered SQL back to the template it came from.

    Each replacement records that template[orig_start:orig_end] rendered to
    rendered[start:end]; text between replacements is copied unchanged.
    """

    template: str
    rendered: str = ""
    replacements: list[tuple[int, int, int, int]] = field(default_factory=list)

    def add(self, start: int, end: int, orig_start: int, orig_end: int) -> None:
        self.replacements.append((start, end, orig_start, orig_end))

    def original_offset(self, offset: int) -> int:
        starts = [r[0] for r in self.replacements]
        index = bisect.bisect_right(starts, offset) - 1
        if index < 0:
            return offset
        start, end, orig_start, orig_end = self.replacements[index]
        if offset < end:
            return orig_start
        return orig_end + (offset - end)

    def original_position(self, line: int, column: int) -> tuple[int, int]:
        offset = offset_of(self.rendered, line, column)
        return line_col(self.template, self.original_offset(offset))

    @classmethod
    def identity(cls, text: str) -> SourceMap:
        return cls(template=text, rendered=text)
