"""lmforge's own inference engine (issue #3) as a backend: `LLM(model).generate(prompts, params)`.

The engine generates; it exposes no log-probs, so log-likelihood requests go to a transformers
backend on the same weights (loaded lazily, only when a task needs them). The engine is a lower
layer: eval imports it, it never imports eval.
"""

import inspect
from typing import Any

from lmforge.errors import LMForgeError
from lmforge.eval.backends.base import (
    GenRequest,
    LoglikResult,
    RollingResult,
    prompt_text,
    truncate_at_stop,
)
from lmforge.models import resolve_model_dir


def _engine() -> tuple[Any, Any]:
    try:
        from lmforge import LLM, SamplingParams  # type: ignore[attr-defined]
    except ImportError:
        raise LMForgeError(
            "backend 'engine' needs lmforge's inference engine (issue #3), which this version "
            "does not have yet; use --backend hf or --backend openai"
        ) from None
    return LLM, SamplingParams


class EngineBackend:
    name = "engine"
    structured = True  # GenRequest.json_schema is decoded under the schema (llguidance)

    def __init__(self, model: str, batch_size: int = 8, kv_cache_gb: float | None = None) -> None:
        import torch

        llm_cls, self._params_cls = _engine()
        self.model_ref, self.batch_size = model, batch_size
        # Keep the caller's torch thread count (the engine would otherwise take every core).
        kw: dict[str, Any] = {"threads": torch.get_num_threads()}
        if kv_cache_gb is not None:
            kw["kv_cache_gb"] = kv_cache_gb
        self.llm = llm_cls(str(resolve_model_dir(model)), **kw)
        self.tokenizer = self.llm.tokenizer
        self._accepted = set(inspect.signature(self._params_cls).parameters)
        self._hf: Any = None

    def _scorer(self) -> Any:
        if self._hf is None:
            from lmforge.eval.backends.hf import HFBackend

            self._hf = HFBackend(self.model_ref, batch_size=self.batch_size)
        return self._hf

    def loglikelihood(self, requests: list[tuple[str, str]]) -> list[LoglikResult]:
        return self._scorer().loglikelihood(requests)

    def loglikelihood_rolling(
        self, texts: list[str], max_length: int, stride: int
    ) -> list[RollingResult]:
        return self._scorer().loglikelihood_rolling(texts, max_length, stride)

    def _params(self, req: GenRequest, seed: int | None = None) -> Any:
        wanted = {
            "temperature": req.temperature,
            "max_tokens": req.max_new_tokens,
            "top_p": req.top_p,
            "seed": req.seed if seed is None else seed,
            "stop": list(req.stop),
            "json_schema": req.json_schema,
        }
        return self._params_cls(**{k: v for k, v in wanted.items() if k in self._accepted})

    def generate(self, requests: list[GenRequest]) -> list[list[str]]:
        """All requests in one engine call (continuous batching); n samples = n copies."""
        prompts, params = [], []
        for req in requests:
            prompt, p = prompt_text(req, self.tokenizer), self._params(req)
            for j in range(req.n):
                prompts.append(prompt)
                # Distinct seeds per sample: same-seed copies would be identical samples.
                params.append(p if req.n == 1 else self._params(req, seed=req.seed + j))
        results = iter(self.llm.generate(prompts, params))
        return [
            [truncate_at_stop(next(results).text, r.stop) for _ in range(r.n)] for r in requests
        ]
