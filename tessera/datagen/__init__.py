"""Synthetic multi-source customer data with hidden ground truth.

`generate` writes schemas raw (the sources in `schema.RAW_TABLES`) and truth
(`truth.identifier_person`, `truth.identifier_evidence`, `truth.persons`); `append_activity`
adds later activity for existing persons. See `generator` for the chunking and determinism contract.
"""

from tessera.datagen.generator import GenerationSummary, append_activity, generate

__all__ = ["GenerationSummary", "append_activity", "generate"]
