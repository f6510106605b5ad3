"""lmforge: one toolkit and CLI for the whole life of a language model."""

from lmforge.errors import LMForgeError, MissingExtraError

__version__ = "0.1.0"

__all__ = ["LMForgeError", "MissingExtraError", "__version__"]
