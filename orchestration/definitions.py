"""Tessera's Dagster definitions, loaded by `[tool.dagster] module_name` and `dagster dev`."""

from orchestration.builder import build_definitions

defs = build_definitions()
