"""The counts of a sync run: rows sent, refused and not delivered, per kind and cause."""

from __future__ import annotations

from dataclasses import dataclass, field

from reverse_etl.batches import BatchOutcome


@dataclass
class RunStats:
    sent_ok: int = 0
    rejected: int = 0  # refused by the destination (per row or the whole batch): in `errors`
    not_delivered: int = 0  # batches the destination never took: still pending, sent next run
    calls: int = 0
    rate_limited: int = 0
    retries: int = 0
    ok_by_kind: dict[str, int] = field(default_factory=dict)
    failed_by_kind: dict[str, int] = field(default_factory=dict)
    not_delivered_by_kind: dict[str, int] = field(default_factory=dict)
    not_delivered_causes: dict[str, int] = field(default_factory=dict)  # message -> rows
    stopped: bool = False  # a stop request ended the run before the plan was sent
    # the destination took none of `retry.max_undelivered_batches` batches in a row: why the
    # run stopped taking batches; the rest of the plan (`not_sent` rows) was never tried
    stopped_early: str | None = None
    not_sent: int = 0  # rows counted in `not_delivered` that were never sent (see above)
    held_back: int = 0  # counted in `rejected`: another row has their match value (match.py)
    unsent: int = 0  # counted in `rejected`: refused before any call (nothing to match on)
    unfinished_batches: int = 0  # in flight when the stop deadline passed (journaled if answered)

    def absorb(self, outcome: BatchOutcome) -> None:
        """Count a batch's outcome."""
        self.calls += outcome.calls
        self.rate_limited += outcome.rate_limited
        self.retries += outcome.retries
        ok, failed = outcome.ok, outcome.failed
        self.sent_ok += ok
        self.rejected += failed
        self.unsent += sum(1 for result in outcome.results if not result.ok and not result.sent)
        self.ok_by_kind[outcome.kind] = self.ok_by_kind.get(outcome.kind, 0) + ok
        self.failed_by_kind[outcome.kind] = self.failed_by_kind.get(outcome.kind, 0) + failed
        if outcome.not_delivered:
            self.not_delivered += outcome.not_delivered
            by_kind = self.not_delivered_by_kind
            by_kind[outcome.kind] = by_kind.get(outcome.kind, 0) + outcome.not_delivered
            cause = outcome.cause or "not delivered"
            self.not_delivered_causes[cause] = (
                self.not_delivered_causes.get(cause, 0) + outcome.not_delivered
            )
            if not outcome.tried:
                self.not_sent += outcome.not_delivered
