"""Model loading: local HF directories, GGUF files, the packaged default model, chat templates."""

from lmforge.models.chat import CHATML_TEMPLATE, ensure_chat_template, render_chat
from lmforge.models.default import DEFAULT_MODEL, cache_root, prepare_default
from lmforge.models.loader import LoadedModel, load_model, resolve_model_dir

__all__ = [
    "CHATML_TEMPLATE",
    "DEFAULT_MODEL",
    "LoadedModel",
    "cache_root",
    "ensure_chat_template",
    "load_model",
    "prepare_default",
    "render_chat",
    "resolve_model_dir",
]
