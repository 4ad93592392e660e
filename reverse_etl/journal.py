"""Acknowledgements journaled to local disk the moment they arrive; replayed by the next run.

The state table is written in groups, off the send path (see committer.py), so there is a
lag between a destination's acknowledgement and its commit. A SIGKILL inside that lag used
to cost a resend of everything acknowledged since the last commit (a median of 10,100 rows
of 200k in one outside trial). The journal closes that gap: the worker that received an
acknowledgement appends its batch's outcomes here (one `write()`, no fsync: the kernel keeps
the bytes through a process kill) before it takes another batch. The next run of the sync
replays whatever the warehouse never committed before it plans, so a kill at any moment
costs at most the batches that were on the wire: `concurrency x batch_size` rows.

What it does not cover: losing the machine itself (power cut, a container replaced with
its disk). Then the commit lag bounds the resend (`commit_seconds` / `commit_rows`).

File layout: `<journal dir>/<warehouse id>/<sync>/<run_id>.journal`, one per run, deleted
once everything in it is committed. A record is `length (4 bytes) | crc32 (4 bytes) |
JSON`; a torn tail (the process died mid-write) fails its checksum and is ignored, which is
safe: that batch's outcome was never known, so its rows are sent again.
"""

from __future__ import annotations

import hashlib
import logging
import os
import struct
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from reverse_etl.jsonio import dumps, loads
from reverse_etl.state import Outcomes
from tessera.settings import Settings
from tessera.warehouse import Session

log = logging.getLogger("tessera.reverse_etl")

_HEADER = struct.Struct("<II")
SUFFIX = ".journal"


def warehouse_identity(settings: Settings) -> str:
    """A short stable id of the warehouse, so two warehouses never share a journal."""
    if settings.target == "snowflake" and settings.snowflake is not None:
        sf = settings.snowflake
        name = f"snowflake:{sf.account}:{sf.host or ''}:{sf.port or ''}:{sf.database}".lower()
    else:
        name = f"duckdb:{Path(settings.warehouse_path).resolve()}"
    return hashlib.sha256(name.encode()).hexdigest()[:16]


def journal_dir(settings: Settings, base: Path | None = None) -> Path:
    return (base or settings.artifacts_dir / "sync_journal") / warehouse_identity(settings)


@dataclass(frozen=True)
class JournalRecord:
    seq: int
    outcomes: Outcomes


class AckJournal:
    """The append-only journal of one run; thread-safe, one `write()` per record."""

    def __init__(self, directory: Path, sync_name: str, run_id: str) -> None:
        self.path = directory / sync_name / f"{run_id}{SUFFIX}"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._lock = threading.Lock()
        self.records = 0

    def append(self, seq: int, outcomes: Outcomes) -> None:
        payload = dumps({"seq": seq, "columns": outcomes.as_columns()})
        record = _HEADER.pack(len(payload), zlib.crc32(payload)) + payload
        with self._lock:
            if self._fd < 0:
                raise RuntimeError(f"journal {self.path} is closed")
            written = os.write(self._fd, record)
            if written != len(record):  # a short write on a full disk: never half a record
                os.ftruncate(self._fd, os.lseek(self._fd, 0, os.SEEK_END) - written)
                raise OSError(f"journal {self.path}: short write ({written} of {len(record)})")
            self.records += 1

    def close(self, delete: bool) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
        if delete:
            self.path.unlink(missing_ok=True)


def read_records(path: Path) -> Iterator[JournalRecord]:
    """Every whole record of a journal file, in order; stops at a torn or corrupt tail."""
    data = path.read_bytes()
    offset = 0
    while offset + _HEADER.size <= len(data):
        length, crc = _HEADER.unpack_from(data, offset)
        start, end = offset + _HEADER.size, offset + _HEADER.size + length
        payload = data[start:end]
        if end > len(data) or zlib.crc32(payload) != crc:
            log.warning("journal %s: ignoring a torn record at byte %d", path, offset)
            return
        body = loads(payload)
        outcomes = Outcomes()
        columns = body["columns"]
        for values in zip(*(columns[name] for name in Outcomes.COLUMNS), strict=True):
            outcomes.add(*values)
        yield JournalRecord(int(body["seq"]), outcomes)
        offset = end


def pending_journals(directory: Path, sync_name: str) -> list[Path]:
    folder = directory / sync_name
    if not folder.exists():
        return []
    return sorted(folder.glob(f"*{SUFFIX}"), key=lambda p: p.stat().st_mtime)


def replay(session: Session, sync_name: str, directory: Path, destination: str = "") -> int:
    """Commit what earlier runs of this sync journaled but never committed; returns rows.

    The caller holds the sync's lock. Each journal is applied in one transaction that also
    marks it done, then deleted; a record already committed (its seq at or below the run's
    mark) is skipped, so replaying twice applies nothing twice.
    """
    from reverse_etl.runlog import RunLog
    from reverse_etl.state import StateStore

    store = StateStore(session, sync_name, destination)
    runs = RunLog(session)
    replayed = 0
    for path in pending_journals(directory, sync_name):
        run_id = path.name.removesuffix(SUFFIX)
        if not runs.known(sync_name, run_id):
            log.warning("journal %s names no run of sync %s here; removed", path, sync_name)
            path.unlink(missing_ok=True)
            continue
        committed = store.committed_seq(run_id)
        pending = Outcomes()
        last = committed
        for record in read_records(path):
            if record.seq > committed:
                pending.extend(record.outcomes)
                last = max(last, record.seq)
        if len(pending):
            store.commit(run_id, pending, journal_seq=last)
            replayed += len(pending)
            log.warning(
                "sync %s: committed %d acknowledged row(s) that run %s journaled but never "
                "committed",
                sync_name,
                len(pending),
                run_id,
            )
        path.unlink(missing_ok=True)  # before the mark goes: a replay never applies twice
        store.drop_mark(run_id)
    return replayed
