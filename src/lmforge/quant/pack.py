"""The int32 tensor layouts of AutoAWQ ("gemm") and GPTQ (AutoGPTQ / GPTQModel) checkpoints.

GPTQ: `qweight` [in*bits/32, out] holds codes packed along the input dimension as one
little-endian bit stream (code k at bit k*bits, 3-bit codes straddling words, exactly as
AutoGPTQ's packer lays them); `qzeros` [groups, out*bits/32] packs along the output dimension;
`scales` [groups, out] fp16; `g_idx` [in] int32. checkpoint_format "gptq" (v1) stores zero-1 and
kernels add 1 back, so a zero of 0 cannot be stored: asymmetric results are written as
"gptq_v2", which stores the zero itself.
AWQ gemm: `qweight` [in, out/8] and `qzeros` [in/group, out/8] pack 4-bit codes along the output
dimension in the interleaved order 0,2,4,6,1,3,5,7; `scales` [in/group, out] fp16. No g_idx, so
groups are contiguous and must divide in_features.
"""

import torch
from torch import Tensor

from lmforge.errors import LMForgeError
from lmforge.quant.grid import QuantizedWeight

AWQ_ORDER = [0, 2, 4, 6, 1, 3, 5, 7]
AWQ_INVERSE = [0, 4, 1, 5, 2, 6, 3, 7]


def pack_bits(values: Tensor, bits: int) -> Tensor:
    """Pack codes [..., n] into int32 words [..., n*bits/32] as a little-endian bit stream."""
    n = values.shape[-1]
    assert (n * bits) % 32 == 0, (n, bits)
    v = values.to(torch.int64)
    if 32 % bits == 0:  # whole codes per word: a shift and a sum, no scatter
        per = 32 // bits
        shifts = torch.arange(per) * bits
        words = (v.reshape(*v.shape[:-1], n // per, per) << shifts).sum(-1)
        return (words - ((words >> 31) << 32)).to(torch.int32)
    pos = torch.arange(n) * bits
    word, off = pos // 32, pos % 32
    words = torch.zeros(*v.shape[:-1], n * bits // 32, dtype=torch.int64)
    words.index_add_(-1, word, (v << off) & 0xFFFFFFFF)
    spill = off + bits > 32
    if spill.any():
        words.index_add_(-1, word[spill] + 1, v[..., spill] >> (32 - off[spill]))
    return (words - ((words >> 31) << 32)).to(torch.int32)  # to two's complement int32


def unpack_bits(words: Tensor, bits: int, n: int) -> Tensor:
    """Inverse of pack_bits: int32 words [..., m] -> codes [..., n] (int32)."""
    w = words.to(torch.int64) & 0xFFFFFFFF
    mask = (1 << bits) - 1
    if 32 % bits == 0:
        per = 32 // bits
        v = (w[..., None] >> (torch.arange(per) * bits)) & mask
        return v.reshape(*w.shape[:-1], -1)[..., :n].to(torch.int32)
    pos = torch.arange(n) * bits
    word, off = pos // 32, pos % 32
    v = (w[..., word] >> off) & mask
    spill = off + bits > 32
    if spill.any():
        hi = (w[..., word[spill] + 1] << (32 - off[spill])) & mask
        v[..., spill] |= hi
    return v.to(torch.int32)


def gptq_tensors(q: QuantizedWeight, v2: bool) -> dict[str, Tensor]:
    out, k = q.qweight.shape
    if (k * q.bits) % 32 or (out * q.bits) % 32:
        raise LMForgeError(
            f"GPTQ format: a {out}x{k} layer at {q.bits} bits does not fill whole int32 words"
        )
    zeros = q.zeros if v2 else q.zeros - 1
    return {
        "qweight": pack_bits(q.qweight, q.bits).T.contiguous(),
        "qzeros": pack_bits(zeros & ((1 << q.bits) - 1), q.bits),
        "scales": q.scales.half(),
        "g_idx": q.g_idx.to(torch.int32),
    }


def from_gptq(t: dict[str, Tensor], bits: int, v2: bool) -> QuantizedWeight:
    scales = t["scales"].float()
    groups, out = scales.shape
    k = t["qweight"].shape[0] * 32 // bits
    codes = unpack_bits(t["qweight"].T, bits, k)
    zeros = unpack_bits(t["qzeros"], bits, out)
    if not v2:
        zeros = zeros + 1  # what v1 kernels compute, wrap-around included
    g_idx = t["g_idx"].to(torch.int32) if "g_idx" in t else None
    if g_idx is None:
        g_idx = (torch.arange(k) // -(-k // groups)).to(torch.int32)
    return QuantizedWeight(codes, scales, zeros, g_idx, bits)


def awq_compatible(q: QuantizedWeight, group_size: int) -> str | None:
    """Why `q` cannot be written as AWQ gemm, or None."""
    out, k = q.qweight.shape
    if q.bits != 4:
        return f"AWQ gemm is 4-bit only (got {q.bits})"
    if k % group_size:
        return f"in_features {k} is not a multiple of group {group_size}"
    if out % 8:
        return f"out_features {out} is not a multiple of 8"
    if not torch.equal(q.g_idx, torch.arange(k, dtype=torch.int32) // group_size):
        return "groups are not contiguous (act-order)"
    return None


def awq_tensors(q: QuantizedWeight) -> dict[str, Tensor]:
    def pack(x: Tensor) -> Tensor:  # [rows, out] along out, interleaved
        rows, out = x.shape
        return pack_bits(x.reshape(rows, out // 8, 8)[..., AWQ_ORDER].reshape(rows, out), 4)

    return {
        "qweight": pack(q.qweight.T.contiguous()),
        "qzeros": pack(q.zeros),
        "scales": q.scales.half(),
    }


def from_awq(t: dict[str, Tensor]) -> QuantizedWeight:
    def unpack(x: Tensor) -> Tensor:
        rows, words = x.shape
        v = unpack_bits(x, 4, words * 8).reshape(rows, words, 8)
        return v[..., AWQ_INVERSE].reshape(rows, words * 8)

    scales = t["scales"].float()
    codes = unpack(t["qweight"]).T.contiguous()
    k = codes.shape[1]
    group = k // scales.shape[0]
    g_idx = (torch.arange(k) // group).to(torch.int32)
    return QuantizedWeight(codes, scales, unpack(t["qzeros"]), g_idx, 4)
