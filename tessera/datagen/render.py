"""Put a person's identifiers on generated rows: pick one, make it messy, log the truth.

Ground truth is recorded after placeholders are applied, so a row whose identifier was
replaced by `unknown` or `test@test.com` contributes nothing to `truth.identifier_person`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from tessera.datagen import mess
from tessera.datagen import strings as s
from tessera.datagen.context import ChunkContext
from tessera.datagen.population import Population


def emails(
    ctx: ChunkContext,
    pop: Population,
    person: np.ndarray,
    want: np.ndarray,
    *,
    primary_share: float | np.ndarray = 0.8,
    mess_rate: float = 0.15,
    placeholder_rate: float = 0.0,
) -> pa.Array:
    rng = ctx.rng
    n = len(person)
    item = pop.emails.choose(rng, person, primary_share)
    rows = np.flatnonzero(np.asarray(want, dtype=bool) & (item >= 0))
    canonical = s.take(pop.email_values, item[rows]) if len(rows) else s.nulls(0)
    raw = mess.messy_emails(rng, canonical, mess_rate)
    raw, replaced = mess.with_placeholders(rng, raw, placeholder_rate, mess.EMAIL_PLACEHOLDERS)
    ctx.truth.add("email", canonical, pop.keys[person[rows]], ~replaced, rows)
    return s.scatter(n, rows, raw)


def phones(
    ctx: ChunkContext,
    pop: Population,
    person: np.ndarray,
    want: np.ndarray,
    *,
    primary_share: float | np.ndarray = 0.8,
    allow_national: np.ndarray | bool = False,
    placeholder_rate: float = 0.0,
) -> pa.Array:
    rng = ctx.rng
    n = len(person)
    item = pop.phones.items.choose(rng, person, primary_share)
    rows = np.flatnonzero(np.asarray(want, dtype=bool) & (item >= 0))
    if not len(rows):
        return s.nulls(n)
    national = np.broadcast_to(np.asarray(allow_national, dtype=bool), (n,))[rows]
    raw = mess.messy_phones(
        rng, pop.phones.calling_code[item[rows]], s.take(pop.phones.national, item[rows]), national
    )
    raw, replaced = mess.with_placeholders(rng, raw, placeholder_rate, mess.PHONE_PLACEHOLDERS)
    e164 = s.take(pop.phones.e164, item[rows])
    ctx.truth.add("phone", e164, pop.keys[person[rows]], ~replaced, rows)
    return s.scatter(n, rows, raw)


def identifier(
    ctx: ChunkContext,
    id_type: str,
    values: pa.Array,
    person_keys: np.ndarray,
    *,
    placeholder_rate: float = 0.0,
    placeholders: Sequence[str] = (),
) -> pa.Array:
    """An id taken as is (user_id, anonymous_id ...), some replaced by placeholders."""
    raw, replaced = (
        mess.with_placeholders(ctx.rng, values, placeholder_rate, placeholders)
        if placeholder_rate
        else (values, np.zeros(len(values), dtype=bool))
    )
    ctx.truth.add(id_type, values, person_keys, ~replaced)
    return raw


def sprinkle(
    rng: np.random.Generator, values: pa.Array, rate: float, placeholders: Sequence[str]
) -> pa.Array:
    """Put placeholders into some *empty* slots (a till clerk typing 0000000000)."""
    n = len(values)
    empty = np.asarray(values.is_null(), dtype=bool) & (rng.random(n) < rate)
    if not empty.any():
        return values
    return s.where(empty, s.pick(placeholders, rng.integers(0, len(placeholders), n)), values)
