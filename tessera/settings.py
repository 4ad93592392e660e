"""Where things are: warehouse target, paths and environment variables, in one place.

Every layer reads its configuration through `Settings.from_env()`; nothing else reads
`os.environ` for Tessera's own settings. Secrets are held as `SecretStr` so they never
render in a repr, a log line or an error message.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import SecretStr

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
SUPPORTED_TARGETS = ("duckdb", "snowflake")


class SettingsError(ValueError):
    """A setting is missing or invalid; the message names the variable."""


@dataclass(frozen=True)
class SnowflakeSettings:
    account: str
    user: str
    password: SecretStr
    database: str
    schema: str
    warehouse: str | None = None
    role: str | None = None
    host: str | None = None
    port: int | None = None
    protocol: str | None = None
    private_key_path: str | None = None

    @classmethod
    def from_env(cls, env: dict[str, str]) -> SnowflakeSettings:
        missing = [
            name
            for name in ("SNOWFLAKE_ACCOUNT", "SNOWFLAKE_USER", "SNOWFLAKE_DATABASE")
            if not env.get(name)
        ]
        if not env.get("SNOWFLAKE_PASSWORD") and not env.get("SNOWFLAKE_PRIVATE_KEY_PATH"):
            missing.append("SNOWFLAKE_PASSWORD (or SNOWFLAKE_PRIVATE_KEY_PATH)")
        if missing:
            raise SettingsError(
                "TESSERA_TARGET=snowflake needs these environment variables: " + ", ".join(missing)
            )
        port = env.get("SNOWFLAKE_PORT")
        return cls(
            account=env["SNOWFLAKE_ACCOUNT"],
            user=env["SNOWFLAKE_USER"],
            password=SecretStr(env.get("SNOWFLAKE_PASSWORD", "")),
            database=env["SNOWFLAKE_DATABASE"],
            schema=env.get("SNOWFLAKE_SCHEMA", "analytics"),
            warehouse=env.get("SNOWFLAKE_WAREHOUSE"),
            role=env.get("SNOWFLAKE_ROLE"),
            host=env.get("SNOWFLAKE_HOST"),
            port=int(port) if port else None,
            protocol=env.get("SNOWFLAKE_PROTOCOL"),
            private_key_path=env.get("SNOWFLAKE_PRIVATE_KEY_PATH"),
        )


@dataclass(frozen=True)
class Settings:
    target: str = "duckdb"
    warehouse_path: Path = PROJECT_ROOT / "warehouse" / "tessera.duckdb"
    dbt_project_dir: Path = DBT_PROJECT_DIR
    dbt_profiles_dir: Path = DBT_PROJECT_DIR
    artifacts_dir: Path = PROJECT_ROOT / "artifacts"
    threads: int = 2
    # A sync's DuckDB session spills its plan joins beyond this instead of growing with the
    # segment (None: DuckDB's default, 80% of RAM); temp dir None: `<warehouse>.tmp`.
    sync_memory_limit: str | None = "128MB"
    sync_temp_directory: Path | None = None
    snowflake: SnowflakeSettings | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        target = env.get("TESSERA_TARGET", "duckdb").strip().lower()
        if target not in SUPPORTED_TARGETS:
            raise SettingsError(
                f"TESSERA_TARGET={target!r} is not a supported target; "
                f"choose one of {', '.join(SUPPORTED_TARGETS)}"
            )
        warehouse_path = Path(
            env.get("TESSERA_WAREHOUSE", PROJECT_ROOT / "warehouse" / "tessera.duckdb")
        ).expanduser()
        artifacts_dir = Path(env.get("TESSERA_ARTIFACTS", PROJECT_ROOT / "artifacts"))
        threads = int(env.get("TESSERA_THREADS", "2"))
        sync_memory_limit = env.get("TESSERA_SYNC_MEMORY_LIMIT", "128MB").strip()
        sync_temp_directory = env.get("TESSERA_SYNC_TEMP_DIR")
        snowflake = SnowflakeSettings.from_env(env) if target == "snowflake" else None
        return cls(
            target=target,
            warehouse_path=warehouse_path.resolve(),
            artifacts_dir=artifacts_dir.resolve(),
            threads=threads,
            sync_memory_limit=None if sync_memory_limit.lower() == "none" else sync_memory_limit,
            sync_temp_directory=(
                Path(sync_temp_directory).expanduser().resolve() if sync_temp_directory else None
            ),
            snowflake=snowflake,
        )

    def dbt_env(self) -> dict[str, str]:
        """Environment for a dbt subprocess: profiles.yml reads these with env_var()."""
        env = dict(os.environ)
        env["TESSERA_TARGET"] = self.target
        env["TESSERA_WAREHOUSE"] = str(self.warehouse_path)
        env["TESSERA_THREADS"] = str(self.threads)
        env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
        return env
