"""GPTQ (Frantar et al., 2022): quantize one column at a time and push its rounding error onto
the columns not yet quantized, weighted by the inverse Hessian of the layer's squared error.

For a linear layer with calibration inputs X the error ||WX - QX||^2 has Hessian H = 2XX^T.
Columns are processed in blocks ("lazy batch" updates) with the upper Cholesky factor of H^-1,
as in the paper's Algorithm 1. Options from the reference implementation: act-order (columns in
decreasing diag(H), the order that matters most for outliers), relative damping of the diagonal
(numerical stability of the Cholesky), groups whose grid is fixed when their first column comes.
"""

import torch
from torch import Tensor

from lmforge.errors import LMForgeError
from lmforge.quant.grid import QuantizedWeight, grid_params, num_groups, quantize_codes


class Hessian:
    """Running H = 2/n sum x x^T over calibration tokens of one linear's input."""

    __slots__ = ("h", "n")

    def __init__(self, in_features: int) -> None:
        self.h = torch.zeros(in_features, in_features, dtype=torch.float64)
        self.n = 0

    def add(self, x: Tensor) -> None:
        x = x.reshape(-1, x.shape[-1]).float()
        m = x.shape[0]
        self.h *= self.n / (self.n + m)
        self.n += m
        x = x * (2.0 / self.n) ** 0.5
        self.h += (x.T @ x).double()  # fp32 matmul (fast), fp64 running sum (exact enough)


def gptq(
    weight: Tensor,
    hessian: Tensor,
    bits: int,
    group_size: int,
    sym: bool = True,
    act_order: bool = True,
    damp: float = 0.01,
    block_size: int = 128,
) -> QuantizedWeight:
    """Quantize `weight` [out, in] given H [in, in]; returns codes in the original column order."""
    assert block_size % group_size == 0, (block_size, group_size)
    w = weight.detach().float().clone()
    out, k = w.shape
    h = hessian.double().clone()
    dead = torch.diag(h) == 0
    h[dead, dead] = 1
    w[:, dead] = 0
    perm = torch.argsort(torch.diag(h), descending=True) if act_order else torch.arange(k)
    w, h = w[:, perm], h[perm][:, perm]
    h += damp * torch.mean(torch.diag(h)) * torch.eye(k, dtype=h.dtype)
    try:
        hinv = torch.linalg.cholesky(
            torch.cholesky_inverse(torch.linalg.cholesky(h)), upper=True
        ).float()
    except torch.linalg.LinAlgError:
        raise LMForgeError(
            f"GPTQ: the Hessian of a {out}x{k} layer is not positive definite even with "
            f"damp={damp}; raise --damp (e.g. 0.1) or use more calibration samples"
        ) from None
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the column loop is many tiny ops: thread barriers cost 10x more
    try:
        codes, scales, zeros = _columns(w, hinv, bits, group_size, sym, block_size)
    finally:
        torch.set_num_threads(threads)
    inv = torch.argsort(perm)
    g_idx = torch.empty(k, dtype=torch.int32)
    g_idx[perm] = (torch.arange(k) // group_size).to(torch.int32)
    return QuantizedWeight(codes[:, inv].contiguous(), scales, zeros.to(torch.int32), g_idx, bits)


def _columns(
    w: Tensor, hinv: Tensor, bits: int, group_size: int, sym: bool, block_size: int
) -> tuple[Tensor, Tensor, Tensor]:
    """Algorithm 1's loop over (permuted) columns; `w` is updated in place."""
    out, k = w.shape
    codes = torch.zeros(out, k, dtype=torch.int32)
    scales = torch.zeros(num_groups(k, group_size), out)
    zeros = torch.zeros_like(scales)
    for b0 in range(0, k, block_size):
        b1 = min(b0 + block_size, k)
        w1 = w[:, b0:b1].clone()
        err1 = torch.zeros_like(w1)
        hinv1 = hinv[b0:b1, b0:b1]
        for i in range(b1 - b0):
            col = b0 + i
            if col % group_size == 0:  # a group starts: fix its grid from the updated weights
                g = col // group_size
                scales[g], zeros[g] = grid_params(w1[:, i : i + group_size], bits, sym)
            g = col // group_size
            q = quantize_codes(w1[:, i : i + 1], scales[g], zeros[g], bits)[:, 0]
            codes[:, col] = q.to(torch.int32)
            deq = scales[g] * (q - zeros[g])
            e = (w1[:, i] - deq) / hinv1[i, i]
            w1[:, i:] -= e[:, None] * hinv1[i, i:][None, :]
            err1[:, i] = e
        w[:, b1:] -= err1 @ hinv[b0:b1, b1:]
    return codes, scales, zeros
