"""GPTQ and AWQ beat round-to-nearest on the same layer and calibration batch."""

import pytest
import torch

from lmforge.quant.awq import apply_clip, search_clip, search_scales
from lmforge.quant.gptq import Hessian, gptq
from lmforge.quant.grid import fake_quant_groups, rtn


def _layer() -> tuple[torch.Tensor, torch.Tensor]:
    """A weight and activations that, like real LLM inputs, are correlated across channels
    (low-rank plus noise) and have a few outlier channels."""
    g = torch.Generator().manual_seed(0)
    w = torch.randn(96, 128, generator=g) * 0.05
    scale = torch.exp(0.5 * torch.randn(128, generator=g))
    scale[torch.randperm(128, generator=g)[:4]] *= 10
    low = torch.randn(1024, 16, generator=g) @ torch.randn(16, 128, generator=g)
    x = (low + 0.3 * torch.randn(1024, 128, generator=g)) * scale
    return w, x


def _err(w: torch.Tensor, wq: torch.Tensor, x: torch.Tensor) -> float:
    return (x @ (w - wq).T).pow(2).sum().item()


@pytest.mark.parametrize(("bits", "group"), [(4, 32), (4, 128), (3, 64)])
@pytest.mark.parametrize("act_order", [True, False])
def test_gptq_error_below_rtn(bits: int, group: int, act_order: bool) -> None:
    w, x = _layer()
    h = Hessian(128)
    for part in x.split(256):
        h.add(part)
    torch.testing.assert_close(h.h.float(), 2 * x.T @ x / x.shape[0], rtol=1e-4, atol=1e-2)
    q = gptq(w, h.h, bits, group, sym=False, act_order=act_order)
    base = _err(w, rtn(w, bits, group).dequantize(), x)
    assert _err(w, q.dequantize(), x) < 0.8 * base
    assert q.qweight.min() >= 0 and q.qweight.max() < 2**bits


def test_gptq_act_order_groups_follow_the_permutation() -> None:
    w, x = _layer()
    h = Hessian(128)
    h.add(x)
    q = gptq(w, h.h, 4, 32, act_order=True)
    order = torch.argsort(torch.diag(h.h), descending=True)
    assert torch.equal(q.g_idx[order], (torch.arange(128) // 32).int())
    assert not torch.equal(q.g_idx, (torch.arange(128) // 32).int())


@pytest.mark.parametrize(("bits", "group"), [(4, 128), (3, 64)])
def test_awq_error_below_rtn(bits: int, group: int) -> None:
    w, x = _layer()
    s = search_scales([w], x, bits, group)
    ws, xs = w * s, x / s
    clip = search_clip(ws, xs, bits, group)
    wq = rtn(apply_clip(ws, clip, group), bits, group).dequantize() / s
    base = _err(w, rtn(w, bits, group).dequantize(), x)
    assert _err(w, wq, x) < 0.8 * base
    assert not torch.allclose(s, torch.ones_like(s))  # the search moved off alpha = 0


def test_short_last_group_fake_quant_matches_rtn() -> None:
    w = torch.randn(8, 96)
    torch.testing.assert_close(fake_quant_groups(w, 4, 64), rtn(w, 4, 64).dequantize())


def test_awq_block_objective_beats_the_linear_one_on_the_block() -> None:
    """Scored on a downstream block (here a saturating nonlinearity and a projection, like the
    attention softmax and o_proj), the chosen scale errs less on that block than the scale the
    linear-output objective picks, and less than RTN."""
    w, x = _layer()
    proj = torch.randn(96, 32, generator=torch.Generator().manual_seed(1))

    def block(ws: list[torch.Tensor]) -> torch.Tensor:
        return torch.tanh(x @ ws[0].T * 20) @ proj

    ref = block([w])

    def loss(s: torch.Tensor) -> float:
        return (block([fake_quant_groups(w * s, 4, 128) / s]) - ref).pow(2).mean().item()

    s_block = search_scales([w], x, 4, 128, block=block)
    s_linear = search_scales([w], x, 4, 128)
    assert loss(s_block) <= loss(s_linear)
    assert loss(s_block) < loss(torch.ones(128))
