"""Where the orchestration keeps its dbt artifacts, beside Tessera's own settings."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from tessera.settings import Settings, check_dbt_project_file, resolve_path

# The concurrency pool every DuckDB writer (dbt, ml scoring, syncs) runs in. DuckDB allows one
# writing process per file, so the instance limits this pool to one slot (see dagster.yaml).
WAREHOUSE_POOL = "tessera_warehouse"

DBT_TARGET_PATH_ENV = "TESSERA_DBT_TARGET_PATH"
SYNCS_DIR_ENV = "TESSERA_SYNCS_DIR"
SENSOR_INTERVAL_ENV = "TESSERA_SENSOR_INTERVAL_SECONDS"
# How often the new-raw-data sensor looks. On DuckDB a look is a few metadata queries on the
# local file; on Snowflake each look may resume a warehouse (billed 60 s at least).
DEFAULT_SENSOR_INTERVAL_SECONDS = {"duckdb": 5, "snowflake": 120}


@dataclass(frozen=True)
class OrchestrationConfig:
    settings: Settings
    # dbt writes manifest.json and run artifacts here; tests point it at a temp dir so they do
    # not clobber dbt_project/target used by other processes.
    dbt_target_path: Path
    # Sync YAML files and destinations.yml (the `tessera sync --syncs-dir` default).
    syncs_dir: Path
    sensor_interval_seconds: int = 15

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> OrchestrationConfig:
        env = dict(os.environ if env is None else env)
        settings = Settings.from_env(env)
        # a key written twice in dbt_project.yml: dbt keeps the last silently; the code
        # location fails to load, naming file, line and column, as the CLI does
        check_dbt_project_file(settings.dbt_project_dir)
        target_path = env.get(DBT_TARGET_PATH_ENV) or settings.dbt_project_dir / "target"
        interval = env.get(SENSOR_INTERVAL_ENV) or DEFAULT_SENSOR_INTERVAL_SECONDS[settings.target]
        try:
            sensor_interval_seconds = int(interval)
        except ValueError:
            raise ValueError(f"{SENSOR_INTERVAL_ENV}={interval!r} is not whole seconds") from None
        if sensor_interval_seconds < 1:
            raise ValueError(f"{SENSOR_INTERVAL_ENV} must be at least 1, not {interval}")
        return cls(
            settings=settings,
            dbt_target_path=resolve_path(target_path),
            syncs_dir=settings.syncs_dir,
            sensor_interval_seconds=sensor_interval_seconds,
        )
