"""dbt's structured log (`--log-format json`) read as it arrives: progress and a summary.

dbt prints one line per node start and result (325 for the demo build). A person needs one
progress bar and, at the end, what was built, what passed and where the full log is; the
lines themselves go to that log file, without colour codes.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

# Events that report a node's start, and a node's outcome (one per selected node).
_START = "LogStartLine"
_RESULT_SUFFIX = "Result"
_SKIPPED = "SkippingDetails"


@dataclass
class DbtEvent:
    name: str
    level: str
    message: str
    data: dict

    @classmethod
    def parse(cls, line: str) -> DbtEvent:
        """A JSON log line as an event; anything else (a library printing) as a plain one."""
        try:
            payload = json.loads(line)
            info = payload["info"]
            return cls(
                name=str(info.get("name", "")),
                level=str(info.get("level", "info")),
                message=str(info.get("msg", "")),
                data=payload.get("data") or {},
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            return cls(name="", level="info", message=line.rstrip("\n"), data={})

    @property
    def is_node_start(self) -> bool:
        return self.name == _START

    @property
    def is_node_outcome(self) -> bool:
        return self.name == _SKIPPED or (
            self.name.endswith(_RESULT_SUFFIX) and "index" in self.data
        )

    @property
    def node_total(self) -> int | None:
        total = self.data.get("total")
        return int(total) if isinstance(total, int | float) else None

    @property
    def node_name(self) -> str:
        info = self.data.get("node_info") or {}
        return str(info.get("node_name") or self.data.get("description") or "")


@dataclass
class DbtTally:
    """What the log said so far: node progress, and the messages worth showing a person."""

    total: int | None = None
    done: int = 0
    current: str = ""
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def record(self, event: DbtEvent) -> None:
        if event.is_node_start:
            self.total = event.node_total or self.total
            self.current = event.node_name
        elif event.is_node_outcome:
            self.done += 1
            self.total = max(self.total or 0, event.node_total or 0, self.done)
        elif event.level == "warn" and event.message.strip():
            self.warnings.append(event.message.strip())
        elif event.level == "error" and event.message.strip():
            self.errors.append(event.message.strip())
        elif not event.name and event.message.startswith("Error:"):
            # not a log event: dbt's command line refused its arguments before logging began
            self.errors.append(event.message.strip())


class DbtLog:
    """The run's full log as plain text (the lines dbt would have printed)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] = path.open("w", encoding="utf-8")

    def write(self, event: DbtEvent) -> None:
        if event.message or event.name:
            self._file.write(event.message + "\n")
            self._file.flush()

    def close(self) -> None:
        self._file.close()


@dataclass(frozen=True)
class DbtSummary:
    """Counts from run_results.json: nodes by type and outcome."""

    nodes: int
    models: int
    tests_passed: int
    tests: int
    warnings: int
    errors: int
    skipped: int
    by_type: dict[str, int]

    @classmethod
    def from_results(cls, results: list[dict], log_warnings: int = 0) -> DbtSummary:
        by_type: Counter[str] = Counter()
        statuses: Counter[str] = Counter()
        tests = tests_passed = 0
        for result in results:
            kind = str(result.get("unique_id", "")).split(".", 1)[0]
            by_type[kind] += 1
            status = str(result.get("status", "")).lower()
            statuses[status] += 1
            if kind in ("test", "unit_test"):
                tests += 1
                tests_passed += status == "pass"
        return cls(
            nodes=len(results),
            models=by_type["model"],
            tests_passed=tests_passed,
            tests=tests,
            warnings=statuses["warn"] + log_warnings,
            errors=statuses["error"] + statuses["fail"] + statuses["runtime error"],
            skipped=statuses["skipped"],
            by_type=dict(by_type),
        )

    def line(self) -> str:
        parts = [f"{self.nodes:,} nodes", f"{self.models:,} models"]
        if self.tests:
            parts.append(f"{self.tests_passed:,} of {self.tests:,} tests passed")
        parts.append(f"{self.warnings:,} warning{'s' if self.warnings != 1 else ''}")
        if self.errors:
            parts.append(f"{self.errors:,} failed")
        if self.skipped:
            parts.append(f"{self.skipped:,} skipped")
        return ", ".join(parts)
