"""lmforge's own inference engine as a backend: generation and log-likelihoods from one model.

Generation is `LLM.generate` (continuous batching). Log-likelihoods are `LLM.score`: each
multiple-choice item's context is prefilled once and its choices are scored as branches that
share the context's KV blocks, all items streaming through the engine together (see
engine/scoring.py); rolling perplexity windows go the same way. Tokenization and truncation are
the transformers backend's (lm-evaluation-harness's), so the two backends score the same tokens.

The KV cache is sized for this work (`kv_cache_tokens`, 16k tokens by default), not as a share
of the machine's RAM: scoring needs a few items' contexts resident, not a serving pool. The
engine is a lower layer: eval imports it, it never imports eval.
"""

import functools
import inspect
from typing import Any

from lmforge.eval.backends.base import (
    GenRequest,
    LoglikResult,
    RollingResult,
    encode_pair,
    group_items,
    prompt_text,
    rolling_windows,
    truncate_at_stop,
)
from lmforge.models import resolve_model_dir


def kv_bytes_per_token(model_dir: Any, dtype_bytes: int = 4) -> int:
    """K and V of one token over all layers, from the model's config.json."""
    from transformers import AutoConfig

    cfg = AutoConfig.from_pretrained(model_dir)
    heads = cfg.num_attention_heads
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // heads
    kv_heads = getattr(cfg, "num_key_value_heads", None) or heads
    return 2 * cfg.num_hidden_layers * kv_heads * head_dim * dtype_bytes


class EngineBackend:
    name = "engine"
    structured = True  # GenRequest.json_schema is decoded under the schema (llguidance)

    def __init__(
        self,
        model: str,
        batch_size: int = 8,
        kv_cache_gb: float | None = None,
        kv_cache_tokens: int = 16384,
        max_length: int | None = None,
        engine_options: dict[str, Any] | None = None,
    ) -> None:
        import torch

        from lmforge.engine import LLM, SamplingParams

        self._params_cls = SamplingParams
        path = resolve_model_dir(model)
        self.model_ref, self.batch_size = model, batch_size
        # Keep the caller's torch thread count (the engine would otherwise take every core).
        gb = kv_cache_gb or kv_cache_tokens * kv_bytes_per_token(path) / 1e9
        # engine_options: further LLM arguments (say quantization="int8", to score the engine's
        # own weight modes on the same footing as a checkpoint)
        opts = {"threads": torch.get_num_threads(), "kv_cache_gb": gb, **(engine_options or {})}
        self.llm = LLM(str(path), **opts)
        self.tokenizer = self.llm.tokenizer
        self.max_length = max_length or min(self.llm.engine.max_model_len, 8192)
        eos = self.tokenizer.eos_token_id
        self.prefix_id = eos if eos is not None else self.tokenizer.pad_token_id
        assert self.prefix_id is not None, "tokenizer has neither EOS nor PAD"
        self._accepted = set(inspect.signature(SamplingParams).parameters)

    def encode(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def loglikelihood(self, requests: list[tuple[str, str]]) -> list[LoglikResult]:
        pairs, enc = [], functools.lru_cache(maxsize=1024)(self.encode)  # choices share contexts
        for c, x in requests:
            ctx, cont = encode_pair(enc, self.prefix_id, c, x)
            if not cont:
                raise ValueError(f"empty continuation after tokenization: {x!r} after {c[-40:]!r}")
            keep = max(self.max_length + 1 - len(cont), 1)  # left-truncate as the hf backend
            pairs.append((ctx[-keep:], cont[-self.max_length :]))
        groups = group_items(pairs)
        scores = self.llm.score([(ctx, [pairs[i][1] for i in idx]) for ctx, idx in groups])
        out: list[LoglikResult] = [LoglikResult(0.0, False, 0)] * len(requests)
        for (_, idx), item in zip(groups, scores, strict=True):
            for i, sc in zip(idx, item, strict=True):
                out[i] = LoglikResult(sc.logprob, sc.greedy, len(pairs[i][1]))
        return out

    def loglikelihood_rolling(
        self, texts: list[str], max_length: int, stride: int
    ) -> list[RollingResult]:
        max_length = min(max_length, self.max_length)
        stride = min(stride, max_length)
        items, owner = [], []
        for t, text in enumerate(texts):
            tokens = [self.prefix_id, *self.encode(text)]  # EOS prefix: the first word is scored
            windows = rolling_windows(len(tokens), max_length, stride)
            for b, e, n in windows:
                b = min(b, e - n - 1)  # a window scoring all its tokens starts one token early
                items.append((tokens[b : e - n], [tokens[e - n : e]]))
                owner.append((t, len(tokens) - 1, len(windows)))
        totals = [0.0] * len(texts)
        for (t, _, _), scores in zip(owner, self.llm.score(items), strict=True):
            totals[t] += scores[0].logprob
        meta = {t: (n_tok, n_win) for t, n_tok, n_win in owner}
        return [RollingResult(totals[t], *meta[t]) for t in range(len(texts))]

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
