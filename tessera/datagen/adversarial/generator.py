"""Entry points of the adversarial mode: `generate` (first load) and `append` (later loads).

The world (persons, their identifiers, every record and when each record reaches the
warehouse) is simulated from the seed over the history *and* `future_days` beyond the
end date. A load writes the rows whose load time falls in its window: `generate` those
loaded before the end of `end_date`, `append` those loaded up to a later moment, which
re-simulates the same world and brings late rows of every source (events that sat in an
offline app, POS uploads of a store that was down, ad platform backfills, consent imports)
whose event time is older than the previous load's watermark. Truth always describes
everything loaded so far. Chunks of persons are simulated independently, each from its own
random stream (seed, chunk), so a world is the same whatever the machine.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tessera.datagen import strings as s
from tessera.datagen.adversarial import commerce, contacts, phones, store, web
from tessera.datagen.adversarial.config import AdversarialConfig
from tessera.datagen.adversarial.context import Build
from tessera.datagen.adversarial.people import DAY_US, People, simulate_people
from tessera.datagen.adversarial.shared import build_shared
from tessera.datagen.adversarial.truth import Klass
from tessera.datagen.adversarial.world import COUNTRY_CODES
from tessera.datagen.generator import GenerationSummary
from tessera.warehouse import Session, Warehouse

_STREAM = 0xAD7E
MAX_PERSONS = 2_000_000
MEMORY_LIMIT = "2GB"  # the phone number spaces hold every slot up to this many persons


def generate(
    wh: Warehouse,
    persons: int,
    seed: int,
    end_date: date | None = None,
    days: int = 730,
    config: AdversarialConfig | None = None,
    chunk_persons: int = 50_000,
    progress: bool = True,
) -> GenerationSummary:
    """(Re)create schemas raw and truth with the first load of an adversarial world."""
    if not 1 <= persons <= MAX_PERSONS:
        raise ValueError(f"persons must be in [1, {MAX_PERSONS:,}], got {persons:,}")
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    if chunk_persons < 1:
        raise ValueError(f"chunk_persons must be at least 1, got {chunk_persons}")
    config = config or AdversarialConfig()
    end_date = end_date or datetime.now(UTC).date()
    until = _us(
        datetime(end_date.year, end_date.month, end_date.day, tzinfo=UTC) + timedelta(days=1)
    )
    world = _World(
        seed,
        persons,
        until - days * DAY_US,
        until + config.future_days * DAY_US,
        chunk_persons,
        config,
    )
    with _session(wh) as session:
        store.recreate_schemas(session)
        rows = _load(session, world, 0, until, replace=True, progress=progress)
    return rows


def append(wh: Warehouse, until: datetime, progress: bool = False) -> GenerationSummary:
    """The next load of the world in the warehouse: rows loaded from the last load up to `until`."""
    with _session(wh) as session:
        if not session.table_exists("truth", store.LOADS.name):
            raise RuntimeError(
                "no adversarial world in this warehouse: "
                "run `tessera datagen --mode adversarial` first"
            )
        last = session.df(
            f"select * from truth.{store.LOADS.name} order by load_number desc limit 1"
        ).iloc[0]
        world = _World(
            int(last.seed),
            int(last.persons),
            int(last.start_us),
            int(last.horizon_us),
            int(last.chunk_persons),
            AdversarialConfig.from_json(str(last.config)),
        )
        until_us = _us(until)
        previous = int(last.loaded_until_us)
        if not previous < until_us <= world.horizon_us:
            raise ValueError(
                f"until must be after the last load ({_iso(previous)}) and at most the end of "
                f"the simulated world ({_iso(world.horizon_us)}); got {_iso(until_us)}"
            )
        return _load(session, world, previous, until_us, replace=False, progress=progress)


class _World:
    def __init__(
        self,
        seed: int,
        persons: int,
        start_us: int,
        horizon_us: int,
        chunk: int,
        config: AdversarialConfig,
    ) -> None:
        self.seed, self.persons, self.start_us, self.horizon_us = (
            seed,
            persons,
            start_us,
            horizon_us,
        )
        self.chunk_persons, self.config = chunk, config
        self.shared = build_shared(seed, persons, config)

    def chunks(self) -> Iterator[tuple[dict[str, pa.Table], Build]]:
        for chunk, first in enumerate(range(0, self.persons, self.chunk_persons)):
            n = min(self.chunk_persons, self.persons - first)
            rng = np.random.default_rng([self.seed, _STREAM, chunk])
            people = simulate_people(rng, first + 1, n, self.start_us, self.horizon_us, self.config)
            b = Build(
                rng,
                self.seed,
                chunk,
                people,
                self.shared,
                self.config,
                self.start_us,
                self.horizon_us,
            )
            yield simulate_chunk(b), b


def simulate_chunk(b: Build) -> dict[str, pa.Table]:
    """Every raw table of one chunk, each row with its hidden load time."""
    _declare_shared(b)
    sessions = web.simulate_sessions(b)
    events = web.build_events(b, sessions)
    orders = commerce.build_orders(b, sessions)
    events = _attach_orders(events, sessions, orders)
    tables = {
        "events": events,
        "orders": orders.orders,
        "order_items": orders.items,
        "returns": orders.returns,
        "crm_contacts": contacts.build_crm(b),
        "email_events": contacts.build_email_events(b),
        "ad_clicks": web.build_ad_clicks(b, sessions),
        "support_tickets": contacts.build_tickets(b),
        "pos_purchases": commerce.build_pos(b),
        "consents": contacts.build_consents(b),
    }
    bots = web.build_bot_events(b)
    if bots is not None:
        tables["events"] = pa.concat_tables([tables["events"], bots.cast(tables["events"].schema)])
    return tables


def _attach_orders(events: pa.Table, sessions: web.Sessions, orders: commerce.Orders) -> pa.Table:
    """Fill Order Completed events with their order id and revenue."""
    session = np.repeat(np.arange(len(sessions.person)), sessions.n_events)
    is_order = np.asarray(pc.fill_null(pc.equal(events["event"], "Order Completed"), False))
    order_ids = s.null_where(~is_order, s.take(orders.order_id_by_session, session))
    revenue = pa.array(orders.revenue_by_session[session], mask=~is_order)
    events = events.set_column(
        events.schema.get_field_index("properties_order_id"), "properties_order_id", order_ids
    )
    return events.set_column(
        events.schema.get_field_index("properties_revenue"), "properties_revenue", revenue
    )


def _declare_shared(b: Build) -> None:
    """Household items and switchboards belong to every member, not to one person."""
    p = b.people
    everyone = np.arange(p.n)
    b.truth.declare("phone", phones.e164(p.country, p.landline_nsn), p.key, Klass.HOUSEHOLD)
    b.truth.declare("device_id", p.tablet_device, p.key, Klass.HOUSEHOLD)
    b.truth.declare("anonymous_id", p.tablet_anon, p.key, Klass.HOUSEHOLD)
    b.truth.declare("email", p.family_email, p.key, Klass.HOUSEHOLD)
    work = phones.e164(p.work_country, p.work_nsn)
    b.truth.declare("phone", s.null_where(~p.switchboard[everyone], work), p.key, Klass.SWITCHBOARD)


def _load(
    session: Session, world: _World, load_from: int, until: int, replace: bool, progress: bool
) -> GenerationSummary:
    started = time.perf_counter()
    store.create_scratch(session)
    n_chunks = -(-world.persons // world.chunk_persons)

    def write(tables: dict[str, pa.Table], b: Build) -> None:
        store.write_raw_chunk(session, tables, load_from, until)
        truth = b.truth.finalise(until)
        store.insert(session, f"{store.SCRATCH}.person", truth["person"])
        store.insert(session, f"{store.SCRATCH}.klass", truth["klass"])
        store.insert(session, f"{store.SCRATCH}.edges", truth["edges"])
        if replace:
            store.insert(session, "truth.persons", _persons_table(b.people, until))

    with (
        _progress(progress, n_chunks, world.persons) as advance,
        ThreadPoolExecutor(max_workers=1) as writer,
    ):
        # the writer thread stores chunk i while this thread simulates chunk i + 1 (numpy,
        # Arrow and DuckDB release the GIL); at most two chunks are held in memory
        pending: Future | None = None
        for tables, b in world.chunks():
            if pending is not None:
                pending.result()
                advance()
            pending = writer.submit(write, tables, b)
        if pending is not None:
            pending.result()
            advance()
        rows = store.publish_raw(session, replace)
        rows |= store.publish_truth(session)
        number = (
            1
            if replace
            else int(session.scalar(f"select max(load_number) from truth.{store.LOADS.name}")) + 1
        )
        session.execute(
            f"insert into truth.{store.LOADS.name} values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                number,
                load_from,
                until,
                world.seed,
                world.persons,
                world.start_us,
                world.horizon_us,
                world.chunk_persons,
                world.config.to_json(),
            ],
        )
        store.drop_scratch(session)
        advance()
    rows["truth.persons"] = int(session.scalar("select count(*) from truth.persons"))
    return GenerationSummary(rows, time.perf_counter() - started)


def _persons_table(p: People, until: int) -> pa.Table:
    # every person of the world is listed; churn is known only once it happened
    churned = p.churned & (p.end_us < until)
    return pa.table(
        {
            "person_key": p.key,
            "household_key": p.household,
            "country": pa.array(np.array(COUNTRY_CODES)[p.country], pa.string()),
            "propensity": np.round(p.propensity, 6),
            "is_registered": p.registered,
            "churned_at": pa.array(p.end_us, pa.timestamp("us"), mask=~churned),
        }
    )


@contextmanager
def _session(wh: Warehouse) -> Iterator[Session]:
    if wh.dialect != "duckdb":
        raise ValueError(
            f"the adversarial generator writes to DuckDB only, not {wh.dialect!r}; generate into "
            "a DuckDB file and load its tables, or use the default mode"
        )
    with wh.session() as session:
        # bounded memory: the chunk inserts and the load-order sort spill to disk instead of
        # growing with the world (DuckDB's default is 80% of RAM); connection-scoped
        session.execute(f"set memory_limit = '{MEMORY_LIMIT}'")
        yield session


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
        task = bar.add_task(f"Adversarial world of {persons:,} persons (chunks)", total=chunks + 1)
        yield lambda: bar.advance(task)


def _us(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def _iso(us: int) -> str:
    return datetime.fromtimestamp(us / 1e6, UTC).isoformat()
