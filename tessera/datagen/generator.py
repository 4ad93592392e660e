"""Entry points: `generate` (fresh warehouse) and `append_activity` (more of the same, later).

Work is chunked by persons: each chunk is simulated with vectorised numpy, written, and
dropped, so memory stays flat in the number of persons. Every chunk draws from its own
random stream seeded by (seed, chunk index): the same (seed, persons, end_date, days,
chunk_persons) always produces identical tables. Once every chunk is written, each raw table
is rewritten in load-time order, as a loader would have appended it (Sink.order_by_load_time);
that one sort is the step whose memory grows with the data.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa

from tessera.datagen import channels, commerce, events, sessions
from tessera.datagen import reference as ref
from tessera.datagen.calendar import DAY_US, Calendar, to_us
from tessera.datagen.context import SEQUENCES, ChunkContext, IdAllocator
from tessera.datagen.population import MAX_PERSON_KEY, Population, simulate_population
from tessera.datagen.sink import Sink
from tessera.warehouse import Warehouse

_APPEND_STREAM = 1_000_003  # keeps append random streams apart from generate's chunks
APPEND_LOOKBACK_US = 7 * DAY_US  # late events can arrive up to 6 days after they happened


@dataclass
class GenerationSummary:
    rows_per_table: dict[str, int]
    seconds: float


def generate(
    wh: Warehouse,
    persons: int,
    seed: int,
    end_date: date | None = None,
    days: int = 730,
    parquet_dir: str | Path | None = None,
    chunk_persons: int = 50_000,
    progress: bool = True,
) -> GenerationSummary:
    """(Re)create schemas raw and truth and fill them with `persons` hidden persons."""
    if persons < 1:
        raise ValueError(f"persons must be at least 1, got {persons}")
    if persons > MAX_PERSON_KEY:
        raise ValueError(f"persons must be at most {MAX_PERSON_KEY:,}, got {persons:,}")
    if chunk_persons < 1:
        raise ValueError(f"chunk_persons must be at least 1, got {chunk_persons}")
    started = time.perf_counter()
    end_date = end_date or datetime.now(UTC).date()
    calendar = Calendar.build(end_date, days)
    catalog = ref.Catalog.build()
    ids = IdAllocator()
    n_chunks = -(-persons // chunk_persons)
    with (
        wh.session() as session,
        _progress(progress, n_chunks, persons) as advance,
        ThreadPoolExecutor(max_workers=1) as writer,
    ):
        sink = Sink(session, parquet_dir)
        sink.recreate()
        # The writer thread inserts chunk i while this thread simulates chunk i + 1 (DuckDB
        # and numpy both release the GIL); at most two chunks are held in memory.
        pending: Future | None = None
        for chunk in range(n_chunks):
            first_key = 1 + chunk * chunk_persons
            n = min(chunk_persons, persons - chunk * chunk_persons)
            rng = np.random.default_rng([seed, chunk])
            ctx = ChunkContext(
                rng, seed, calendar, calendar.start_us, calendar.end_us, catalog, ids
            )
            pop = simulate_population(rng, seed, first_key, n, calendar)
            tables = simulate_activity(ctx, pop)
            if pending is not None:
                pending.result()
                advance()
            pending = writer.submit(_write, sink, tables, f"part-{chunk:05d}", False)
        if pending is not None:
            pending.result()
            advance()
        sink.order_by_load_time()
        advance()
    return GenerationSummary(sink.rows, time.perf_counter() - started)


def simulate_activity(ctx: ChunkContext, pop: Population) -> dict[str, pa.Table]:
    """Every table for one chunk of persons within the context's window."""
    visits = sessions.simulate_sessions(ctx, pop)
    layout = events.layout_events(ctx, visits)
    orders = commerce.build_orders(ctx, pop, visits, layout.order_time)
    tables = {
        "raw.events": events.build_events(
            ctx, pop, visits, layout, orders.order_id_by_session, orders.total_by_session
        ),
        "raw.orders": orders.orders,
        "raw.order_items": orders.items,
        "raw.returns": orders.returns,
    }
    plan = channels.email_plan(ctx, pop)
    tables["raw.crm_contacts"] = channels.build_crm_contacts(ctx, pop)
    tables["raw.email_events"] = channels.build_email_events(ctx, pop, plan, visits)
    tables["raw.ad_clicks"] = channels.build_ad_clicks(ctx, pop, visits)
    tables["raw.support_tickets"] = channels.build_support_tickets(ctx, pop, orders)
    tables["raw.pos_purchases"] = commerce.build_pos_purchases(ctx, pop)
    tables["raw.consents"] = channels.build_consents(ctx, pop, plan)
    tables["truth.identifier_person"] = ctx.truth.table()
    tables["truth.identifier_evidence"] = ctx.truth.evidence()
    tables["truth.persons"] = persons_table(pop)
    return tables


def persons_table(pop: Population) -> pa.Table:
    new = np.flatnonzero(pop.is_new)
    churned = pop.churned[new]
    return pa.table(
        {
            "person_key": pop.keys[new],
            "household_key": pop.household[new],
            "country": pa.array(np.array(ref.COUNTRIES)[pop.country[new]], pa.string()),
            "propensity": np.round(pop.propensity[new], 6),
            "is_registered": pop.registered[new],
            "churned_at": pa.array(pop.churned_at[new], pa.timestamp("us"), mask=~churned),
        }
    )


def _write(sink: Sink, tables: dict[str, pa.Table], part_name: str, only_new_truth: bool) -> None:
    for qualified, table in tables.items():
        sink.write(
            qualified,
            table,
            part_name,
            only_new_truth=only_new_truth
            and qualified in ("truth.identifier_person", "truth.identifier_evidence"),
        )


@contextmanager
def _progress(enabled: bool, chunks: int, persons: int) -> Iterator:
    if not enabled:
        yield lambda: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    ) as bar:
        # the last step orders the raw tables by load time (Sink.order_by_load_time)
        task = bar.add_task(f"Generating {persons:,} persons (chunks)", total=chunks + 1)
        yield lambda: bar.advance(task)


def append_activity(
    wh: Warehouse,
    seed: int,
    start: datetime,
    end: datetime,
    persons_fraction: float,
    new_persons: int | None = None,
    chunk_persons: int = 50_000,
    parquet_dir: str | Path | None = None,
) -> GenerationSummary:
    """Append activity in [start, end) for a random share of existing persons, plus a few new.

    Existing persons reuse the identifiers listed in truth.identifier_person (and the
    device/anonymous id pairs seen in raw.events); new persons get truth rows of their own.
    Record ids continue after the largest existing ones, so nothing collides.
    """
    from tessera.datagen.existing import load_existing

    if not 0.0 < persons_fraction <= 1.0:
        raise ValueError(f"persons_fraction must be in (0, 1], got {persons_fraction}")
    start_us, end_us = to_us(start), to_us(end)
    if end_us <= start_us:
        raise ValueError(f"end ({end}) must be after start ({start})")
    started = time.perf_counter()
    start_day = datetime.fromtimestamp((start_us - APPEND_LOOKBACK_US) / 1e6, UTC).date()
    end_day = datetime.fromtimestamp((end_us - 1) / 1e6, UTC).date()
    calendar = Calendar.build(end_day, (end_day - start_day).days + 1)
    catalog = ref.Catalog.build()
    rng = np.random.default_rng([seed, _APPEND_STREAM, start_us, end_us])

    if wh.dialect != "duckdb":
        raise ValueError(f"append_activity supports the duckdb target only, not {wh.dialect!r}")
    with wh.session(create=False) as session:
        sink = Sink(session, parquet_dir)
        sink.require_existing()
        ids = IdAllocator(
            {name: int(session.scalar(seq.next_number_sql())) for name, seq in SEQUENCES.items()}
        )
        max_key = int(session.scalar("select coalesce(max(person_key), 0) from truth.persons"))
        # Persons who churned before the window stay gone.
        all_keys = (
            session.conn.cursor()
            .execute(
                "select person_key from truth.persons "
                "where churned_at is null or epoch_us(churned_at) > ? order by person_key",
                [start_us],
            )
            .fetchnumpy()["person_key"]
        )
        all_keys = np.asarray(all_keys, dtype=np.int64)
        chosen = np.sort(all_keys[rng.random(len(all_keys)) < persons_fraction])
        n_new = round(len(chosen) * 0.05) if new_persons is None else new_persons
        if max_key + n_new > MAX_PERSON_KEY:
            raise ValueError(f"person keys would exceed {MAX_PERSON_KEY:,}")

        stamp = datetime.fromtimestamp(start_us / 1e6, UTC).strftime("%Y%m%dT%H%M%S")
        for part, lo in enumerate(range(0, max(len(chosen), 1), chunk_persons)):
            keys = chosen[lo : lo + chunk_persons]
            chunk_rng = np.random.default_rng([seed, _APPEND_STREAM, start_us, end_us, part + 1])
            pop = load_existing(
                session, chunk_rng, seed, keys, start_us - APPEND_LOOKBACK_US, end_us
            )
            if part == 0 and n_new:
                fresh = simulate_population(chunk_rng, seed, max_key + 1, n_new, calendar)
                fresh.first_seen = np.maximum(fresh.first_seen, start_us)
                fresh.registered_at = np.maximum(fresh.registered_at, fresh.first_seen)
                pop = concat_populations(pop, fresh) if pop.n else fresh
            if pop.n == 0:
                break
            ctx = ChunkContext(
                chunk_rng, seed, calendar, start_us, end_us, catalog, ids, APPEND_LOOKBACK_US
            )
            _write(sink, simulate_activity(ctx, pop), f"append-{stamp}-{part:05d}", True)
    return GenerationSummary(sink.rows, time.perf_counter() - started)


def concat_populations(a: Population, b: Population) -> Population:
    from tessera.datagen.existing import concat_populations as _concat

    return _concat(a, b)
