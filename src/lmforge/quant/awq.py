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

Where the error is linear in the weights (a linear's own output, each clip group's share of
it) it is computed from the inputs' Gram matrix, mean ||(W' - W) x||^2 = tr(D G D^T) with
G = X^T X / n: the same loss at a cost independent of the number of calibration tokens, which
is what lets the searches score every token on a CPU.
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
    x_mean: Tensor | None = None,
) -> Tensor:
    """Best per-input-channel scale s [in] for the linears `weights` (each [out_i, in]) on
    activations `x` [tokens, in]. `block` maps candidate weights (same shapes) to the output the
    error is measured on; by default the linears' own outputs on `x`. `x_mean`: mean|x| per
    channel over more tokens than `x` (default: over `x`)."""
    w = torch.cat([t.float() for t in weights])
    x = x.float()
    rows = [t.shape[0] for t in weights]
    if block is None:  # the linears' own outputs: mean ||(W' - W) x||^2 from the Gram matrix
        gram = x.T @ x / x.shape[0]

        def loss_of(wq: Tensor) -> float:
            d = wq - w
            return ((d @ gram) * d).sum().item() / d.shape[0]

    else:
        ref = block([t.float() for t in weights])

        def loss_of(wq: Tensor) -> float:
            return (block(list(wq.split(rows))) - ref).pow(2).mean().item()

    if x_mean is None:
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
        loss = loss_of(fake_quant_groups(w * s, bits, group_size) / s)
        if loss < best:
            best, best_s = loss, s
    return best_s


def clip_candidates(lo: Tensor, hi: Tensor, ratio: float) -> list[tuple[Tensor, Tensor]]:
    """The two shrunk ranges tried at one ratio: both ends scaled (our first family), and
    AutoAWQ's auto_clip, the range cut to +-max|w| * ratio, which trims only the longer side
    until the ratio reaches the shorter one (an asymmetric group keeps its short side exact)."""
    m = torch.maximum(-lo, hi) * ratio
    return [(lo * ratio, hi * ratio), (torch.maximum(lo, -m), torch.minimum(hi, m))]


def search_clip(
    w: Tensor,
    x: Tensor,
    bits: int,
    group_size: int,
    n_grid: int = 20,
    max_shrink: float = 0.5,
    rows: int = 256,
) -> tuple[Tensor, Tensor]:
    """Per-group clipped range (lo, hi), each [out, groups], minimising each group's error on
    the layer output (sum over its columns of w x, mean squared over the tokens of `x`), as
    d^T G d per group with G the group's input Gram matrix over the tokens."""
    w, x = w.float(), x.float()
    xg = grouped(x, group_size)  # [tokens, groups, gs]
    gram = torch.einsum("ngk,ngl->gkl", xg, xg) / x.shape[0]  # [groups, gs, gs]
    wg_all = grouped(w, group_size)
    lo_all = wg_all.amin(-1).clamp(max=0)
    hi_all = wg_all.amax(-1).clamp(min=0)
    best_lo, best_hi = lo_all.clone(), hi_all.clone()
    for r0 in range(0, w.shape[0], rows):
        part = slice(r0, r0 + rows)
        wr, lo, hi = w[part], lo_all[part], hi_all[part]
        best_err = torch.full(lo.shape, float("inf"), device=lo.device)
        for i in range(int(max_shrink * n_grid)):
            for c_lo, c_hi in clip_candidates(lo, hi, 1 - i / n_grid):
                q = grouped(
                    fake_quant_groups(wr, bits, group_size, bounds=(c_lo, c_hi)), group_size
                )
                d = q - wg_all[part]  # [rows, groups, gs]
                err = (torch.einsum("ogk,gkl->ogl", d, gram) * d).sum(-1)
                better = err < best_err
                best_err = torch.where(better, err, best_err)
                best_lo[part] = torch.where(better, c_lo, best_lo[part])
                best_hi[part] = torch.where(better, c_hi, best_hi[part])
    return best_lo, best_hi


def apply_clip(w: Tensor, bounds: tuple[Tensor, Tensor], group_size: int) -> Tensor:
    """`w` with each group clamped to its searched range (lo, hi), so RTN's grid is that one."""
    out, k = w.shape
    lo, hi = bounds
    g = grouped(w.float(), group_size)
    g = torch.maximum(torch.minimum(g, hi[..., None]), lo[..., None])
    return g.reshape(out, -1)[:, :k]
