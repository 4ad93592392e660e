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
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import lightgbm as lgb

from ml.data import FeatureSchema
from ml.errors import MLError
from ml.reasons import ReasonVocabulary
from tessera.settings import PROJECT_ROOT

CHAMPION_FILE = "champion.json"


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


def write_json(path: Path, payload: Any) -> None:
    """Write atomically: a reader never sees half a champion pointer."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, default=str, allow_nan=True) + "\n")
    os.replace(tmp, path)


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise MLError(f"registry file {path} is missing") from None
    except json.JSONDecodeError as exc:
        raise MLError(f"registry file {path} is not valid JSON: {exc}") from exc


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
    def from_dict(cls, raw: dict) -> FeatureInfo:
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
        booster.save_model(str(path / "model.txt"), num_iteration=booster.best_iteration or None)
        write_json(path / "features.json", features.to_dict())
        write_json(path / "manifest.json", {**manifest, "model": model, "version": version})
        write_json(path / "metrics.json", metrics)
        return version, path

    def champion(self, model: str) -> dict | None:
        path = self.model_dir(model) / CHAMPION_FILE
        return read_json(path) if path.exists() else None

    def set_champion(self, model: str, pointer: dict) -> None:
        write_json(self.model_dir(model) / CHAMPION_FILE, pointer)

    def record_decision(self, model: str, decision: dict) -> None:
        with (self.model_dir(model) / "promotions.jsonl").open("a") as log:
            log.write(json.dumps(decision, default=str) + "\n")

    def resolve(self, model: str, version: str | None) -> str:
        if version not in (None, "champion"):
            if not (self.model_dir(model) / str(version) / "model.txt").exists():
                known = ", ".join(self.versions(model)) or "none"
                raise MLError(f"model {model} has no version {version!r}; versions: {known}")
            return str(version)
        pointer = self.champion(model)
        if pointer is None:
            raise MLError(
                f"model {model} has no champion in {self.model_dir(model)}; "
                f"train one first: `tessera ml train --model {model}`"
            )
        return str(pointer["version"])

    def load(self, model: str, version: str | None = None) -> RegisteredModel:
        version = self.resolve(model, version)
        path = self.model_dir(model) / version
        try:
            booster = lgb.Booster(model_file=str(path / "model.txt"))
        except lgb.basic.LightGBMError as exc:
            raise MLError(f"cannot load {path / 'model.txt'}: {exc}") from exc
        return RegisteredModel(
            name=model,
            version=version,
            path=path,
            booster=booster,
            features=FeatureInfo.from_dict(read_json(path / "features.json")),
            manifest=read_json(path / "manifest.json"),
            metrics=read_json(path / "metrics.json"),
        )
