"""Reading and writing the model registry's files, and refusing damaged ones.

The registry's JSON files (champion pointers, manifests, metrics, feature lists) are written
atomically, so a reader never sees half a file, and read with an MLError naming the file
when it is missing, unreadable, not JSON or not a JSON object; a model.txt is checked
against the SHA-256 its manifest records (or, for older versions without one, checked to be
a whole LightGBM model file) before LightGBM, which can crash on a damaged one, reads it.
`ml.registry` lays out the folders and decides which version is the champion.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from ml.errors import MLError


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
    except (OSError, UnicodeDecodeError) as exc:
        raise MLError(f"cannot read registry file {path}: {exc}") from exc


def read_json_object(path: Path) -> dict:
    """`read_json` for the registry's JSON files, which all hold one object."""
    raw = read_json(path)
    if not isinstance(raw, dict):
        raise MLError(
            f"registry file {path} is corrupt: expected a JSON object, got {type(raw).__name__}"
        )
    return raw


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_model_file(path: Path, sha256: str | None) -> None:
    """Refuse a model file LightGBM would misread: a truncated or edited model.txt can crash
    the process inside LightGBM (a segmentation fault, no message). With the checksum that
    `Registry.save` records in manifest.json the file must match it exactly; older versions
    without one must at least be whole (the tree section and the trailer LightGBM writes)."""
    if not path.is_file():
        raise MLError(f"registry file {path} is missing")
    if sha256 is not None:
        if file_sha256(path) != sha256:
            raise MLError(
                f"registry file {path} is corrupt: it does not match the model_sha256 its "
                "manifest.json records (truncated or edited); retrain: `tessera ml train`"
            )
        return
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise MLError(f"cannot read registry file {path}: {exc}") from exc
    lines = text.split("\n")
    sizes = next((line for line in lines[:40] if line.startswith("tree_sizes=")), None)
    body_start = text.find("\nTree=")
    body_end = text.find("\nend of trees\n")
    whole = (
        text.startswith("tree\n")
        and text.endswith("\n")
        and body_end > body_start > 0
        and "\nend of parameters\n" in text[body_end:]
    )
    if whole and sizes is not None:
        try:
            expected = sum(int(n) for n in sizes.removeprefix("tree_sizes=").split())
        except ValueError:
            whole = False
        else:
            # LightGBM reads each tree at the offsets tree_sizes gives: they must add up
            whole = abs(expected - (body_end - body_start)) <= len(sizes.split()) + 2
    if not whole:
        raise MLError(
            f"registry file {path} is corrupt: not a whole LightGBM model file (truncated or "
            "edited); retrain: `tessera ml train`"
        )
