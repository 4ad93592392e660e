"""Where the orchestration keeps its dbt artifacts, beside Tessera's own settings."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from tessera.settings import Settings

# The concurrency pool every DuckDB writer (dbt, ml scoring, syncs) runs in. DuckDB allows one
# writing process per file, so the instance limits this pool to one slot (see dagster.yaml).
WAREHOUSE_POOL = "tessera_warehouse"

DBT_TARGET_PATH_ENV = "TESSERA_DBT_TARGET_PATH"
SYNCS_DIR_ENV = "TESSERA_SYNCS_DIR"


@dataclass(frozen=True)
class OrchestrationConfig:
    settings: Settings
    # dbt writes manifest.json and run artifacts here; tests point it at a temp dir so they do
    # not clobber dbt_project/target used by other processes.
    dbt_target_path: Path
    # Sync YAML files and destinations.yml (the `tessera sync --syncs-dir` default).
    syncs_dir: Path

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> OrchestrationConfig:
        env = dict(os.environ if env is None else env)
        settings = Settings.from_env(env)
        target_path = env.get(DBT_TARGET_PATH_ENV) or settings.dbt_project_dir / "target"
        syncs_dir = env.get(SYNCS_DIR_ENV) or settings.dbt_project_dir / "syncs"
        return cls(
            settings=settings,
            dbt_target_path=Path(target_path).expanduser().resolve(),
            syncs_dir=Path(syncs_dir).expanduser().resolve(),
        )
