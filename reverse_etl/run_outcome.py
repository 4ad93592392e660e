"""The one-line outcome a sync run records, alerts and raises when rows were not delivered
or were all rejected: the destination, what happened to the rows, and the commonest why."""

from __future__ import annotations

from reverse_etl.alerts import scrub
from reverse_etl.config import SyncConfig
from reverse_etl.destinations.base import Destination
from reverse_etl.dialect import placeholder
from reverse_etl.run_stats import RunStats
from reverse_etl.state import SCHEMA
from reverse_etl.undelivered import NOT_SENT
from tessera.warehouse import Session


def _commonest_cause(stats: RunStats) -> str:
    """The commonest reason batches were not delivered, on one line (the executor took the
    credentials out); then, when the run stopped taking batches, that and how many rows it
    did not send (the error that stopped it comes first, however few rows it cost)."""
    causes = sorted(
        (
            (cause, rows)
            for cause, rows in stats.not_delivered_causes.items()
            if not cause.startswith(NOT_SENT)
        ),
        key=lambda item: (-item[1], item[0]),
    )
    text = causes[0][0] if causes else "not delivered"
    if len(causes) > 1:
        text += f" (and {len(causes) - 1} other error(s))"
    text = " ".join(text.split())[:400]
    if stats.not_sent:
        why = stats.stopped_early or "the run stopped early"
        text += f"; {stats.not_sent:,} of them not sent: {why}"
    return text


def not_delivered_note(stats: RunStats) -> str:
    return (
        f"{stats.not_delivered:,} rows not delivered (pending: the next run sends them): "
        f"{_commonest_cause(stats)}"
    )


def nothing_delivered(
    destination: Destination, stats: RunStats, sync: SyncConfig, name_sync: bool = False
) -> str:
    """One line for the run record (and, naming the sync, for the error the CLI, alerts and
    Dagster show): the destination, what happened to the rows and why."""
    rejected = (
        f" ({stats.rejected:,} rejected, recorded in {SCHEMA}.errors: "
        f"`tessera sync errors {sync.name}`)"
        if stats.rejected
        else ""
    )
    by = f" by sync {sync.name}" if name_sync else ""
    return (
        f"nothing was delivered to destination {destination.name} ({destination.type}){by}"
        f"{rejected}; {not_delivered_note(stats)}"
    )


def all_rejected(
    destination: Destination, stats: RunStats, sync: SyncConfig, example: str | None
) -> str:
    """One line for a run the destination answered and refused entirely: how many rows,
    where they are recorded (nothing is lost: the next run retries them) and the commonest
    reason."""
    text = (
        f"destination {destination.name} ({destination.type}) rejected all "
        f"{stats.rejected:,} rows; they are recorded in {SCHEMA}.errors "
        f"(`tessera sync errors {sync.name}`) and retried on the next run"
    )
    return f"{text}; most common: {example}" if example else text


def commonest_rejection(session: Session, run_id: str, destination: Destination) -> str | None:
    """This run's most frequent rejection, scrubbed of values and credentials (None when the
    errors cannot be read: the line is still right without it)."""
    try:
        frame = session.df(
            f"select error, count(*) as n from {SCHEMA}.errors "
            f"where run_id = {placeholder(session.dialect)} group by error "
            "order by n desc, error limit 1",
            [run_id],
        )
    except Exception:  # a hint is not worth failing the run's record over
        return None
    if frame.empty or frame.error[0] is None:
        return None
    text = scrub(str(frame.error[0]), getattr(destination, "redact", None))
    return " ".join(text.split())[:200]
