"""Where things are: warehouse target, paths and environment variables, in one place.

Every layer reads its configuration through `Settings.from_env()`; nothing else reads
`os.environ` for Tessera's own settings. Secrets are held as `SecretStr` so they never
render in a repr, a log line or an error message.

Every path setting is made absolute here, once: a relative value is resolved against the
project root (never the working directory), and dbt, Dagster and syncs receive that absolute
form (`Settings.environment()`), so a command means the same files from any directory.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import SecretStr

# Variables that hold credentials by their name. dbt needs only the Snowflake ones, and reads
# them from profiles.yml under DBT_ENV_SECRET_* names, which dbt refuses to hand to any model
# and scrubs from its logs; the others (destination tokens ...) are not passed to dbt at all.
DBT_SECRET_PREFIX = "DBT_ENV_SECRET_"
_DBT_SECRETS = (
    "SNOWFLAKE_PASSWORD",
    "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE",
    "SNOWFLAKE_SEGMENTS_PASSWORD",
)
_SECRET_NAME = re.compile(r"(PASSWORD|PASSPHRASE|SECRET|TOKEN|API_?KEY|ACCESS_?KEY|PRIVATE_KEY$)")


PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
SUPPORTED_TARGETS = ("duckdb", "snowflake")


# DuckDB names a database file's catalog after its stem, except these names of its own
# catalogs: `main.duckdb` becomes catalog `main_db` (compared case-insensitively).
_DUCKDB_RESERVED_CATALOGS = frozenset({"main", "temp", "system"})


class SettingsError(ValueError):
    """A setting is missing or invalid; the message names the variable."""


def resolve_path(value: str | Path, root: Path = PROJECT_ROOT) -> Path:
    """`value` as an absolute path: `~` expanded, a relative path taken from `root`."""
    path = Path(value).expanduser()
    return (path if path.is_absolute() else root / path).resolve()


def _file_stem(path: Path) -> str:
    # DuckDB (and dbt-duckdb) take the first non-empty dot-separated part of the file name.
    return path.name.lstrip(".").split(".")[0]


# dbt-duckdb writes the catalog name (the file name's stem) into SQL without escaping it: a
# quote or `;` ends the literal or statement, and `#` or a control character cuts the name
# short. DuckDB itself reads a backslash as a path separator.
_CATALOG_BREAKERS = frozenset("'\";#\\")


def _check_warehouse_file_name(path: Path, setting: str | None) -> None:
    stem = _file_stem(path)
    bad = sorted({c for c in stem if c in _CATALOG_BREAKERS or ord(c) < 32})
    if bad:
        shown = " ".join(repr(c) for c in bad)
        raise SettingsError(
            f"TESSERA_WAREHOUSE={setting or str(path)!r}: the file name {path.name!r} holds "
            f"{shown}, which dbt cannot use in the database name it takes from the file name; "
            "rename the file (letters, digits, spaces, '.', '-', '_')"
        )


# A catalog named like a schema makes `identity.persons` ambiguous in DuckDB ("Ambiguous
# reference to catalog or schema"): the schemas Tessera and its generator write, and DuckDB's.
_SCHEMA_NAMES = frozenset(
    {
        "raw",
        "staging",
        "identity",
        "profiles",
        "features",
        "ml",
        "segments",
        "experiments",
        "truth",
        "tessera_meta",
        "tessera_sync",
        "information_schema",
        "pg_catalog",
    }
)


def _check_warehouse_name_is_not_a_schema(path: Path, setting: str | None) -> None:
    stem = _file_stem(path)
    if stem.lower() in _SCHEMA_NAMES:
        raise SettingsError(
            f"TESSERA_WAREHOUSE={setting or str(path)!r}: DuckDB names the database after the "
            f"file, and {stem!r} is also the name of one of the warehouse's schemas, so every "
            f"query on {stem.lower()}.<table> would be ambiguous; rename the file (for example "
            f"{stem}_warehouse.duckdb)"
        )


def duckdb_catalog_name(path: Path) -> str:
    """The catalog name DuckDB gives the database file at `path` when it opens it."""
    stem = _file_stem(path)
    return f"{stem}_db" if stem.lower() in _DUCKDB_RESERVED_CATALOGS else stem


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
    private_key_passphrase: SecretStr | None = None

    @classmethod
    def from_env(cls, env: dict[str, str]) -> SnowflakeSettings:
        missing = [
            name
            for name in ("SNOWFLAKE_ACCOUNT", "SNOWFLAKE_USER", "SNOWFLAKE_DATABASE")
            if not env.get(name)
        ]
        password = env.get(DBT_SECRET_PREFIX + "SNOWFLAKE_PASSWORD") or env.get(
            "SNOWFLAKE_PASSWORD"
        )
        if not password and not env.get("SNOWFLAKE_PRIVATE_KEY_PATH"):
            missing.append("SNOWFLAKE_PASSWORD (or SNOWFLAKE_PRIVATE_KEY_PATH)")
        if missing:
            raise SettingsError(
                "TESSERA_TARGET=snowflake needs these environment variables: " + ", ".join(missing)
            )
        port = env.get("SNOWFLAKE_PORT")
        passphrase = env.get(DBT_SECRET_PREFIX + "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE") or env.get(
            "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE"
        )
        return cls(
            account=env["SNOWFLAKE_ACCOUNT"],
            user=env["SNOWFLAKE_USER"],
            password=SecretStr(password or ""),
            database=env["SNOWFLAKE_DATABASE"],
            schema=env.get("SNOWFLAKE_SCHEMA", "analytics"),
            warehouse=env.get("SNOWFLAKE_WAREHOUSE"),
            role=env.get("SNOWFLAKE_ROLE"),
            host=env.get("SNOWFLAKE_HOST"),
            port=_port(port) if port else None,
            protocol=env.get("SNOWFLAKE_PROTOCOL"),
            private_key_path=env.get("SNOWFLAKE_PRIVATE_KEY_PATH"),
            private_key_passphrase=SecretStr(passphrase) if passphrase else None,
        )


@dataclass(frozen=True)
class Settings:
    target: str = "duckdb"
    warehouse_path: Path = PROJECT_ROOT / "warehouse" / "tessera.duckdb"
    dbt_project_dir: Path = DBT_PROJECT_DIR
    dbt_profiles_dir: Path = DBT_PROJECT_DIR
    artifacts_dir: Path = PROJECT_ROOT / "artifacts"
    syncs_dir: Path = DBT_PROJECT_DIR / "syncs"
    threads: int = 2
    # A sync's DuckDB session spills its plan joins beyond this instead of growing with the
    # segment (None: DuckDB's default, 80% of RAM); temp dir None: `<warehouse>.tmp`.
    sync_memory_limit: str | None = "128MB"
    sync_temp_directory: Path | None = None
    # False for commands that need an existing warehouse: opening a missing DuckDB file then
    # fails with one clear error instead of creating an empty one (the CLI sets it).
    create_missing_warehouse: bool = True
    # TESSERA_WAREHOUSE as given, for messages: a relative one is not taken from the cwd.
    warehouse_setting: str | None = None
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
        threads = _positive_int(env, "TESSERA_THREADS", 2)
        sync_memory_limit = _memory_limit(env, "TESSERA_SYNC_MEMORY_LIMIT", "128MB", True)
        _memory_limit(env, "TESSERA_DUCKDB_MEMORY_LIMIT", "80%", False)  # profiles.yml reads it
        sync_temp_directory = env.get("TESSERA_SYNC_TEMP_DIR")
        snowflake = SnowflakeSettings.from_env(env) if target == "snowflake" else None
        warehouse_setting = env.get("TESSERA_WAREHOUSE") or None
        warehouse_path = resolve_path(warehouse_setting or "warehouse/tessera.duckdb")
        if target == "duckdb":
            _check_warehouse_file_name(warehouse_path, warehouse_setting)
            _check_warehouse_name_is_not_a_schema(warehouse_path, warehouse_setting)
        artifacts_dir = _directory(env, "TESSERA_ARTIFACTS", "artifacts")
        return cls(
            target=target,
            warehouse_path=warehouse_path,
            warehouse_setting=warehouse_setting,
            artifacts_dir=artifacts_dir,
            syncs_dir=resolve_path(env.get("TESSERA_SYNCS_DIR") or "dbt_project/syncs"),
            threads=threads,
            sync_memory_limit=None if sync_memory_limit.lower() == "none" else sync_memory_limit,
            sync_temp_directory=(
                _directory(env, "TESSERA_SYNC_TEMP_DIR", sync_temp_directory)
                if sync_temp_directory
                else None
            ),
            snowflake=snowflake,
        )

    @property
    def dbt_target(self) -> str:
        """The profiles.yml output dbt runs: `duckdb_attached` for a file whose catalog DuckDB
        renames (`main.duckdb` -> `main_db`), which dbt-duckdb would otherwise call `main`."""
        path = self.warehouse_path
        if self.target == "duckdb" and duckdb_catalog_name(path) != _file_stem(path):
            return "duckdb_attached"
        return self.target

    def environment(self) -> dict[str, str]:
        """Tessera's settings as the environment variables a child process (dbt, a Dagster
        run, a sync) reads, every path absolute."""
        env = {
            "TESSERA_TARGET": self.target,
            "TESSERA_DBT_TARGET": self.dbt_target,
            "TESSERA_WAREHOUSE": str(self.warehouse_path),
            "TESSERA_DUCKDB_CATALOG": duckdb_catalog_name(self.warehouse_path),
            "TESSERA_ARTIFACTS": str(self.artifacts_dir),
            "TESSERA_SYNCS_DIR": str(self.syncs_dir),
            "TESSERA_THREADS": str(self.threads),
        }
        if self.sync_temp_directory is not None:
            env["TESSERA_SYNC_TEMP_DIR"] = str(self.sync_temp_directory)
        return env

    def dbt_env(self) -> dict[str, str]:
        """Environment for a dbt subprocess: profiles.yml reads these with env_var()."""
        env = {**os.environ, **self.environment()}
        env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
        return secrets_named_for_dbt(env)


def secrets_named_for_dbt(env: dict[str, str]) -> dict[str, str]:
    """`env` for a dbt process: the Snowflake secrets under dbt's secret names, and no other
    variable whose name says it holds a credential, so a model cannot read one."""
    out = dict(env)
    for name in _DBT_SECRETS:
        value = out.pop(name, None)
        if value:
            out.setdefault(DBT_SECRET_PREFIX + name, value)
    for name in list(out):
        if not name.startswith(DBT_SECRET_PREFIX) and _SECRET_NAME.search(name.upper()):
            del out[name]
    return out


def _positive_int(env: dict[str, str], name: str, default: int, most: int = 1024) -> int:
    """A whole number from 1 to `most` from `name`, or a SettingsError naming the variable."""
    text = env.get(name, "").strip() or str(default)
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= most:
        raise SettingsError(f"{name}={text!r} is not a whole number from 1 to {most}")
    return value


def _port(text: str) -> int:
    if text.strip().isdigit() and 0 < int(text) < 65536:
        return int(text)
    raise SettingsError(f"SNOWFLAKE_PORT={text!r} is not a port number (1 to 65535)")


def _directory(env: dict[str, str], name: str, default: str) -> Path:
    """A directory setting, absolute; a SettingsError when a file is in its place."""
    path = resolve_path(env.get(name) or default)
    if path.exists() and not path.is_dir():
        raise SettingsError(f"{name}={str(path)!r} is a file; it must name a directory")
    return path


# DuckDB's memory_limit: a size (`6GB`, `512 MiB`) or a share of RAM (`80%`).
_MEMORY = re.compile(r"\d+(\.\d+)?\s*(%|b|bytes|[kmgt]i?b)?", re.IGNORECASE)


def _memory_limit(env: dict[str, str], name: str, default: str, none_allowed: bool) -> str:
    text = env.get(name, "").strip() or default
    if (none_allowed and text.lower() == "none") or _MEMORY.fullmatch(text):
        return text
    also = "; `none` lifts it" if none_allowed else ""
    raise SettingsError(
        f"{name}={text!r} is not a memory size: write e.g. 6GB, 512MB or 80% (of RAM){also}"
    )


def check_dbt_project_file(project_dir: Path) -> None:
    """Raise SettingsError naming file, line and column when `dbt_project.yml` is not valid
    YAML or writes a key twice (YAML keeps the last silently, so a var set twice means the
    second). Every command reads it; dbt alone would report a syntax error as a compile error
    of whichever model it compiled first."""
    from tessera.yaml_strict import YamlFileError, load_yaml_file

    path = project_dir / "dbt_project.yml"
    try:
        load_yaml_file(path)
    except YamlFileError as exc:
        raise SettingsError(str(exc)) from None
