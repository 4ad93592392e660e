"""Versioned model registry on disk, with a champion pointer per model.

    <artifacts_dir>/models/<model>/<version>/  model.txt      LightGBM booster
                                               features.json  features, kinds, categories,
                                                              training medians (for reasons)
                                               manifest.json  cutoffs, row counts, git sha,
                                                              parameters, best iteration
                                               metrics.json   model and baseline, side by side
                                               *.png          lift/gains and reliability charts
                                               evaluations/<cutoff>/  later re-evaluations
    <artifacts_dir>/models/<model>/champion.json   {"version": ..., "metric": ..., ...}
    <artifacts_dir>/models/<model>/promotions.jsonl  every champion decision, appended

Versions are UTC timestamps, so they sort in training order.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cached_property
from pathlib import Path

import lightgbm as lgb

from ml.data import FeatureSchema
from ml.errors import MLError
from ml.reasons import ReasonVocabulary
from ml.registry_files import check_model_file, file_sha256, read_json_object, write_json
from tessera.settings import PROJECT_ROOT

CHAMPION_FILE = "champion.json"
# a version is one folder name: a UTC timestamp, optionally with a -N suffix; never a path
VERSION_PATTERN = re.compile(r"[0-9A-Za-z][0-9A-Za-z_.-]*")


def git_revision(root: Path = PROJECT_ROOT) -> str:
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (sha or "unknown") + ("+dirty" if sha and dirty else "")


def check_artifacts_dir(artifacts_dir: Path, writable: bool = True) -> None:
    """Fail before any work when the artifacts dir (TESSERA_ARTIFACTS) cannot hold the
    registry: a file in its place, or (for the jobs that write) a folder that cannot be
    written to. A training run would otherwise fail after all its work, when saving."""
    path = Path(artifacts_dir)
    blocker = next((p for p in (path, *path.parents) if p.exists()), None)
    if blocker is not None and not blocker.is_dir():
        raise MLError(
            f"the artifacts dir {path} (TESSERA_ARTIFACTS) cannot be used: {blocker} is a file, "
            "not a directory"
        )
    if not writable:
        return
    try:
        (path / "models").mkdir(parents=True, exist_ok=True)
        probe = path / "models" / f".write_test_{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise MLError(
            f"the artifacts dir {path} (TESSERA_ARTIFACTS) is not writable: {exc.strerror or exc}"
        ) from exc


@dataclass(frozen=True)
class FeatureInfo:
    """What the booster was trained on, everything scoring needs to rebuild its input."""

    schema: FeatureSchema
    categories: dict[str, list[str]]
    medians: dict[str, float]  # training medians of numeric features: "high" / "low"
    # BTYD features (schema.derived) are projected over this many days; None: no BTYD
    btyd_horizon_days: int | None = None
    # maps the model's probabilities to the task's horizon (ml/horizon.py); None: identity
    horizon_mapping: dict | None = None

    @cached_property
    def vocabulary(self) -> ReasonVocabulary:
        return ReasonVocabulary.build(
            self.schema.features, self.schema.categorical, self.categories, self.medians
        )

    def to_dict(self) -> dict:
        return {
            "features": list(self.schema.features),
            "categorical": list(self.schema.categorical),
            "categories": self.categories,
            "training_medians": self.medians,
            "ignored_columns": self.schema.ignored,
            "derived": list(self.schema.derived),
            "btyd_horizon_days": self.btyd_horizon_days,
            "horizon_mapping": self.horizon_mapping,
        }

    @classmethod
    def from_dict(cls, raw: dict, where: str = "features.json") -> FeatureInfo:
        def names(key: str, required: bool = False) -> tuple[str, ...]:
            value = raw.get(key, None if required else [])
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                problem = "is missing" if value is None else "is not a list of column names"
                raise MLError(f"registry file {where} is corrupt: key {key!r} {problem}")
            return tuple(value)

        for key in ("categories", "training_medians", "ignored_columns"):
            if not isinstance(raw.get(key, {}), dict):
                raise MLError(f"registry file {where} is corrupt: key {key!r} is not a mapping")
        mapping = raw.get("horizon_mapping")
        if mapping is not None and not isinstance(mapping, dict):
            raise MLError(
                f"registry file {where} is corrupt: key 'horizon_mapping' is not a mapping"
            )
        btyd = raw.get("btyd_horizon_days")
        if btyd is not None and (not isinstance(btyd, int) or isinstance(btyd, bool) or btyd < 1):
            raise MLError(
                f"registry file {where} is corrupt: key 'btyd_horizon_days' {btyd!r} is not a "
                "whole number of days >= 1"
            )
        features = names("features", required=True)
        categorical = names("categorical")
        derived = names("derived")
        stray = sorted(set(categorical) - set(features))
        if stray:
            raise MLError(
                f"registry file {where} is corrupt: categorical column(s) {', '.join(stray)} "
                "are not among its features"
            )
        raw = {**raw, "features": list(features), "categorical": list(categorical)}
        raw["derived"] = list(derived)
        schema = FeatureSchema(
            tuple(raw["features"]),
            tuple(raw["categorical"]),
            raw.get("ignored_columns", {}),
            tuple(raw.get("derived", ())),
        )
        return cls(
            schema,
            raw.get("categories", {}),
            raw.get("training_medians", {}),
            raw.get("btyd_horizon_days"),
            raw.get("horizon_mapping"),
        )


@dataclass
class RegisteredModel:
    name: str
    version: str
    path: Path
    booster: lgb.Booster
    features: FeatureInfo
    manifest: dict
    metrics: dict


def should_promote(challenger: float, champion: float | None, min_improvement: float) -> bool:
    """A challenger replaces the champion only with a strictly better validation metric."""
    if challenger is None or math.isnan(challenger):
        return False
    if champion is None or math.isnan(champion):
        return True
    return challenger > champion + min_improvement


class Registry:
    def __init__(self, artifacts_dir: Path) -> None:
        self.root = Path(artifacts_dir) / "models"

    def model_dir(self, model: str) -> Path:
        return self.root / model

    def versions(self, model: str) -> list[str]:
        directory = self.model_dir(model)
        if not directory.exists():
            return []
        return sorted(p.name for p in directory.iterdir() if (p / "model.txt").exists())

    def allocate_version(self, model: str) -> tuple[str, Path]:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        self.model_dir(model).mkdir(parents=True, exist_ok=True)
        for attempt in range(1000):
            version = stamp if attempt == 0 else f"{stamp}-{attempt}"
            path = self.model_dir(model) / version
            try:
                path.mkdir()
            except FileExistsError:
                continue
            return version, path
        raise MLError(f"could not allocate a new version folder under {self.model_dir(model)}")

    def save(
        self,
        model: str,
        booster: lgb.Booster,
        features: FeatureInfo,
        manifest: dict,
        metrics: dict,
    ) -> tuple[str, Path]:
        version, path = self.allocate_version(model)
        # model.txt last, renamed into place: a folder is a version only once model.txt is
        # there (`versions`), so a save that fails half way never yields a loadable version
        staged = path / "model.txt.tmp"
        booster.save_model(str(staged), num_iteration=booster.best_iteration or None)
        checksum = file_sha256(staged)
        write_json(path / "features.json", features.to_dict())
        write_json(
            path / "manifest.json",
            {**manifest, "model": model, "version": version, "model_sha256": checksum},
        )
        write_json(path / "metrics.json", metrics)
        os.replace(staged, path / "model.txt")
        return version, path

    def champion(self, model: str) -> dict | None:
        path = self.model_dir(model) / CHAMPION_FILE
        if not path.exists():
            return None
        pointer = read_json_object(path)
        version = pointer.get("version")
        if not isinstance(version, str) or not VERSION_PATTERN.fullmatch(version):
            raise MLError(
                f"registry file {path} is corrupt: key 'version' {version!r} is not a version "
                f"of {model}; versions: {', '.join(self.versions(model)) or 'none'}"
            )
        return pointer

    def champion_version_or_none(self, model: str) -> str | None:
        """The champion pointer's version if it can be read at all (for messages)."""
        try:
            pointer = self.champion(model)
        except MLError:
            return None
        return None if pointer is None else str(pointer["version"])

    def set_champion(self, model: str, pointer: dict) -> None:
        write_json(self.model_dir(model) / CHAMPION_FILE, pointer)

    def record_decision(self, model: str, decision: dict) -> None:
        with (self.model_dir(model) / "promotions.jsonl").open("a") as log:
            log.write(json.dumps(decision, default=str) + "\n")

    def resolve(self, model: str, version: str | None) -> str:
        if version not in (None, "champion"):
            # a version names one folder of this model: never a path into another model's
            if (
                not VERSION_PATTERN.fullmatch(str(version))
                or not (self.model_dir(model) / str(version) / "model.txt").is_file()
            ):
                known = ", ".join(self.versions(model)) or "none"
                raise MLError(f"model {model} has no version {version!r}; versions: {known}")
            return str(version)
        pointer = self.champion(model)
        if pointer is None:
            raise MLError(
                f"model {model} has no champion in {self.model_dir(model)}; "
                f"train one first: `tessera ml train --model {model}`"
            )
        version = str(pointer["version"])
        if not (self.model_dir(model) / version / "model.txt").is_file():
            known = ", ".join(self.versions(model)) or "none"
            raise MLError(
                f"registry file {self.model_dir(model) / CHAMPION_FILE} names version "
                f"{version!r}, which has no model.txt; versions: {known}. Retrain "
                f"(`tessera ml train --model {model}`) or point it at a version."
            )
        return version

    def load(self, model: str, version: str | None = None) -> RegisteredModel:
        version = self.resolve(model, version)
        path = self.model_dir(model) / version
        manifest = read_json_object(path / "manifest.json")
        try:
            date.fromisoformat(manifest.get("training_cutoff"))
        except (TypeError, ValueError):
            raise MLError(
                f"registry file {path / 'manifest.json'} is corrupt: key 'training_cutoff' "
                f"{manifest.get('training_cutoff')!r} is not a date"
            ) from None
        metrics = read_json_object(path / "metrics.json")
        features = FeatureInfo.from_dict(
            read_json_object(path / "features.json"), str(path / "features.json")
        )
        checksum = manifest.get("model_sha256")
        check_model_file(path / "model.txt", checksum if isinstance(checksum, str) else None)
        try:
            booster = lgb.Booster(model_file=str(path / "model.txt"))
        except lgb.basic.LightGBMError as exc:
            raise MLError(f"cannot load {path / 'model.txt'}: {exc}") from exc
        if booster.num_feature() != len(features.schema.features):
            raise MLError(
                f"registry file {path / 'features.json'} does not match {path / 'model.txt'}: "
                f"it lists {len(features.schema.features)} features, the model has "
                f"{booster.num_feature()} (edited or mixed up); retrain: "
                f"`tessera ml train --model {model}`"
            )
        return RegisteredModel(
            name=model,
            version=version,
            path=path,
            booster=booster,
            features=features,
            manifest=manifest,
            metrics=metrics,
        )
