"""Who must not be in a sync's destination, as one SQL relation the planner joins.

Three sources, one mechanism (`person_id`, `strength`; the strongest wins):

- 3, erased: `privacy.deletion_requests` (person_id), followed one step through
  `identity.person_merges` both ways. Never sent; if the destination holds them, the
  vendor's delete for personal data, in every mode.
- 2, suppressed: consent for the sync's purpose is not granted in
  `profiles.customer_profiles`. Never sent; if the destination holds them, removed
  (audiences) or deleted / unsubscribed (CRMs), in every mode.
- 1, holdout: this sync's rows of `experiments.sync_holdouts`. Never sent; treated as
  outside the segment: removed where the mode removes (mirror, add_remove), left alone
  elsewhere.

Each source is used only when its relation exists, so a project without privacy or
experiment tables plans exactly as before. The diff stays in the warehouse: persons are
matched by id in SQL, and only the keys to remove leave it.
"""

from __future__ import annotations

from dataclasses import dataclass

from reverse_etl.config import SyncConfig
from tessera.warehouse import Session

DELETION_REQUESTS = ("privacy", "deletion_requests")
PERSON_MERGES = ("identity", "person_merges")
SYNC_HOLDOUTS = ("experiments", "sync_holdouts")
PROFILES = ("profiles", "customer_profiles")
ERASED, SUPPRESSED, HOLDOUT = 3, 2, 1


@dataclass(frozen=True)
class SuppressionSources:
    deletion_requests: bool = False
    person_merges: bool = False
    holdouts: bool = False
    consent_purpose: str | None = None

    @property
    def any(self) -> bool:
        return self.deletion_requests or self.holdouts or self.consent_purpose is not None


def detect(session: Session, sync: SyncConfig) -> SuppressionSources:
    deletions = session.table_exists(*DELETION_REQUESTS)
    return SuppressionSources(
        deletion_requests=deletions,
        person_merges=deletions and session.table_exists(*PERSON_MERGES),
        holdouts=_holds_out(session, sync),
        consent_purpose=sync.consent,
    )


def _holds_out(session: Session, sync: SyncConfig) -> bool:
    """Whether any experiment holds persons out of this sync. The experiments models
    always build the relation, so its mere existence must not demand a person column
    of every segment: only the syncs an experiment names are affected."""
    if not session.table_exists(*SYNC_HOLDOUTS):
        return False
    return bool(
        session.scalar(
            f"select count(*) from (select 1 from {SYNC_HOLDOUTS[0]}.{SYNC_HOLDOUTS[1]} "
            f"where sync_name = {_quote_literal(sync.name)} limit 1) as any_holdout"
        )
    )


def _quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def suppression_sql(sync: SyncConfig, sources: SuppressionSources) -> str | None:
    """`select person_id, strength` (one row per person), or None when nothing applies."""
    parts: list[str] = []
    if sources.deletion_requests:
        requests = f"{DELETION_REQUESTS[0]}.{DELETION_REQUESTS[1]}"
        parts.append(
            f"select cast(person_id as varchar) as person_id, {ERASED} as strength "
            f"from {requests} where person_id is not null"
        )
        if sources.person_merges:
            merges = f"{PERSON_MERGES[0]}.{PERSON_MERGES[1]}"
            parts.append(  # the request named an id that was later merged into another
                f"select cast(m.person_id as varchar) as person_id, {ERASED} as strength "
                f"from {merges} as m "
                f"join {requests} as r on cast(r.person_id as varchar) = "
                "cast(m.old_person_id as varchar)"
            )
            parts.append(  # the request named the survivor: its merged-away ids too
                f"select cast(m.old_person_id as varchar) as person_id, {ERASED} as strength "
                f"from {merges} as m "
                f"join {requests} as r on cast(r.person_id as varchar) = "
                "cast(m.person_id as varchar)"
            )
    if sources.consent_purpose:
        parts.append(
            f"select cast(person_id as varchar) as person_id, {SUPPRESSED} as strength "
            f"from {PROFILES[0]}.{PROFILES[1]} "
            f"where coalesce(consent_{sources.consent_purpose}, false) = false"
        )
    if sources.holdouts:
        parts.append(
            f"select cast(person_id as varchar) as person_id, {HOLDOUT} as strength "
            f"from {SYNC_HOLDOUTS[0]}.{SYNC_HOLDOUTS[1]} "
            f"where sync_name = {_quote_literal(sync.name)} and person_id is not null"
        )
    if not parts:
        return None
    union = "\n            union all ".join(
        f"select * from ({part}) as source_{i}" for i, part in enumerate(parts)
    )
    return f"""select person_id, max(strength) as strength from (
            {union}
        ) as sources group by person_id"""
