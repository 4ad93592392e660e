"""The shipped starter syncs and the demo round: first sync, change, re-sync sends the diff."""

from __future__ import annotations

from pathlib import Path

import pytest
from retl_helpers import demo_warehouse, execute, person_frame, settings_for
from rich.console import Console

from reverse_etl.demo import run_sync_demo
from reverse_etl.runner import SyncPaths
from tessera.warehouse import Warehouse


def test_demo_syncs_starter_segments_then_only_the_changes(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    settings = settings_for(tmp_path)
    people = person_frame(1500)
    people["country"] = "US"
    people["rfm_segment"] = "cant_lose_them"
    people["revenue_total"] = 120.5
    people["churn_score"] = 0.7
    people["churn_reason"] = "recency"
    with Warehouse(settings).session() as s:
        s.write_df(people, "segments", "lapsed_vips", mode="replace")
        s.write_df(people.iloc[:700], "segments", "recent_buyers_suppression", mode="replace")
        s.write_df(people.iloc[500:], "segments", "high_value_churn_risk", mode="replace")
        s.execute("create schema profiles")
        s.execute(
            "create table profiles.customer_profiles as select person_id, "
            "true as consent_email, true as consent_sms, "
            "(cast(substr(person_id, 2) as integer) % 10 <> 0) as consent_ads "
            "from segments.lapsed_vips"
        )
    assert len(SyncPaths.default(settings).catalog().syncs) >= 4  # shipped YAML is valid

    console = Console(width=160, force_terminal=False)
    assert run_sync_demo(settings, console) == 0
    out = capsys.readouterr().out
    assert "hubspot_lapsed_vips" in out and "meta_suppress_recent_buyers" in out
    assert "Only the rows that changed were sent" in out
    # first sync sent every consented member; the re-sync sent ~1% changed + ~1% removed
    line = next(ln for ln in out.splitlines() if "hubspot_lapsed_vips " in ln)
    cells = [c.strip() for c in line.strip("│ ").split("│")]
    first, changed, removed, sent = (int(v.replace(",", "")) for v in cells[1:5])
    assert first == 1500 and 0 < changed < 60 and sent == changed  # upsert: no removals sent


def test_a_sync_the_destination_refuses_fails_the_demo_but_not_the_other_syncs(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    settings = settings_for(tmp_path)
    demo_warehouse(settings)
    # HubSpot refuses every row of the segment its sync reads
    execute(settings, "update segments.lapsed_vips set email = 'not-an-email-' || person_id")

    assert run_sync_demo(settings, Console(width=200)) == 1
    out = capsys.readouterr().out
    assert "hubspot_lapsed_vips failed" in out and "rejected" in out
    line = next(ln for ln in out.splitlines() if "meta_suppress_recent_buyers " in ln)
    assert int(line.strip("│ ").split("│")[1].strip().replace(",", "")) > 0
