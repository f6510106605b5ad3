"""KV cache storage: plain tensors in the model dtype, or int8 / fp8 codes with per-token scales.

A quantized cache keeps, per layer and per K/V, codes [num_blocks, block_size, kv_heads,
head_dim] (int8, or float8_e4m3fn) and one fp16 scale per (token, head) = amax over head_dim /
qmax, so each head vector uses its own full range (keys have a few large channels per head,
which a per-tensor scale would let dominate). Tokens are quantized once, when written; attention
dequantizes the blocks it gathers into the activation dtype. The fp16 scale costs 2 bytes per
head_dim codes: 66 bytes per head vector at head_dim 64 against 128 in bf16 (1.94x) or 256 in
fp32 (3.88x).

fp8 is storage only on every device here: codes are cast back before attention, so it needs no
fp8 matmul units (on CPU the write goes through a uint8 view; torch has no CPU fp8 index_copy).
"""

from dataclasses import dataclass

import torch
from torch import Tensor

KV_DTYPES = ("auto", "int8", "fp8")
CODE_DTYPE = {"int8": torch.int8, "fp8": torch.float8_e4m3fn}
QMAX = {"int8": 127.0, "fp8": torch.finfo(torch.float8_e4m3fn).max}
SCALE_DTYPE = torch.float16
MIN_SCALE = 2.0**-14  # fp16's smallest normal: an all-zero head vector must not divide by 0


@dataclass(slots=True)
class QuantKV:
    """One layer's K (or V) cache as codes plus per-token, per-head scales."""

    kind: str  # "int8" | "fp8"
    codes: Tensor  # [num_blocks, block_size, kv_heads, head_dim]
    scale: Tensor  # [num_blocks, block_size, kv_heads, 1] fp16
    dtype: torch.dtype  # activation dtype attention reads back

    @property
    def shape(self) -> torch.Size:
        return self.codes.shape


Cache = Tensor | QuantKV


def bytes_per_token(kind: str, kv_heads: int, head_dim: int, dtype: torch.dtype) -> int:
    """Bytes one token takes in one layer's K plus V cache."""
    if kind == "auto":
        return 2 * kv_heads * head_dim * dtype.itemsize
    return 2 * kv_heads * (head_dim * CODE_DTYPE[kind].itemsize + SCALE_DTYPE.itemsize)


def allocate(kind: str, shape: tuple[int, ...], dtype: torch.dtype, device: torch.device) -> Cache:
    """A zeroed cache of `shape` [num_blocks, block_size, kv_heads, head_dim]."""
    if kind == "auto":
        return torch.zeros(shape, dtype=dtype, device=device)
    assert kind in CODE_DTYPE, kind
    codes = torch.zeros(shape, dtype=CODE_DTYPE[kind], device=device)
    scale = torch.zeros((*shape[:-1], 1), dtype=SCALE_DTYPE, device=device)
    return QuantKV(kind, codes, scale, dtype)


def quantize(kind: str, x: Tensor) -> tuple[Tensor, Tensor]:
    """x [..., head_dim] -> (codes, fp16 scale [..., 1]) with x ≈ codes * scale."""
    amax = x.detach().abs().amax(-1, keepdim=True).float()
    scale = (amax / QMAX[kind]).clamp(min=MIN_SCALE).to(SCALE_DTYPE)
    y = x.float() / scale.float()
    if kind == "int8":
        return y.round_().clamp_(-127, 127).to(torch.int8), scale
    return y.clamp_(-QMAX[kind], QMAX[kind]).to(CODE_DTYPE[kind]), scale


def write(cache: Cache, slots: Tensor, x: Tensor) -> None:
    """Store this step's x [N, kv_heads, head_dim] at flat slots (block * block_size + offset)."""
    if isinstance(cache, Tensor):
        cache.view(-1, *cache.shape[-2:]).index_copy_(0, slots, x)
        return
    codes, scale = quantize(cache.kind, x)
    flat = cache.codes.view(-1, *cache.shape[-2:])
    if cache.kind == "fp8":  # no fp8 index_copy on CPU: copy the bytes
        flat, codes = flat.view(torch.uint8), codes.view(torch.uint8)
    flat.index_copy_(0, slots, codes)
    cache.scale.view(-1, cache.shape[-2], 1).index_copy_(0, slots, scale)


def gather(cache: Cache, blocks: Tensor, rows: int, length: int) -> Tensor:
    """Blocks `blocks` ([rows * nb]) -> [rows, kv_heads, length, head_dim] in the activation dtype.

    index_select copies whole blocks (one contiguous copy each); advanced indexing
    `cache[table]` copies element by element and measured 5-12x slower (docs/engine.md).
    """
    kv_heads, head_dim = cache.shape[-2:]
    if isinstance(cache, Tensor):
        g = cache.index_select(0, blocks).view(rows, -1, kv_heads, head_dim)
        return g[:, :length].transpose(1, 2)
    c = cache.codes.index_select(0, blocks).view(rows, -1, kv_heads, head_dim)[:, :length]
    s = cache.scale.index_select(0, blocks).view(rows, -1, kv_heads, 1)[:, :length]
    return (c.to(cache.dtype) * s.to(cache.dtype)).transpose(1, 2)


def copy_block(cache: Cache, src: int, dst: int) -> None:
    if isinstance(cache, Tensor):
        cache[dst].copy_(cache[src])
        return
    cache.codes[dst].view(torch.uint8).copy_(cache.codes[src].view(torch.uint8))
    cache.scale[dst].copy_(cache.scale[src])
