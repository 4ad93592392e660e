"""The starter segments build with the real dbt CLI on DuckDB, over tables that follow the
profiles and scores contracts, and their membership is then recorded."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tessera.dbt import dbt_executable
from tessera.segments.catalog import load_catalog
from tessera.segments.membership import refresh_membership
from tessera.settings import Settings
from tessera.warehouse import Warehouse

STARTERS = {
    "cart_abandoners",
    "high_value_churn_risk",
    "likely_buyers_30d",
    "lapsed_vips",
    "new_customers_onboarding",
    "email_engaged_non_buyers",
    "recent_buyers_suppression",
}


def test_starter_segments_build_and_pass_their_dbt_tests(
    settings: Settings, warehouse: Warehouse, tmp_path: Path
) -> None:
    catalog = load_catalog(settings.dbt_project_dir / "models" / "segments")
    assert set(catalog.names()) >= STARTERS
    # Only the segment models are selected: their refs resolve to the contract tables above.
    proc = subprocess.run(
        [
            dbt_executable(),
            "build",
            "--select",
            *sorted(STARTERS),
            "--project-dir",
            str(settings.dbt_project_dir),
            "--profiles-dir",
            str(settings.dbt_profiles_dir),
            "--target",
            "duckdb",
            "--target-path",
            str(tmp_path / "dbt_target"),
            "--log-path",
            str(tmp_path / "dbt_logs"),
            "--threads",
            "1",
        ],
        cwd=settings.dbt_project_dir,
        env=settings.dbt_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-4000:]

    with warehouse.session() as session:
        sizes = {name: session.scalar(f"select count(*) from segments.{name}") for name in STARTERS}
        changes = refresh_membership(session, sorted(STARTERS))
    assert all(size > 0 for size in sizes.values()), sizes
    assert {c.segment: c.size for c in changes} == sizes
    assert all(c.entered == c.size and c.exited == 0 for c in changes)
