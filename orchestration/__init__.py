"""Dagster orchestration for Tessera: dbt, ml and sync assets, jobs, schedules, sensors, checks.

Loaded by `dagster dev` through `[tool.dagster] module_name = "orchestration.definitions"`.
Nothing in Tessera imports this package: it wires the other layers together.
"""
