"""Reverse ETL: plan the diff in the warehouse, send it in batches, commit acknowledged state.

Depends on the core (`tessera.settings`, `tessera.warehouse`) only.
"""
