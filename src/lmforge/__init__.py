"""lmforge: one toolkit and CLI for the whole life of a language model."""

from lmforge.errors import LMForgeError, MissingExtraError

__version__ = "0.1.0"

__all__ = ["LLM", "LMForgeError", "MissingExtraError", "SamplingParams", "__version__"]

# The engine needs torch; import it only when asked for, so `import lmforge` stays light.
_LAZY = {"LLM": "lmforge.engine.llm", "SamplingParams": "lmforge.engine.sampling_params"}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'lmforge' has no attribute {name!r}")
