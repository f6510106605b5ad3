"""Quantized KV cache: round trip, block counts by bytes, attention and engine parity vs fp32 KV."""

from pathlib import Path

import pytest
import torch
from engine_helpers import PROMPTS, make_engine

from lmforge.engine import LLM, SamplingParams
from lmforge.engine.attention import AttnMeta, DecodeGroup, PrefillSpan, paged_attention
from lmforge.engine.kv_cache import (
    MIN_SCALE,
    QMAX,
    allocate,
    bytes_per_token,
    copy_block,
    gather,
    quantize,
    write,
)


@pytest.mark.parametrize("kind", ["int8", "fp8"])
def test_quantize_round_trip(kind: str) -> None:
    """int8: error <= half a step of each head vector's own scale, over 5 decades of scale (tiny
    vectors keep fp16's smallest normal scale); fp8: e4m3's 3 mantissa bits, relative to amax."""
    x = torch.randn(64, 2, 16) * torch.logspace(-3, 2, 64).view(64, 1, 1)
    codes, scale = quantize(kind, x)
    back = codes.float() * scale.float()
    amax = x.abs().amax(-1, keepdim=True)
    assert scale.dtype == torch.float16 and scale.shape == (64, 2, 1)
    assert (scale.float() <= torch.clamp(amax / QMAX[kind] * 1.001, min=MIN_SCALE)).all()
    if kind == "int8":
        assert ((back - x).abs() <= scale.float() / 2 + 1e-7).all()
    else:
        big = amax.squeeze(-1) > 0.1
        assert ((back - x).abs() / amax)[big].max().item() <= 1 / 16


@pytest.mark.parametrize("kind", ["int8", "fp8"])
def test_write_gather_copy_block(kind: str) -> None:
    cache = allocate(kind, (3, 4, 2, 16), torch.float32, torch.device("cpu"))
    x = torch.randn(5, 2, 16)
    write(cache, torch.tensor([0, 1, 2, 3, 4]), x)  # block 0 full, block 1 one token
    got = gather(cache, torch.tensor([0, 1]), 1, 5)[0]  # [KV, 5, D]
    assert got.dtype == torch.float32
    assert torch.allclose(got.transpose(0, 1), x, atol=x.abs().max().item() / 8)
    copy_block(cache, 1, 2)
    assert torch.equal(
        gather(cache, torch.tensor([2]), 1, 1), gather(cache, torch.tensor([1]), 1, 1)
    )


def test_blocks_are_counted_by_bytes(tiny_llama_dir: Path) -> None:
    """Same GB budget: int8/fp8 hold (4 * D) / (D + 2) x the fp32 tokens (D = head_dim)."""
    engines = {k: make_engine(tiny_llama_dir, kv_cache_dtype=k) for k in ("auto", "int8", "fp8")}
    spec = engines["auto"].model.spec
    d = spec.head_dim
    for kind, eng in engines.items():
        per_token = bytes_per_token(kind, spec.num_kv_heads, d, torch.float32) * spec.num_layers
        assert eng.runner.token_bytes == per_token
        assert eng.runner.num_blocks == int(0.01e9 // (per_token * eng.config.block_size))
        assert eng.runner.kv_bytes <= 0.01e9
    ratio = engines["int8"].runner.num_blocks / engines["auto"].runner.num_blocks
    assert ratio == pytest.approx(4 * d / (d + 2), rel=0.01)
    assert engines["fp8"].runner.num_blocks == engines["int8"].runner.num_blocks
    assert (
        bytes_per_token("auto", 3, 64, torch.bfloat16)
        / bytes_per_token("int8", 3, 64, torch.bfloat16)
        > 1.9
    )


@pytest.mark.parametrize(("kind", "tol"), [("int8", 0.02), ("fp8", 0.12)])
def test_paged_attention_quantized_close_to_fp32(kind: str, tol: float) -> None:
    """Decode rows and a prefill chunk with cached context, against the same cache in fp32."""
    g = torch.Generator().manual_seed(0)
    nb, bs, kvh, h, d = 8, 4, 2, 4, 16
    ctx = torch.randn(10, kvh, d, generator=g)  # 10 cached tokens of one sequence, blocks 0-2
    caches = {}
    for k in ("auto", kind):
        kc, vc = (allocate(k, (nb, bs, kvh, d), torch.float32, torch.device("cpu")) for _ in "kv")
        write(kc, torch.arange(10), ctx)
        write(vc, torch.arange(10), ctx.flip(0))
        caches[k] = (kc, vc)
    q, k_new, v_new = (torch.randn(3, n, d, generator=g) for n in (h, kvh, kvh))
    meta = AttnMeta(
        torch.tensor([10, 11, 12]),
        [DecodeGroup(0, 1, torch.arange(3), 11, None)],  # token 10 decodes over 11
        [PrefillSpan(1, 3, 11, torch.arange(4))],  # tokens 11-12 as a chunk after context 11
    )
    ref = paged_attention(q, k_new, v_new, *caches["auto"], meta)
    got = paged_attention(q, k_new, v_new, *caches[kind], meta)
    assert (got - ref).abs().max().item() < tol


@pytest.mark.parametrize("kind", ["int8", "fp8"])
def test_engine_parity_with_fp32_kv(tiny_llama_dir: Path, kind: str) -> None:
    """Chunked prompts (later chunks read the quantized cache): prompt logprobs stay within
    tolerance of fp32 KV, and greedy decoding mostly agrees (random tiny models have near-flat
    logits, so an occasional near-tie may flip)."""
    kw = {"block_size": 4, "max_num_batched_tokens": 8}
    llms = {
        k: LLM(str(tiny_llama_dir), kv_cache_gb=0.01, threads=1, kv_cache_dtype=k, **kw)
        for k in ("auto", kind)
    }
    tok = llms["auto"].tokenizer
    items = [(tok.encode(p), [tok.encode(" and the rest of it")]) for p in PROMPTS]
    ref = [s[0].logprob for s in llms["auto"].score(items)]
    got = [s[0].logprob for s in llms[kind].score(items)]
    tol = 0.02 if kind == "int8" else 0.15
    assert max(abs(a - b) / len(items[0][1][0]) for a, b in zip(ref, got, strict=True)) < tol
    params = SamplingParams(max_tokens=24, temperature=0, ignore_eos=True)
    outs = {k: [o.token_ids for o in llm.generate(PROMPTS, params)] for k, llm in llms.items()}
    same = sum(
        a == b
        for r, q in zip(outs["auto"], outs[kind], strict=True)
        for a, b in zip(r, q, strict=True)
    )
    assert same / sum(len(r) for r in outs["auto"]) >= (0.9 if kind == "int8" else 0.75)
