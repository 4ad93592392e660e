"""Time-based train / validation split: the past trains, the latest labelled cutoff judges.

A training cutoff is only used when its whole outcome window ends on or before the
validation cutoff (cutoff + horizon <= validation cutoff). Otherwise the model would learn
from outcomes that happen after the moment it is judged on, which flatters the validation
metrics (a purged, "embargoed" split). With monthly cutoffs that drops the cutoffs just
before the validation one for longer horizons (e.g. two of them for churn_90d).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta

from ml.config import MLConfig, ModelSpec
from ml.data import CutoffStats, FeatureSchema, LabelledData, LabelSpec, load_labelled
from ml.errors import HistoryTooShortError
from tessera.warehouse import Session


@dataclass(frozen=True)
class TimeSplit:
    train_cutoffs: tuple[date, ...]
    validation_cutoff: date
    purged_cutoffs: tuple[date, ...]  # labelled, but their outcome window overlaps validation
    # older training cutoffs left out to keep the training rows within max_training_rows
    unused_cutoffs: tuple[date, ...] = ()

    @property
    def used_cutoffs(self) -> tuple[date, ...]:
        return (*self.train_cutoffs, self.validation_cutoff)


def time_split(stats: list[CutoffStats], horizon_days: int, model: str) -> TimeSplit:
    """Validate on the latest labelled cutoff, train on the earlier ones it cannot see."""
    if not stats:
        raise HistoryTooShortError(
            f"no labelled rows for {model}: no cutoff has a complete {horizon_days}-day "
            "outcome window before the scoring cutoff"
        )
    cutoffs = sorted(s.cutoff for s in stats)
    validation = cutoffs[-1]
    latest_allowed = validation - timedelta(days=horizon_days)
    train = tuple(c for c in cutoffs[:-1] if c <= latest_allowed)
    purged = tuple(c for c in cutoffs[:-1] if c > latest_allowed)
    if not train:
        raise HistoryTooShortError(
            f"cannot train {model} on {horizon_days}-day windows: it needs a training cutoff "
            f"at least {horizon_days} days before the validation cutoff {validation} "
            f"(labelled cutoffs: {', '.join(map(str, cutoffs))})"
        )
    return TimeSplit(train_cutoffs=train, validation_cutoff=validation, purged_cutoffs=purged)


def within_row_budget(
    split: TimeSplit, stats: list[CutoffStats], max_rows: int | None, min_cutoffs: int
) -> TimeSplit:
    """The most recent training cutoffs, older ones only while their rows fit in `max_rows`
    (never fewer than `min_cutoffs`); the rest are recorded as unused."""
    if max_rows is None:
        return split
    rows = {s.cutoff: s.rows for s in stats}
    kept: list[date] = []
    total = 0
    for cutoff in sorted(split.train_cutoffs, reverse=True):
        if len(kept) >= min_cutoffs and total + rows.get(cutoff, 0) > max_rows:
            break
        kept.append(cutoff)
        total += rows.get(cutoff, 0)
    unused = tuple(c for c in split.train_cutoffs if c not in kept)
    return replace(split, train_cutoffs=tuple(sorted(kept)), unused_cutoffs=unused)


def load_split(
    session: Session,
    config: MLConfig,
    schema: FeatureSchema,
    spec: ModelSpec,
    split: TimeSplit,
    label: LabelSpec | None = None,
) -> tuple[LabelledData, LabelledData]:
    """Training and validation rows, each selected by its cutoffs in the warehouse.

    Two queries rather than one result split in memory: no second copy of a large frame.
    """
    train = load_labelled(session, config, schema, spec, split.train_cutoffs, label)
    valid = load_labelled(session, config, schema, spec, [split.validation_cutoff], label)
    return train, valid
