"""What `tessera sources check` reports: its findings, per table, per source and in all."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from tessera.sources.resolve import PhysicalTable, Resolution


@dataclass(frozen=True)
class Finding:
    level: str  # error | warning | note
    source: str
    table: str | None
    message: str


@dataclass
class TableReport:
    table: PhysicalTable
    rows: int | None = None
    newest: datetime | None = None
    identifier_stats: dict[str, dict[str, float]] = field(default_factory=dict)


@dataclass
class SourceReport:
    resolution: Resolution
    tables: list[TableReport] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    def add(self, level: str, table: str | None, message: str) -> None:
        self.findings.append(Finding(level, self.resolution.source, table, message))


@dataclass
class CheckReport:
    sources: list[SourceReport]
    checked_at: datetime
    # about the tessera_sources block itself (settings the build ignores)
    settings_findings: list[Finding] = field(default_factory=list)

    @property
    def findings(self) -> list[Finding]:
        return [*self.settings_findings, *(f for s in self.sources for f in s.findings)]

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "error"]
