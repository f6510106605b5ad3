"""The engine's own int4 layer over checkpoint codes: the weights it computes with are the
checkpoint's (up to one fp16 rounding of the group minimum), and the fused decode step takes a
model made of them, which it cannot with torch's packed kernel."""

from pathlib import Path

import pytest
import torch

from lmforge.engine import quant
from lmforge.engine.kernels.fused import why_not
from lmforge.engine.loader import load_llama
from lmforge.quant.config import QuantizeConfig
from lmforge.quant.grid import rtn
from lmforge.quant.load import CheckpointInt4Linear, PackedInt4Linear, own_kernels
from lmforge.quant.quantize import quantize_model

needs_ours = pytest.mark.skipif(own_kernels(64, 64) is None, reason="no lmforge int4 kernels")


@needs_ours
@pytest.mark.parametrize(("k", "group", "kernel_group"), [(256, 128, 128), (576, 128, 64)])
def test_codes_dequantize_to_the_checkpoint_weights(
    k: int, group: int, kernel_group: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    gemm = own_kernels(96, k)
    # the switch to dequantize + dense matmul (AVX2, AMX) set low, so every machine takes it
    monkeypatch.setitem(quant.OURS_ROWS, ("int4", gemm.isa), 8)
    gen = torch.Generator().manual_seed(0)
    parts = [rtn(torch.randn(n, k, generator=gen), 4, group) for n in (64, 32)]
    layer = CheckpointInt4Linear(parts, None, kernel_group, gemm, torch.float32)
    want = torch.cat([q.dequantize() for q in parts])
    got = layer.dequantized()
    step = torch.cat([q.scales[q.g_idx.long()].T for q in parts])  # [n, k]
    zero = torch.cat([q.zeros[q.g_idx.long()].T for q in parts]).float()
    # the min -s*z is stored in fp16: half an ulp of it, nothing else
    assert ((got - want).abs() <= step * zero * 2**-11 + 1e-6).all()
    assert (got - want).abs().max() < 0.01 * step.max()
    x = torch.randn(20, k, generator=gen)  # >= the row switch: dense in fp32
    torch.testing.assert_close(layer(x), x @ got.T, rtol=1e-4, atol=1e-4)
    small = layer(x[:3])  # the kernel: within its int8 activation rounding of the dense result
    assert (small - layer(x)[:3]).norm() / small.norm() < 0.02


def test_act_order_checkpoint_keeps_torch_kernel(tiny_llama_dir: Path, tmp_path: Path) -> None:
    cfg = QuantizeConfig(
        model=str(tiny_llama_dir), out=str(tmp_path / "g"), method="gptq", group_size=32,
        n_samples=8, seq_len=32, batch_size=4,
    )  # fmt: skip
    quantize_model(cfg)
    model, _ = load_llama(tmp_path / "g", 512, torch.float32)
    assert isinstance(model.layers[0].self_attn.qkv_proj, PackedInt4Linear)


@needs_ours
def test_fused_decode_takes_an_rtn_checkpoint(tiny_llama_dir: Path, tmp_path: Path) -> None:
    cfg = QuantizeConfig(model=str(tiny_llama_dir), out=str(tmp_path / "r"), method="rtn")
    quantize_model(cfg.model_copy(update={"group_size": 32}))
    model, _ = load_llama(tmp_path / "r", 512, torch.float32)
    assert isinstance(model.layers[1].mlp.gate_up_proj, CheckpointInt4Linear)
    kv = [(torch.zeros(3, 16, 2, 16), torch.zeros(3, 16, 2, 16)) for _ in range(2)]
    assert why_not(model, kv) == ""
