"""Resources chosen by environment: TESSERA_TARGET picks the dbt target and the warehouse."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cached_property
from importlib.metadata import version as installed_version
from pathlib import Path

from dagster import ConfigurableResource, InitResourceContext
from dagster_dbt import DbtCliResource, DbtProject
from packaging.version import Version
from packaging.version import parse as parse_version
from pydantic import PrivateAttr

from orchestration.writer_lock import WriterLock
from tessera.dbt import dbt_executable
from tessera.settings import Settings, secrets_named_for_dbt
from tessera.warehouse import Warehouse


class WarehouseResource(ConfigurableResource):
    """Tessera's warehouse client; Snowflake credentials stay in env vars, never in config."""

    target: str = "duckdb"
    duckdb_path: str = ""
    _writer_lock: WriterLock | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: InitResourceContext) -> None:
        """In a run, a step that uses the DuckDB warehouse holds its writer lock
        (orchestration/writer_lock.py); sensors and schedules only read, and take none."""
        if context.run is None or self.target != "duckdb":
            return
        warehouse = self.settings().warehouse_path
        if not warehouse.parent.is_dir():
            return  # the step fails on its own, naming the path; no lock file is left there
        job = context.run.job_name
        lock = WriterLock(warehouse, f"run {context.run.run_id} of job {job}")
        lock.acquire(context.log.info)
        self._writer_lock = lock

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        if self._writer_lock is not None:
            self._writer_lock.release()
            self._writer_lock = None

    def settings(self) -> Settings:
        settings = Settings.from_env()
        if self.target != settings.target:
            raise ValueError(
                f"warehouse resource was built for target {self.target!r} but TESSERA_TARGET "
                f"is now {settings.target!r}; restart the Dagster code location"
            )
        if self.duckdb_path:
            settings = dataclasses.replace(settings, warehouse_path=Path(self.duckdb_path))
        return settings

    def warehouse(self) -> Warehouse:
        return Warehouse(self.settings())


class TesseraDbtCliResource(DbtCliResource):
    """dagster-dbt runs `dbt --version` before each dbt step to tell dbt Core from the Fusion
    engine: a whole dbt start-up plus a package-registry lookup, about 5 s of every refresh.
    Tessera runs the dbt-core installed beside it (tessera.dbt.dbt_executable), so its
    version is read from the package metadata instead."""

    # Settings.environment(): dagster-dbt hands dbt this process's environment, so the paths
    # tessera/settings.py resolved (absolute) are added to it for each dbt invocation.
    tessera_env: dict[str, str] = {}

    @cached_property
    def _cli_version(self) -> Version:
        return parse_version(installed_version("dbt-core"))

    def cli(self, args: Sequence[str], **kwargs):  # type: ignore[override]
        with _environment(self.tessera_env):
            return super().cli(args, **kwargs)


@contextmanager
def _environment(extra: dict[str, str]) -> Iterator[None]:
    """os.environ as dbt should see it while dagster-dbt starts dbt (it copies os.environ
    then): `extra` added, secrets under dbt's secret names or left out (tessera.settings)."""
    saved = dict(os.environ)
    wanted = secrets_named_for_dbt({**saved, **extra})
    for name in set(saved) - set(wanted):
        del os.environ[name]
    os.environ.update(wanted)
    try:
        yield
    finally:
        for name in set(os.environ) - set(saved):
            del os.environ[name]
        os.environ.update(saved)


def build_resources(settings: Settings, project: DbtProject) -> dict[str, object]:
    warehouse = WarehouseResource(
        target=settings.target,
        duckdb_path=str(settings.warehouse_path) if settings.target == "duckdb" else "",
    )
    dbt = TesseraDbtCliResource(
        project_dir=project,
        profiles_dir=str(settings.dbt_profiles_dir),
        target=settings.dbt_target,
        dbt_executable=dbt_executable(),
        tessera_env=settings.environment(),
    )
    return {"warehouse": warehouse, "dbt": dbt}
