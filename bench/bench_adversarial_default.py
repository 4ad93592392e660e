"""bench_adversarial's measures on the default generator: the other column of the side-by-side."""

from __future__ import annotations

from pathlib import Path

from bench.bench_adversarial import measure


def run(scale: int, workdir: Path) -> dict:
    return measure(scale, workdir, "default")
