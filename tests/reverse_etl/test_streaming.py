"""Memory stays bounded as a segment grows: the committer's backlog is capped, DuckDB runs
under the sync's memory limit, and the run reports its phases (plan, send, commit)."""

from __future__ import annotations

from pathlib import Path

import pytest
from retl_helpers import (
    expected_contacts,
    hubspot_destination,
    hubspot_sync,
    live_contacts,
    query,
    run,
    sync_paths,
)

from reverse_etl.committer import Committer
from reverse_etl.runner import WarehouseLimits
from reverse_etl.state import Outcomes, StateStore, ensure_tables
from reverse_etl.testing import EmulatorHandle
from tessera.settings import Settings
from tessera.warehouse import Warehouse


def outcomes(start: int, n: int) -> Outcomes:
    batch = Outcomes()
    for i in range(start, start + n):
        batch.add(f"k{i:06d}", "synced", "added", f"h{i}", f"id{i}", None)
    return batch


def test_committer_backlog_is_capped_when_commits_lag_behind_sending(
    settings: Settings,
) -> None:
    with Warehouse(settings).session() as session:
        ensure_tables(session, "capped")
        committer = Committer(
            StateStore(session, "capped"),
            "run-1",
            commit_seconds=0.0,
            commit_rows=100,
            max_queued_rows=200,
        )
        committer.start()
        for batch in range(300):  # far faster than DuckDB commits: the sender must wait
            committer.put(outcomes(batch * 10, 10))
        committer.close()
        synced = session.scalar(
            "select count(distinct key) from tessera_sync.state_capped where status = 'synced'"
        )
    assert synced == 3000  # nothing lost to back-pressure
    assert committer.peak_queued_rows <= 200
    assert committer.waits > 0
    assert committer.queued_rows == 0


def test_a_batch_larger_than_the_cap_still_goes_through(settings: Settings) -> None:
    with Warehouse(settings).session() as session:
        ensure_tables(session, "big")
        committer = Committer(StateStore(session, "big"), "run-1", 0.0, 10, max_queued_rows=20)
        committer.start()
        committer.put(outcomes(0, 500))
        committer.put(outcomes(500, 500))
        committer.close()
        assert session.scalar("select count(*) from tessera_sync.state_big") == 1000


@pytest.mark.timeout(60)
def test_a_waiting_sender_gets_the_committers_error_instead_of_hanging(
    settings: Settings,
) -> None:
    with Warehouse(settings).session() as session:
        ensure_tables(session, "other")  # but not state_missing: every commit fails
        committer = Committer(StateStore(session, "missing"), "run-1", 0.0, 10, 20)
        committer.start()
        with pytest.raises(Exception, match="state_missing"):
            for batch in range(10_000):
                committer.put(outcomes(batch * 10, 10))
        with pytest.raises(Exception, match="state_missing"):
            committer.close()


def test_limits_are_set_on_the_duckdb_session(tmp_path: Path, settings: Settings) -> None:
    spill = tmp_path / "spill"
    limits = WarehouseLimits(memory_limit="64MiB", temp_directory=spill, threads=1)
    with Warehouse(settings).session() as session:
        limits.apply(session)
        memory, temp, threads = session.conn.execute(
            "select current_setting('memory_limit'), current_setting('temp_directory'), "
            "current_setting('threads')"
        ).fetchone()
    assert memory == "64.0 MiB"
    assert Path(temp) == spill and spill.is_dir()
    assert threads == 1


def test_the_default_limit_bounds_duckdb_well_below_its_own_default(settings: Settings) -> None:
    with Warehouse(settings).session() as session:
        WarehouseLimits().apply(session)
        limit = session.scalar("select current_setting('memory_limit')")
    assert limit.endswith("MiB") and float(limit.split()[0]) <= 512


def test_sync_limits_come_from_the_environment(tmp_path: Path) -> None:
    default = WarehouseLimits.from_settings(Settings.from_env({}))
    assert default.memory_limit == "128MB" and default.temp_directory is None
    env = {"TESSERA_SYNC_MEMORY_LIMIT": "1GB", "TESSERA_SYNC_TEMP_DIR": str(tmp_path)}
    chosen = WarehouseLimits.from_settings(Settings.from_env(env))
    assert chosen.memory_limit == "1GB" and chosen.temp_directory == tmp_path.resolve()
    lifted = Settings.from_env({"TESSERA_SYNC_MEMORY_LIMIT": "none"})
    assert WarehouseLimits.from_settings(lifted).memory_limit is None
    with pytest.raises(ValueError, match="TESSERA_SYNC_MEMORY_LIMIT='lots' is not a memory size"):
        Settings.from_env({"TESSERA_SYNC_MEMORY_LIMIT": "lots"})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"memory_limit": "lots"}, "memory_limit 'lots'"),
        ({"memory_limit": "256"}, "memory_limit '256'"),
        ({"memory_limit": "1GB; drop table x"}, "is not a size"),
        ({"threads": 0}, "threads must be at least 1"),
    ],
)
def test_bad_limits_are_refused_with_the_setting_named(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        WarehouseLimits(**kwargs)


def test_a_run_under_a_tight_memory_limit_delivers_everything_and_reports_phases(
    tmp_path: Path, settings: Settings, hubspot: EmulatorHandle
) -> None:
    paths = sync_paths(tmp_path, [hubspot_destination(hubspot.base_url)], [hubspot_sync()])
    limits = WarehouseLimits(memory_limit="32MB", temp_directory=tmp_path / "spill")
    phases: list[str] = []
    first = run(settings, paths, "crm", limits=limits, on_phase=phases.append, commit_rows=50)
    assert phases == ["plan", "send", "commit", "done"]
    assert first.status == "success"
    assert live_contacts(hubspot.app) == expected_contacts(settings)
    state = query(
        settings, "select count(*) as n, count(distinct key) as keys from tessera_sync.state_crm"
    )
    assert state.iloc[0].tolist() == [1960, 1960]

    phases.clear()
    second = run(settings, paths, "crm", limits=limits, on_phase=phases.append)
    assert second.plan.to_send == 0
    assert phases == ["plan", "send", "commit", "done"]
