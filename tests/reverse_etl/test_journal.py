"""The acknowledgement journal: torn tails are ignored, a replay applies each record once."""

from __future__ import annotations

from pathlib import Path

import pytest
from retl_helpers import query

from reverse_etl.journal import AckJournal, read_records, replay
from reverse_etl.runlog import RunLog
from reverse_etl.state import Outcomes, StateStore, ensure_tables
from tessera.settings import Settings
from tessera.warehouse import Warehouse


def batch(start: int, n: int, outcome: str = "synced") -> Outcomes:
    out = Outcomes()
    for i in range(start, start + n):
        error = "rejected" if outcome == "failed" else None
        row_hash = f"h{i}" if outcome == "synced" else None
        out.add(f"k{i:04d}", outcome, "added", row_hash, f"id{i}", error, f"p{i}")
    return out


def test_a_torn_last_record_is_ignored(tmp_path: Path) -> None:
    journal = AckJournal(tmp_path, "crm", "run1")
    for seq in (1, 2, 3):
        journal.append(seq, batch(seq * 10, 5))
    journal.close(delete=False)
    whole = journal.path.read_bytes()
    journal.path.write_bytes(whole + whole[:40])  # a kill in the middle of a 4th write
    records = list(read_records(journal.path))
    assert [r.seq for r in records] == [1, 2, 3]
    assert len(records[2].outcomes) == 5
    corrupt = bytearray(whole)
    corrupt[-3] ^= 0xFF  # a flipped byte in the last record fails its checksum
    journal.path.write_bytes(bytes(corrupt))
    assert [r.seq for r in read_records(journal.path)] == [1, 2]


def test_replay_applies_only_what_was_never_committed_and_only_once(
    tmp_path: Path, settings: Settings
) -> None:
    directory = tmp_path / "journals"
    with Warehouse(settings).session() as s:
        ensure_tables(s, "crm")
        run_id = RunLog(s).start("crm", "hubspot", "upsert", False)
        store = StateStore(s, "crm")
        journal = AckJournal(directory, "crm", run_id)
        journal.append(1, batch(0, 10))
        journal.append(2, batch(10, 10))
        journal.append(3, batch(20, 5, "failed"))
        store.commit(run_id, batch(0, 10), journal_seq=1)  # the committer got this far
        journal.close(delete=False)  # ... and the process was killed

        assert replay(s, "crm", directory) == 15
        assert not journal.path.exists()
        # a second replay (or one interrupted after its commit) applies nothing again
        assert replay(s, "crm", directory) == 0
    state = query(settings, "select status, count(*) as n from tessera_sync.state_crm group by 1")
    assert dict(state.itertuples(index=False)) == {"synced": 20, "failed": 5}
    errors = query(settings, "select attempt from tessera_sync.errors")
    assert errors.attempt.tolist() == [1] * 5  # each failure counted once
    assert query(settings, "select count(*) as n from tessera_sync.journal_marks").n[0] == 0


def test_a_journal_of_a_run_this_warehouse_never_had_is_dropped(
    tmp_path: Path, settings: Settings
) -> None:
    directory = tmp_path / "journals"
    journal = AckJournal(directory, "crm", "someone-elses-run")
    journal.append(1, batch(0, 3))
    journal.close(delete=False)
    with Warehouse(settings).session() as s:
        ensure_tables(s, "crm")
        assert replay(s, "crm", directory) == 0
    assert not journal.path.exists()
    assert query(settings, "select count(*) as n from tessera_sync.state_crm").n[0] == 0


def test_when_commits_fail_the_journal_keeps_the_acknowledgements_for_the_next_run(
    tmp_path: Path,
    settings: Settings,
    hubspot: object,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from retl_helpers import hubspot_destination, hubspot_sync, run, sync_paths

    from reverse_etl.state import StateStore as Store

    paths = sync_paths(tmp_path, [hubspot_destination(hubspot.base_url)], [hubspot_sync()])
    original = Store.commit

    def failing_commit(self: Store, *args: object, **kwargs: object) -> None:
        raise RuntimeError("the warehouse went away")

    monkeypatch.setattr(Store, "commit", failing_commit)
    with pytest.raises(RuntimeError, match="went away"):
        run(settings, paths, "crm")
    journals = list((settings.artifacts_dir / "sync_journal").rglob("*.journal"))
    assert len(journals) == 1  # kept: nothing it holds reached the state table
    sent = len(hubspot.app.contacts)
    assert sent > 0

    monkeypatch.setattr(Store, "commit", original)
    before = sum(hubspot.app.received.values())
    result = run(settings, paths, "crm")
    assert result.recovered_rows >= sent - 400  # all but what the failing run never answered
    assert sum(hubspot.app.received.values()) - before == 1960 - result.recovered_rows
    assert not list((settings.artifacts_dir / "sync_journal").rglob("*.journal"))
