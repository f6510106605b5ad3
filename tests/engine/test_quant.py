"""Weight-only int8 / int4: kernels agree with dequantized weights; engines still generate."""

from pathlib import Path

import pytest
import torch
from engine_helpers import PROMPTS, make_engine
from torch import nn

from lmforge.engine import SamplingParams
from lmforge.engine.quant import Int4Linear, Int8Linear, quantize, weight_bytes


def test_int8_linear_matches_dequantized() -> None:
    torch.manual_seed(0)
    lin = nn.Linear(128, 96, bias=True)
    q = Int8Linear(lin)
    x = torch.randn(5, 128)
    deq = q.qweight.float() * q.scales.float()[:, None]
    ref = x.bfloat16().float() @ deq.T + lin.bias  # the kernel runs in bf16
    torch.testing.assert_close(q(x), ref, atol=0.05, rtol=0.02)
    assert (deq - lin.weight).abs().max() <= q.scales.float().max()  # within one step (bf16 scales)


def test_int4_linear_close_to_float() -> None:
    torch.manual_seed(0)
    lin = nn.Linear(256, 64, bias=False)
    q = Int4Linear(lin, 32)
    x = torch.randn(3, 256)
    ref = lin(x)
    rel = (q(x) - ref).norm() / ref.norm()
    assert rel < 0.15  # 4-bit noise on random weights; the perplexity check is in bench


@pytest.mark.parametrize("mode", ["int8", "int4"])
def test_quantized_engine_generates(tiny_qwen2_dir: Path, mode: str) -> None:
    fp = make_engine(tiny_qwen2_dir)
    q = make_engine(tiny_qwen2_dir, quantization=mode, int4_group_size=32)
    assert q.quant_report["quantized"] == 2 * 4 + 1  # 4 linears per layer + lm_head
    assert q.weight_bytes < fp.weight_bytes
    params = SamplingParams(max_tokens=8, temperature=0, ignore_eos=True)
    a = [o.token_ids for o in _gen(fp, params)]
    b = [o.token_ids for o in _gen(q, params)]
    assert all(len(x) == 8 for x in b)
    agree = sum(x[0] == y[0] for x, y in zip(a, b, strict=True))
    assert agree >= len(PROMPTS) // 2  # quantization noise may flip some near-ties


def _gen(engine, params):
    ids = [engine.add_request(p, params) for p in PROMPTS]
    done = {}
    while engine.has_unfinished():
        done.update({o.request_id: o for o in engine.step() if o.finished})
    return [done[i] for i in ids]


def test_weight_bytes_counts_tied_once() -> None:
    emb = nn.Embedding(10, 4)
    head = nn.Linear(4, 10, bias=False)
    head.weight = emb.weight
    m = nn.ModuleDict({"e": emb, "h": head})
    assert weight_bytes(m) == 10 * 4 * 4
    assert quantize(m, "int8") == {"quantized": 1, "skipped": 0}
