"""Rerunning one submodule of a layer with candidate weights (AWQ's block objective)."""

import torch
from torch import nn

from lmforge.quant.layers import block_output, observe_calls


class _Layer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 8))

    def forward(self, h: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
        return h + scale * self.mlp(h)


def test_block_output_runs_candidates_and_restores_weights() -> None:
    torch.manual_seed(0)
    layer = _Layer()
    hidden = [torch.randn(2, 5, 8), torch.randn(1, 5, 8)]
    calls = observe_calls(layer, hidden, {"scale": 0.5}, ("mlp",))["mlp"]
    assert [x.shape for x, _ in calls] == [h.shape for h in hidden]
    up = layer.mlp[0]
    before = up.weight.detach().clone()
    run = block_output(layer.mlp, [up], calls)
    torch.testing.assert_close(run([before]), layer.mlp(torch.cat(hidden)).detach())
    zero = run([torch.zeros_like(before)])
    want = layer.mlp[2](torch.relu(up.bias.detach())).expand(3, 5, 8)
    torch.testing.assert_close(zero, want.detach())
    assert torch.equal(up.weight.detach(), before)
