"""Model backends behind one interface (base.Backend); `make_backend` picks one by name."""

from lmforge.errors import LMForgeError
from lmforge.eval.backends.base import Backend, GenRequest, LoglikResult, RollingResult

BACKENDS = ("hf", "openai", "engine")


def make_backend(
    kind: str,
    model: str = "default",
    base_url: str | None = None,
    api_key: str | None = None,
    batch_size: int = 8,
    device: str = "cpu",
) -> Backend:
    """Build a backend: 'hf' (transformers), 'openai' (needs base_url) or 'engine'."""
    if kind == "hf":
        from lmforge.eval.backends.hf import HFBackend

        return HFBackend(model, batch_size=batch_size, device=device)
    if kind == "openai":
        if not base_url:
            raise LMForgeError("backend 'openai' needs base_url (e.g. http://127.0.0.1:8000/v1)")
        from lmforge.eval.backends.openai_api import OpenAIBackend

        return OpenAIBackend(base_url, model=model, api_key=api_key, concurrency=batch_size)
    if kind == "engine":
        from lmforge.eval.backends.engine import EngineBackend

        return EngineBackend(model, batch_size=batch_size)
    raise LMForgeError(f"unknown backend {kind!r}; choose one of {', '.join(BACKENDS)}")


__all__ = ["BACKENDS", "Backend", "GenRequest", "LoglikResult", "RollingResult", "make_backend"]
