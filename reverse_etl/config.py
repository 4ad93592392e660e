"""Sync and destination definitions: YAML files validated with pydantic.

Sync files (`*.yml` in the syncs directory, and `*.syncs.yml` next to segment models) hold
a top-level `syncs:` list. `destinations.yml` holds a top-level `destinations:` list whose
credentials are env var *names*; values are read from the environment only when a
destination is built, and held as `SecretStr`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from reverse_etl.alerts import AlertConfig
from reverse_etl.config_errors import format_validation_error, item_nodes
from reverse_etl.cron import validate_cron
from reverse_etl.url_credentials import hide_credentials
from tessera.yaml_strict import YamlFileError, load_yaml_file

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SYNC_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
DESTINATIONS_FILE = "destinations.yml"

Mode = Literal["upsert", "update", "insert", "mirror", "add_remove"]
Purpose = Literal["email", "sms", "ads"]
HashRule = Literal["email", "phone", "sha256", "email_google", "phone_e164"]


class ConfigError(ValueError):
    """A sync or destination definition is invalid; the message names the file and field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_identifier(value: str, what: str) -> str:
    if not IDENTIFIER.match(value):
        raise ValueError(f"{what} {value!r} is not a plain SQL identifier (letters, digits, _)")
    return value


class SyncConfig(_Strict):
    name: str
    segment: str = Field(description="`segments.<name>`, a bare segment name, or schema.table")
    primary_key: str | list[str] = "person_id"
    destination: str
    object: str = Field(description="destination object: contacts, an audience id, a file name")
    mode: Mode = "upsert"
    mapping: dict[str, str] = Field(description="destination_field: source column")
    hashing: dict[str, HashRule] = Field(default_factory=dict)
    consent: Purpose | None = None
    person_column: str = "person_id"
    schedule: str | None = None
    send_nulls: bool = False
    options: dict[str, str | int | float | bool] = Field(
        default_factory=dict,
        description="destination-specific settings (e.g. Salesforce external_id_field), "
        "checked by the destination type's check_sync",
    )
    source_file: Path | None = Field(default=None, exclude=True)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not SYNC_NAME.match(value):
            raise ValueError(
                f"sync name {value!r} must be lower-case letters, digits and _ (it names a table)"
            )
        return value

    @field_validator("segment")
    @classmethod
    def _segment(cls, value: str) -> str:
        parts = value.split(".")
        if len(parts) == 1:
            parts = ["segments", parts[0]]
        if len(parts) != 2:
            raise ValueError(f"segment {value!r} must be `name` or `schema.table`")
        for part in parts:
            _check_identifier(part, "segment part")
        return ".".join(parts)

    @field_validator("primary_key")
    @classmethod
    def _primary_key(cls, value: str | list[str]) -> str | list[str]:
        columns = [value] if isinstance(value, str) else value
        if not columns:
            raise ValueError("primary_key needs at least one column")
        for column in columns:
            _check_identifier(column, "primary_key column")
        return value

    @field_validator("person_column")
    @classmethod
    def _person_column(cls, value: str) -> str:
        return _check_identifier(value, "person_column")

    @field_validator("mapping")
    @classmethod
    def _mapping(cls, value: dict[str, str]) -> dict[str, str]:
        if not value:
            raise ValueError("mapping needs at least one `destination_field: source_column`")
        for dest, source in value.items():
            if not dest or not str(dest).strip():
                raise ValueError("mapping has an empty destination field name")
            _check_identifier(source, f"mapping source column for {dest!r}:")
        return value

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str | None) -> str | None:
        if value is not None:
            validate_cron(value)
        return value

    @property
    def key_columns(self) -> list[str]:
        return [self.primary_key] if isinstance(self.primary_key, str) else list(self.primary_key)

    @property
    def segment_schema(self) -> str:
        return self.segment.split(".")[0]

    @property
    def segment_table(self) -> str:
        return self.segment.split(".")[1]

    @property
    def removes(self) -> bool:
        """Whether rows that leave the segment are removed from the destination."""
        return self.mode in ("mirror", "add_remove")


class RateLimitConfig(_Strict):
    requests: int = Field(gt=0)
    per_seconds: float = Field(gt=0)


class RetryConfig(_Strict):
    max_attempts: int = Field(default=6, ge=1)
    base_delay_seconds: float = Field(default=0.2, ge=0)
    max_delay_seconds: float = Field(default=30.0, gt=0)
    max_rate_limited_seconds: float = Field(
        default=600.0, gt=0, description="give up on a batch after waiting this long on 429s"
    )
    max_undelivered_batches: int = Field(
        default=3,
        ge=1,
        description="stop taking batches once this many in a row were not delivered "
        "(the destination is unreachable); the rest of the plan stays pending",
    )


class DestinationConfig(_Strict):
    name: str
    type: str = Field(description="hubspot, meta_audience, webhook, file, ...")
    base_url: str
    base_url_env: str | None = Field(
        default=None, description="env var that, when set, overrides base_url (tests, demo)"
    )
    credentials: dict[str, str] = Field(
        default_factory=dict, description="credential name: environment variable name"
    )
    batch_size: int | None = Field(default=None, gt=0)
    concurrency: int = Field(default=4, ge=1, le=64)
    rate_limit: RateLimitConfig | None = None
    timeout_seconds: float = Field(default=30.0, gt=0)
    retry: RetryConfig = Field(default_factory=RetryConfig)
    options: dict[str, str | int | float | bool] = Field(default_factory=dict)
    source_file: Path | None = Field(default=None, exclude=True)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _check_identifier(value, "destination name")

    @field_validator("credentials")
    @classmethod
    def _credentials(cls, value: dict[str, str]) -> dict[str, str]:
        for key, env_name in value.items():
            if not re.match(r"^[A-Z_][A-Z0-9_]*$", str(env_name)):
                raise ValueError(
                    f"credentials.{key} must be the NAME of an environment variable "
                    "(upper-case letters, digits, _), never the secret itself"
                )
        return value

    @field_validator("base_url_env")
    @classmethod
    def _base_url_env(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^[A-Z_][A-Z0-9_]*$", value):
            raise ValueError("base_url_env must be an environment variable name")
        return value

    @field_validator("base_url")
    @classmethod
    def _http_base_url(cls, value: str, info: ValidationInfo) -> str:
        problem = _url_problem(str(info.data.get("type", "")), value)
        if problem:
            raise ValueError(f"{hide_credentials(repr(value))} {problem}")
        return value

    def resolved_base_url(self, env: Mapping[str, str] | None = None) -> str:
        env = os.environ if env is None else env
        if self.base_url_env and env.get(self.base_url_env):
            url = env[self.base_url_env]
            problem = _url_problem(self.type, url)
            if problem:
                raise ConfigError(
                    f"environment variable {self.base_url_env} (overrides base_url of "
                    f"destination {self.name!r} in {self.source_file}) = "
                    f"{hide_credentials(repr(url))} {problem}"
                )
            return url
        return self.base_url

    def secrets(self, env: Mapping[str, str] | None = None) -> dict[str, SecretStr]:
        """Credential values from the environment; a missing variable is named, never valued."""
        env = os.environ if env is None else env
        missing = [name for name in self.credentials.values() if not env.get(name)]
        if missing:
            raise ConfigError(
                f"destination {self.name!r} ({self.source_file}) needs environment "
                f"variable(s) {', '.join(missing)} to be set"
            )
        return {key: SecretStr(env[name]) for key, name in self.credentials.items()}


def _url_problem(destination_type: str, url: str) -> str | None:
    """Why `url` cannot be an HTTP destination's base URL (None when it can)."""
    if destination_type == "file":
        return None  # a directory: a plain path or file:///abs/dir
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return "is not an http:// or https:// URL with a host"
    return None


def _read_yaml(path: Path, top_key: str) -> list[dict]:
    try:
        data = load_yaml_file(path) or {}
    except YamlFileError as exc:
        raise ConfigError(str(exc)) from None
    if not isinstance(data, dict) or top_key not in data:
        raise ConfigError(f"{path}: expected a top-level `{top_key}:` list")
    items = data[top_key] or []
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise ConfigError(f"{path}: `{top_key}` must be a list of mappings")
    return items


def _label(kind: str, item: dict, index: int) -> str:
    name = item.get("name")
    return f"{kind}[{index}]" + (f" ({name})" if isinstance(name, str) else "")


def sync_files(syncs_dir: Path, segments_dir: Path | None = None) -> list[Path]:
    files = [p for p in sorted(syncs_dir.glob("*.yml")) if p.name != DESTINATIONS_FILE]
    if segments_dir is not None and segments_dir.exists():
        files += sorted(segments_dir.rglob("*.syncs.yml"))
    return files


def load_syncs(paths: Iterable[Path]) -> dict[str, SyncConfig]:
    syncs: dict[str, SyncConfig] = {}
    for path in paths:
        items = _read_yaml(path, "syncs")
        for index, item in enumerate(items):
            try:
                sync = SyncConfig.model_validate({**item, "source_file": path})
            except ValidationError as exc:
                label = _label("syncs", item, index)
                nodes = item_nodes(path, "syncs")
                node = nodes[index] if len(nodes) == len(items) else None
                raise ConfigError(
                    format_validation_error(exc, path, label, node, SyncConfig)
                ) from None
            if sync.name in syncs:
                raise ConfigError(
                    f"{path}: sync {sync.name!r} is already defined in "
                    f"{syncs[sync.name].source_file}"
                )
            syncs[sync.name] = sync
    return syncs


def load_alerts(path: Path) -> AlertConfig:
    """The optional `alerts:` block of destinations.yml (see reverse_etl/alerts.py)."""
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError):
        return AlertConfig()  # load_destinations reports the file's problem
    block = data.get("alerts") if isinstance(data, dict) else None
    if block is None:
        return AlertConfig()
    if not isinstance(block, dict):
        raise ConfigError(f"{path}: `alerts` must be a mapping")
    try:
        return AlertConfig.model_validate(block)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, path, "alerts")) from None


def load_destinations(path: Path) -> dict[str, DestinationConfig]:
    if not path.exists():
        raise ConfigError(f"{path}: destinations file not found")
    destinations: dict[str, DestinationConfig] = {}
    items = _read_yaml(path, "destinations")
    for index, item in enumerate(items):
        try:
            dest = DestinationConfig.model_validate({**item, "source_file": path})
        except ValidationError as exc:
            label = _label("destinations", item, index)
            nodes = item_nodes(path, "destinations")
            node = nodes[index] if len(nodes) == len(items) else None
            raise ConfigError(
                format_validation_error(exc, path, label, node, DestinationConfig)
            ) from None
        if dest.name in destinations:
            raise ConfigError(f"{path}: destination {dest.name!r} is defined twice")
        from reverse_etl.destinations import DESTINATION_TYPES

        if dest.type not in DESTINATION_TYPES:
            raise ConfigError(
                f"{path}: {_label('destinations', item, index)}.type: unknown destination "
                f"type {dest.type!r} (known: {', '.join(sorted(DESTINATION_TYPES))})"
            )
        destinations[dest.name] = dest
    return destinations


class Catalog(BaseModel):
    """Every sync and destination, cross-checked (a sync names a known destination and mode)."""

    model_config = ConfigDict(frozen=True)

    syncs: dict[str, SyncConfig]
    destinations: dict[str, DestinationConfig]
    alerts: AlertConfig | None = None

    @classmethod
    def load(cls, syncs_dir: Path, segments_dir: Path | None = None) -> Catalog:
        destinations = load_destinations(syncs_dir / DESTINATIONS_FILE)
        alerts = load_alerts(syncs_dir / DESTINATIONS_FILE)
        syncs = load_syncs(sync_files(syncs_dir, segments_dir))
        from reverse_etl.destinations import destination_class

        for sync in syncs.values():
            dest = destinations.get(sync.destination)
            if dest is None:
                raise ConfigError(
                    f"{sync.source_file}: sync {sync.name!r} field `destination`: "
                    f"{sync.destination!r} is not in {syncs_dir / DESTINATIONS_FILE} "
                    f"(known: {', '.join(sorted(destinations)) or 'none'})"
                )
            modes = destination_class(dest.type).modes
            if sync.mode not in modes:
                raise ConfigError(
                    f"{sync.source_file}: sync {sync.name!r} field `mode`: {sync.mode!r} is "
                    f"not supported by {dest.type} destinations (supported: {', '.join(modes)})"
                )
            destination_class(dest.type).check_sync(sync)
        return cls(syncs=syncs, destinations=destinations, alerts=alerts)

    def sync(self, name: str) -> SyncConfig:
        if name not in self.syncs:
            known = ", ".join(sorted(self.syncs)) or "none defined"
            raise ConfigError(f"no sync named {name!r} (known: {known})")
        return self.syncs[name]

    def destination_for(self, sync: SyncConfig) -> DestinationConfig:
        return self.destinations[sync.destination]
