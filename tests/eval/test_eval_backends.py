"""Backends agree with a direct forward pass and with each other on the tiny model."""

import math

import pytest
import torch

from lmforge.eval.backends import make_backend
from lmforge.eval.backends.base import GenRequest, prompt_text, rolling_windows, split_context

PAIRS = [
    ("The capital of France is", " Paris"),
    ("Question: 2+2?\nAnswer: ", "4"),
    ("", "Hello world"),
    ("def add(a, b):\n    return", " a + b"),
]


def reference_loglik(backend, context: str, continuation: str) -> float:
    """Straight from the model, one sequence at a time, no padding."""
    ctx, cont = backend._encode_pair(context, continuation)
    ids = torch.tensor([ctx + cont])
    with torch.inference_mode():
        logp = torch.log_softmax(backend.model(input_ids=ids).logits[0].float(), -1)
    return sum(logp[len(ctx) + i - 1, t].item() for i, t in enumerate(cont))


def test_split_context_moves_trailing_space():
    assert split_context("Answer: ", "B") == ("Answer:", " B")
    assert split_context("Answer:", " B") == ("Answer:", " B")


def test_hf_loglikelihood_matches_unbatched_forward(hf_backend):
    results = hf_backend.loglikelihood(PAIRS)
    for (c, x), r in zip(PAIRS, results, strict=True):
        assert r.logprob == pytest.approx(reference_loglik(hf_backend, c, x), abs=1e-4)
        assert r.logprob < 0 and r.n_tokens >= 1
    # the same request scored alone (no padding partners) gives the same number
    alone = hf_backend.loglikelihood(PAIRS[:1])[0]
    assert alone.logprob == pytest.approx(results[0].logprob, abs=1e-4)


def test_rolling_windows_score_every_token_once():
    for n, L, s in [(10, 4, 4), (10, 4, 2), (1000, 128, 37), (3, 8, 8), (1, 4, 4)]:
        w = rolling_windows(n, L, s)
        assert sum(x[2] for x in w) == max(n - 1, 0)
        assert all(e - b <= L for b, e, _ in w)


def test_rolling_perplexity_disjoint_equals_single_window_when_text_fits(hf_backend):
    text = "The quick brown fox jumps over the lazy dog. " * 3
    whole = hf_backend.loglikelihood_rolling([text], max_length=512, stride=512)[0]
    ref = reference_loglik(hf_backend, "", text)  # EOS-prefixed, every token scored
    assert whole.logprob == pytest.approx(ref, abs=1e-3)
    strided = hf_backend.loglikelihood_rolling([text], max_length=16, stride=8)[0]
    assert strided.n_tokens == whole.n_tokens and strided.n_windows > 1
    assert math.isfinite(strided.logprob)


def test_openai_backend_matches_hf_on_a_served_tiny_model(hf_backend, tiny_server):
    client = make_backend("openai", "tiny", base_url=tiny_server, batch_size=2)
    ours, theirs = hf_backend.loglikelihood(PAIRS[:2]), client.loglikelihood(PAIRS[:2])
    for a, b in zip(ours, theirs, strict=True):
        assert b.logprob == pytest.approx(a.logprob, abs=1e-3)
        assert (a.is_greedy, a.n_tokens) == (b.is_greedy, b.n_tokens)
    req = [GenRequest("Once upon a time", max_new_tokens=8)]
    assert client.generate(req) == hf_backend.generate(req)
    prefixed = [GenRequest("Once upon", prefix=" a time", max_new_tokens=8)]
    assert client.generate(prefixed) == hf_backend.generate(req)
    from lmforge.errors import LMForgeError

    with pytest.raises(LMForgeError, match="gen_prefix on a chat task"):
        client.generate([GenRequest("Hi", prefix="Sure:", chat=True)])


def test_engine_backend_generates_like_transformers_greedy(tiny_llama_dir, hf_backend):
    from lmforge.eval.backends.engine import EngineBackend

    engine = EngineBackend(str(tiny_llama_dir), kv_cache_gb=0.01)
    reqs = [
        GenRequest("def f(x):", max_new_tokens=12),
        GenRequest("Hi", chat=True, max_new_tokens=12),
        GenRequest("Hi", prefix="Sure, here", chat=True, max_new_tokens=12),
    ]
    assert engine.generate(reqs) == hf_backend.generate(reqs)
    assert (
        prompt_text(reqs[2], engine.tokenizer)
        == prompt_text(reqs[1], engine.tokenizer) + "Sure, here"
    )


def test_engine_backend_passes_engine_options(tiny_llama_dir, hf_backend):
    """engine_options reach the LLM: an int8-weight engine scores close to, not equal to, fp32
    (bench/quant.py's MMLU column scores the engine's own modes this way)."""
    from lmforge.eval.backends.engine import EngineBackend

    fp32 = EngineBackend(str(tiny_llama_dir), kv_cache_gb=0.01)
    int8 = EngineBackend(
        str(tiny_llama_dir), kv_cache_gb=0.01, engine_options={"quantization": "int8"}
    )
    assert int8.llm.engine.config.quantization == "int8"
    a = [r.logprob for r in fp32.loglikelihood(PAIRS)]
    b = [r.logprob for r in int8.loglikelihood(PAIRS)]
    assert a != b
    assert max(abs(x - y) for x, y in zip(a, b, strict=True)) < 0.5


def test_unknown_backend_and_missing_url_are_one_line_errors():
    from lmforge.errors import LMForgeError

    with pytest.raises(LMForgeError, match="unknown backend"):
        make_backend("vllm")
    with pytest.raises(LMForgeError, match="base_url"):
        make_backend("openai")
