"""The dbt project as Dagster sees it, and the manifest it is loaded from.

`DbtProject.prepare_if_dev()` only parses under `dagster dev`; Tessera also loads its
definitions in tests, CI, `dagster definitions validate` and run workers, so the manifest is
prepared here whenever it is missing or older than any file dbt reads.
"""

from __future__ import annotations

from pathlib import Path

from dagster_dbt import DbtProject

from orchestration.config import OrchestrationConfig
from tessera.dbt import run_dbt
from tessera.dbt_manifest import manifest_is_stale
from tessera.settings import Settings


class ManifestError(RuntimeError):
    """dbt could not parse the project into a manifest; the message says where to look."""


def tessera_dbt_project(config: OrchestrationConfig) -> DbtProject:
    return DbtProject(
        project_dir=config.settings.dbt_project_dir,
        profiles_dir=config.settings.dbt_profiles_dir,
        target=config.settings.dbt_target,
        target_path=config.dbt_target_path,
    )


def ensure_manifest(project: DbtProject, settings: Settings) -> Path:
    """Run `dbt parse` when manifest.json is missing or stale; return the manifest's path."""
    manifest = project.manifest_path
    if manifest.exists() and not manifest_is_stale(manifest, project.project_dir):
        return manifest
    try:
        run_dbt(
            settings, ["parse", "--quiet", "--target-path", str(project.target_path)], stream=False
        )
    except Exception as exc:
        raise ManifestError(
            f"`dbt parse` of {project.project_dir} failed, so Dagster cannot list the dbt "
            f"assets: {exc}"
        ) from exc
    if not manifest.exists():
        raise ManifestError(f"`dbt parse` finished but wrote no manifest at {manifest}")
    return manifest
