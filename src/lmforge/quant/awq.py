"""AWQ (Lin et al., 2023): protect the weights that meet large activations by scaling them up
before rounding, and fold the inverse scale into the op that feeds the layer.

Per input channel j the scale is s_j = mean|x_j|^alpha (or AutoAWQ's duo form, that over the
weights' normalised magnitude^(1 - alpha)), alpha searched on a grid to minimise
the paper's objective over calibration activations, jointly for the linears that share an input
(q/k/v, gate/up). As in AutoAWQ the error is measured where it matters, at the output of the
block those linears feed (the attention block for q/k/v, the whole MLP for gate/up): a scale
that helps q/k/v's raw outputs can still hurt the softmax and o_proj downstream, so scoring the
concatenated linear outputs picked worse alphas. Then, per weight group, the clipping of
the range is searched the same way (a smaller range rounds most weights finer at the cost of
the few largest). The math of y is unchanged in float: W diag(s) times X / s.
"""

from collections.abc import Callable

import torch
from torch import Tensor

from lmforge.quant.grid import fake_quant_groups, grouped

Block = Callable[[list[Tensor]], Tensor]


def search_scales(
    weights: list[Tensor],
    x: Tensor,
    bits: int,
    group_size: int,
    n_grid: int = 20,
    block: Block | None = None,
) -> Tensor:
    """Best per-input-channel scale s [in] for the linears `weights` (each [out_i, in]) on
    activations `x` [tokens, in]. `block` maps candidate weights (same shapes) to the output the
    error is measured on; by default the linears' own outputs on `x`."""
    w = torch.cat([t.float() for t in weights])
    x = x.float()
    rows = [t.shape[0] for t in weights]
    if block is None:

        def block(ws: list[Tensor]) -> Tensor:
            return x @ torch.cat(ws).T

    ref = block([t.float() for t in weights])
    x_mean = x.abs().mean(0)
    # AutoAWQ's "duo" scales also divide by the weights' own per-channel magnitude (each group
    # normalised to its max first): s = mean|x|^a / mean|w_hat|^(1-a). Both families are
    # searched; the plain one at a = 0 is s = 1 (RTN), so the result never loses to RTN.
    wg = grouped(w.abs(), group_size)
    w_mean = (wg / wg.amax(-1, keepdim=True).clamp(min=1e-8)).flatten(1)[:, : w.shape[1]].mean(0)
    best, best_s = float("inf"), torch.ones_like(x_mean)
    for duo, i in [(d, i) for d in (False, True) for i in range(n_grid)]:
        alpha = i / n_grid
        s = x_mean.pow(alpha)
        if duo:
            s = s / (w_mean.pow(1 - alpha) + 1e-4)
        s = s.clamp(min=1e-4)
        s = s / (s.max() * s.min()).sqrt()
        wq = fake_quant_groups(w * s, bits, group_size) / s
        loss = (block(list(wq.split(rows))) - ref).pow(2).mean().item()
        if loss < best:
            best, best_s = loss, s
    return best_s


def search_clip(
    w: Tensor,
    x: Tensor,
    bits: int,
    group_size: int,
    n_grid: int = 20,
    max_shrink: float = 0.5,
    rows: int = 256,
) -> Tensor:
    """Per-group range shrink factor [out, groups] minimising each group's output error."""
    w, x = w.float(), x.float()
    xg = grouped(x, group_size)  # [tokens, groups, gs]
    out = w.shape[0]
    best_clip = torch.ones(out, xg.shape[1])
    for r0 in range(0, out, rows):
        wr = w[r0 : r0 + rows]
        wg = grouped(wr, group_size)
        ref = torch.einsum("ogk,ngk->ong", wg, xg)
        best_err = torch.full(best_clip[r0 : r0 + rows].shape, float("inf"))
        for i in range(int(max_shrink * n_grid)):
            ratio = 1 - i / n_grid
            clip = torch.full_like(best_err, ratio)
            q = grouped(fake_quant_groups(wr, bits, group_size, clip=clip), group_size)
            err = (torch.einsum("ogk,ngk->ong", q, xg) - ref).pow(2).mean(1)
            better = err < best_err
            best_err = torch.where(better, err, best_err)
            best_clip[r0 : r0 + rows] = torch.where(better, clip, best_clip[r0 : r0 + rows])
    return best_clip


def apply_clip(w: Tensor, clip: Tensor, group_size: int) -> Tensor:
    """`w` with each group clamped to its shrunk range, so RTN's grid is the searched one."""
    out, k = w.shape
    g = grouped(w.float(), group_size)
    lo = g.amin(-1).clamp(max=0) * clip
    hi = g.amax(-1).clamp(min=0) * clip
    g = torch.maximum(torch.minimum(g, hi[..., None]), lo[..., None])
    return g.reshape(out, -1)[:, :k]
