"""Weight-only int8 / int4: kernels agree with dequantized weights; engines still generate."""

from pathlib import Path

import pytest
import torch
from engine_helpers import PROMPTS, make_engine
from torch import nn

from lmforge.engine import SamplingParams
from lmforge.engine.kernels import choose
from lmforge.engine.quant import Int4Linear, Int8Linear, quantize, weight_bytes

ACT = [torch.float32, torch.bfloat16]
TORCH = choose("torch")  # these tests cover torch's packed kernels (test_kernels.py: ours)


def _bf16(x: torch.Tensor, dt: torch.dtype) -> torch.Tensor:
    return x.to(dt).float()  # what the kernel sees of its input


@pytest.mark.parametrize("act", ACT)
def test_int8_linear_matches_dequantized(act: torch.dtype) -> None:
    torch.manual_seed(0)
    lin = nn.Linear(128, 96, bias=True)
    q = Int8Linear(lin, act, TORCH)
    x = torch.randn(5, 128)
    deq = q.qweight.float() * q.scales.float()[:, None]
    ref = _bf16(x, act) @ deq.T + lin.bias
    tol = {"atol": 1e-4, "rtol": 1e-4} if act == torch.float32 else {"atol": 0.05, "rtol": 0.02}
    torch.testing.assert_close(q(x), ref, **tol)
    assert (deq - lin.weight).abs().max() <= q.scales.float().max()  # within one step (bf16 scales)


@pytest.mark.parametrize("act", ACT)
def test_int4_linear_close_to_float(act: torch.dtype) -> None:
    torch.manual_seed(0)
    lin = nn.Linear(256, 64, bias=False)
    q = Int4Linear(lin, 32, act, TORCH)
    x = torch.randn(3, 256)
    ref = lin(x)
    rel = (q(x) - ref).norm() / ref.norm()
    assert rel < 0.15  # 4-bit noise on random weights; the perplexity check is in bench


@pytest.mark.parametrize("act", ACT)
def test_int4_g32_is_lossless_on_a_gguf_q4_grid(act: torch.dtype) -> None:
    """Weights that already sit on a 4-bit, 32-wide min/scale grid (what GGUF Q4_1 stores, and
    so the default SmolLM2's body) come back exactly: re-quantizing them loses nothing (with
    bf16 activations, up to bf16's rounding of inputs, scales and outputs)."""
    torch.manual_seed(0)
    n, k, gs = 64, 256, 32
    codes = torch.randint(0, 16, (n, k // gs, gs)).float()
    codes[..., 0], codes[..., 1] = 0, 15  # every group spans its full range
    scale = torch.rand(n, k // gs, 1) * 0.01 + 0.001
    low = torch.randn(n, k // gs, 1) * 0.05
    lin = nn.Linear(k, n, bias=False)
    lin.weight.data = (codes * scale + low).reshape(n, k)
    x = torch.randn(3, k)
    got = Int4Linear(lin, gs, act, TORCH)(x)
    if act == torch.float32:
        torch.testing.assert_close(got, lin(x), atol=1e-4, rtol=1e-4)
    else:
        rel = (got - lin(x)).norm() / lin(x).norm()
        assert rel < 0.02  # bf16 has 8 mantissa bits: ~0.4% per element, averaged down


def test_act_dtype_can_be_switched_after_packing() -> None:
    """The probe's choice is applied to packed layers; both paths give the same layer."""
    torch.manual_seed(0)
    for q in (
        Int8Linear(nn.Linear(64, 32), gemm=TORCH),
        Int4Linear(nn.Linear(64, 32), 32, gemm=TORCH),
    ):
        x = torch.randn(2, 64)
        q.set_act_dtype(torch.float32)
        a = q(x)
        q.set_act_dtype(torch.bfloat16)
        b = q(x)
        assert a.dtype == b.dtype == torch.float32
        assert (a - b).norm() / a.norm() < 0.02


def test_int4_mode_keeps_the_head_in_int8() -> None:
    m = nn.ModuleDict({"proj": nn.Linear(64, 64), "lm_head": nn.Linear(64, 100, bias=False)})
    assert quantize(m, "int4", 32)["quantized"] == 2
    assert isinstance(m["proj"], Int4Linear) and isinstance(m["lm_head"], Int8Linear)


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
    assert quantize(m, "int8")["quantized"] == 1


@pytest.mark.parametrize("act", ACT)
@pytest.mark.parametrize("kind", ["int8", "int4"])
def test_many_rows_dense_path_matches_the_packed_kernel(
    act: torch.dtype, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From DENSE_ROWS[kind] rows on a layer dequantizes and runs a dense matmul; same result as the
    packed kernel on the same rows (bf16: up to its rounding)."""
    from lmforge.engine import quant

    assert quant.int4_layout_ok()  # this torch packs int4 as unpack_int4 reads it
    torch.manual_seed(0)
    lin = nn.Linear(192, 128, bias=True)
    q = Int8Linear(lin, act, TORCH) if kind == "int8" else Int4Linear(lin, 32, act, TORCH)
    x = torch.randn(quant.DENSE_ROWS[kind] + 3, 192)
    dense = q(x)
    monkeypatch.setitem(quant.DENSE_ROWS, kind, 10**9)
    kernel = q(x)
    tol = 1e-5 if act == torch.float32 else 0.01
    assert (dense - kernel).norm() / kernel.norm() < tol
