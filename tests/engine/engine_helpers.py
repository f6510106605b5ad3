"""Shared helpers for the engine tests (imported by name: tests are not a package)."""

from pathlib import Path

from lmforge.engine import LLMEngine

PROMPTS = [
    "Return a new ordered dictionary",
    "Split the pathname path into a pair",
    "The json module",
    "Match a regular expression pattern to the beginning of a string and return",
    "Counter",
    "Deserialize a str instance containing a JSON document to a Python object.",
]


def make_engine(path: Path, **kw: object) -> LLMEngine:
    kw.setdefault("kv_cache_gb", 0.01)
    kw.setdefault("threads", 1)
    return LLMEngine(model=str(path), **kw)
