"""The integer grid every method shares: asymmetric or symmetric, group-wise along the input.

Same definition as GPTQ's reference quantizer (and the checkpoint formats): per group a scale
and an integer zero point in [0, 2^bits - 1], `w ~ scale * (q - zero)`. The range always
includes 0 so the zero point is an integer in range, which AutoAWQ's and GPTQ's packed qzeros
require. A last group may be shorter than `group_size` (in_features 576 at group 128): GPTQ's
`g_idx` format expresses it directly.
"""

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(slots=True)
class QuantizedWeight:
    """One linear's result: integer codes and the grid, in the checkpoint formats' terms.

    qweight [out, in] int32 codes; scales/zeros [groups, out]; g_idx [in]: the group of each
    input column (not monotone when GPTQ quantized in act-order).
    """

    qweight: Tensor
    scales: Tensor
    zeros: Tensor
    g_idx: Tensor
    bits: int

    def dequantize(self) -> Tensor:
        """Float weight [out, in] exactly as the kernels compute it."""
        idx = self.g_idx.long()
        s = self.scales.T[:, idx]  # [out, in]
        z = self.zeros.T[:, idx]
        return s * (self.qweight - z).float()


def grid_params(w: Tensor, bits: int, sym: bool) -> tuple[Tensor, Tensor]:
    """Scale and zero for each row of `w` [rows, k] (a group): both [rows]."""
    maxq = 2**bits - 1
    lo = w.amin(-1).clamp(max=0)
    hi = w.amax(-1).clamp(min=0)
    if sym:
        hi = torch.maximum(lo.abs(), hi)
        lo = -hi
    scale = (hi - lo) / maxq
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))  # all-zero group
    scale = scale.half().float()  # checkpoints store fp16 scales: quantize with those exactly
    if sym:
        zero = torch.full_like(scale, (maxq + 1) // 2)
    else:
        zero = torch.round(-lo / scale).clamp(0, maxq)
    return scale, zero


def quantize_codes(w: Tensor, scale: Tensor, zero: Tensor, bits: int) -> Tensor:
    """Integer codes of `w` [rows, k] on the grid (scale, zero broadcast over k)."""
    maxq = 2**bits - 1
    return torch.clamp(torch.round(w / scale[:, None]) + zero[:, None], 0, maxq)


def fake_quant(w: Tensor, scale: Tensor, zero: Tensor, bits: int) -> Tensor:
    return scale[:, None] * (quantize_codes(w, scale, zero, bits) - zero[:, None])


def num_groups(in_features: int, group_size: int) -> int:
    return -(-in_features // group_size)


def rtn(w: Tensor, bits: int, group_size: int, sym: bool = False) -> QuantizedWeight:
    """Round-to-nearest over contiguous groups: the baseline, and AWQ's final step."""
    w = w.float()
    out, k = w.shape
    codes = torch.empty(out, k, dtype=torch.int32)
    scales, zeros = [], []
    for g0 in range(0, k, group_size):
        part = w[:, g0 : g0 + group_size]
        s, z = grid_params(part, bits, sym)
        codes[:, g0 : g0 + group_size] = quantize_codes(part, s, z, bits).to(torch.int32)
        scales.append(s)
        zeros.append(z)
    g_idx = torch.arange(k, dtype=torch.int32) // group_size
    return QuantizedWeight(
        codes, torch.stack(scales), torch.stack(zeros).to(torch.int32), g_idx, bits
    )


def grouped(w: Tensor, group_size: int) -> Tensor:
    """[out, in] -> [out, groups, group_size], zero-padding a short last group (a zero never
    changes a group's range, which always includes 0)."""
    out, k = w.shape
    pad = num_groups(k, group_size) * group_size - k
    if pad:
        w = torch.nn.functional.pad(w, (0, pad))
    return w.reshape(out, -1, group_size)


def fake_quant_groups(
    w: Tensor,
    bits: int,
    group_size: int,
    sym: bool = False,
    bounds: tuple[Tensor, Tensor] | None = None,
) -> Tensor:
    """Quantize-dequantize `w` [out, in] group-wise in one shot; `bounds` (lo, hi), each
    [out, groups], clamp each group to a shrunk range first (AWQ's clipping search)."""
    out, k = w.shape
    g = grouped(w.float(), group_size)
    lo, hi = g.amin(-1).clamp(max=0), g.amax(-1).clamp(min=0)
    if bounds is not None:
        lo, hi = bounds
    g = torch.maximum(torch.minimum(g, hi[..., None]), lo[..., None])
    flat = g.reshape(-1, group_size)
    s, z = grid_params(flat, bits, sym)
    return fake_quant(flat, s, z, bits).reshape(out, -1)[:, :k]
