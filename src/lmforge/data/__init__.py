"""Data curation: readers, cleaning/filtering steps, deduplication, formatting and executors.

Kept import-free on purpose: `lmforge.data.pii` and `lmforge.data.toxicity` are pure modules
that other stages (guardrails) import without pulling in the pipeline or its extras.
"""
