"""Batched decode attention from the block tables (kernels/paged.py, batch_attention.cpp)
against the torch path it replaces (length groups of gathered blocks + SDPA): random caches,
rows of many lengths over scattered blocks, fp32 and int8 KV, a sliding window, both ISA paths,
1 and 2 threads; a mixed step (decodes + a prefill chunk); and that the engine takes it only
where it applies."""

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from lmforge.engine.attention import AttnMeta, DecodeGroup, paged_attention
from lmforge.engine.kernels import choose, ops
from lmforge.engine.kernels.paged import PagedAttention
from lmforge.engine.kv_cache import allocate, write

HAVE = choose().isa
ISAS = [n for n, lvl in ops.ISAS.items() if lvl <= HAVE]
pytestmark = pytest.mark.skipif(HAVE == 0, reason=f"our kernels unavailable: {choose().reason}")
BS, KVH, H = 4, 2, 6


def _spec(d: int, window: int | None) -> SimpleNamespace:
    return SimpleNamespace(
        num_layers=1, hidden_size=H * d, intermediate_size=4, num_heads=H, num_kv_heads=KVH,
        head_dim=d, sliding_window=window, vocab_size=8, rms_norm_eps=1e-6,
    )  # fmt: skip


def _case(kind: str, d: int, lens: list[int], seed: int = 0):
    """Caches with each row's context in its own shuffled blocks; q/k/v of one token per row."""
    g = torch.Generator().manual_seed(seed)
    need = [-(-n // BS) for n in lens]
    perm = torch.randperm(sum(need) + 3, generator=g).tolist()
    tables, at = [], 0
    for n in need:
        tables.append(perm[at : at + n])
        at += n
    shape = (len(perm), BS, KVH, d)
    kc, vc = (allocate(kind, shape, torch.float32, torch.device("cpu")) for _ in "kv")
    for t, n in zip(tables, lens, strict=True):
        slots = torch.tensor([t[p // BS] * BS + p % BS for p in range(n - 1)], dtype=torch.long)
        write(kc, slots, torch.randn(n - 1, KVH, d, generator=g))
        write(vc, slots, torch.randn(n - 1, KVH, d, generator=g))
    ends = zip(tables, lens, strict=True)
    last = torch.tensor([t[(n - 1) // BS] * BS + (n - 1) % BS for t, n in ends])
    q = torch.randn(len(lens), H, d, generator=g)
    k, v = (torch.randn(len(lens), KVH, d, generator=g) for _ in "kv")
    return q, k, v, kc, vc, tables, last


def _reference(q, k, v, kc, vc, tables, lens, slots, window):
    """The torch path, one group per row (no padding, so no mask unless the window cuts)."""
    out = []
    for i, (t, n) in enumerate(zip(tables, lens, strict=True)):
        mask = None
        if window is not None and n > window:
            mask = (torch.arange(n) >= n - window)[None, None, None]
        meta = AttnMeta(slots[i : i + 1], [DecodeGroup(0, 1, torch.tensor(t), n, mask)], [])
        out.append(paged_attention(q[i : i + 1], k[i : i + 1], v[i : i + 1], kc, vc, meta))
    return torch.cat(out)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("kind", ["auto", "int8"])
@pytest.mark.parametrize(("d", "window"), [(64, None), (64, 7), (24, None), (128, None)])
@pytest.mark.parametrize("threads", [1, 2])
def test_paged_rows_match_torch_path(isa: str, kind: str, d: int, window, threads: int) -> None:
    lens = [1, 2, 5, 17, 33, 40, 9, 64, 3, 4]
    q, k, v, kc, vc, tables, slots = _case(kind, d, lens, seed=d)
    kern = PagedAttention(_spec(d, window), BS, ops.ISAS[isa])
    meta = AttnMeta(slots, [], [], window, kern.rows(tables, lens))
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        got = paged_attention(q, k, v, kc, vc, meta)
    finally:
        torch.set_num_threads(old)
    ref = _reference(q, k, v, kc, vc, tables, lens, slots, window)
    assert got.shape == ref.shape
    assert (got - ref).abs().max().item() < 1e-5


def test_paged_rows_read_a_strided_q() -> None:
    """q as the model passes it: the first heads of a fused [N, H + KV, D] q/k tensor."""
    lens = [6, 11, 3]
    q, k, v, kc, vc, tables, slots = _case("auto", 64, lens)
    qk = torch.cat([q, k], 1)
    kern = PagedAttention(_spec(64, None), BS, HAVE)
    meta = AttnMeta(slots, [], [], None, kern.rows(tables, lens))
    got = paged_attention(qk[:, :H], qk[:, H:], v, kc, vc, meta)
    ref = _reference(q, k, v, kc, vc, tables, lens, slots, None)
    assert (got - ref).abs().max().item() < 1e-5


def test_engine_greedy_equal_with_and_without(
    tiny_llama_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Many sequences decoding together (mixed steps with prefill chunks): same greedy tokens
    and close logprobs with the kernel and with the torch path."""
    from lmforge.engine import LLM, SamplingParams

    prompts = [list(range(3, 3 + n)) for n in (5, 19, 33, 8, 47, 2, 26, 12)]
    params = SamplingParams(max_tokens=12, temperature=0, ignore_eos=True, logprobs=0)
    outs = {}
    for env in ("1", "0"):
        monkeypatch.setenv("LMFORGE_PAGED", env)
        llm = LLM(str(tiny_llama_dir), kv_cache_gb=0.01, threads=1, block_size=4,
                  max_num_batched_tokens=24, enable_prefix_caching=False)  # fmt: skip
        assert (llm.engine.runner.paged is not None) == (env == "1")
        outs[env] = llm.generate(prompts, params)
    for a, b in zip(outs["1"], outs["0"], strict=True):
        assert a.token_ids == b.token_ids
        for x, y in zip(a.logprobs, b.logprobs, strict=True):
            assert abs(x - y) < 1e-4


def test_not_taken_for_bf16_or_fp8_kv() -> None:
    spec = _spec(64, None)
    shape = (4, BS, KVH, 64)
    cpu = torch.device("cpu")
    fp8 = [(allocate("fp8", shape, torch.float32, cpu),) * 2]
    assert PagedAttention.build(spec, fp8, BS, cpu, torch.float32)[0] is None
    bf16 = [(allocate("auto", shape, torch.bfloat16, cpu),) * 2]
    kern, why = PagedAttention.build(spec, bf16, BS, cpu, torch.bfloat16)
    assert kern is None and "fp32" in why
