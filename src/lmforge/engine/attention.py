"""Attention over the paged KV cache with plain torch ops (scaled_dot_product_attention).

A step's tokens are laid out flat: first one token per *decode* sequence (sequences that have
context in the cache and compute one token), then the chunks of *prefill* sequences. New K/V are
written into the cache through `slot_mapping` (block id * block_size + offset). Decodes are
batched: their blocks are gathered into a padded [B, T] K/V and masked by length; to bound the
padding they are grouped by similar context length. A prefill chunk attends to its cached prefix
(gathered from its blocks) plus itself, causally; a chunk with no prefix skips the gather.

The cache may be int8/fp8 codes with per-token scales (kv_cache.py): new K/V are quantized when
written and gathered blocks dequantized, while a prefill chunk with no prefix attends to its own
unquantized K/V. With a sliding window (Mistral) a token attends to itself and the `window - 1`
tokens before it, as transformers' sliding mask does.

Where the own C++ kernel applies (kernels/paged.py: CPU, fp32, fp32/int8 KV), the step's decode
rows are instead one call per layer that reads each row's blocks in place (`AttnMeta.paged`):
no groups, no gathered copy.
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor

from lmforge.engine.kv_cache import Cache, gather, write

if TYPE_CHECKING:
    from lmforge.engine.kernels.paged import PagedRows


@dataclass(slots=True)
class DecodeGroup:
    start: int  # first flat token index of the group
    end: int
    blocks: Tensor  # [B * width] long: the group's block tables, row-major, padded with block 0
    length: int  # tokens to attend per row: the longest context in the group
    mask: Tensor | None  # [B, 1, 1, length] bool, True = attend; None = attend to all


@dataclass(slots=True)
class PrefillSpan:
    start: int  # flat token range of the chunk
    end: int
    context: int  # tokens already in the cache before this chunk
    block_table: Tensor  # [n_blocks] long, covering context + chunk


@dataclass(slots=True)
class AttnMeta:
    slot_mapping: Tensor  # [N] long
    decode_groups: list[DecodeGroup]
    prefills: list[PrefillSpan]
    window: int | None = None  # sliding window (tokens attended, self included); None = all
    paged: "PagedRows | None" = None  # decode rows for the C++ kernel (then no decode_groups)


def paged_attention(
    q: Tensor, k: Tensor, v: Tensor, k_cache: Cache, v_cache: Cache, meta: AttnMeta
) -> Tensor:
    """q [N, H, D], k/v [N, KV, D] for this step's tokens -> attention output [N, H, D]."""
    write(k_cache, meta.slot_mapping, k)
    write(v_cache, meta.slot_mapping, v)
    groups, n = meta.decode_groups, q.shape[0]
    if meta.paged is not None:
        o = meta.paged.kernel(q[: meta.paged.rows], k_cache, v_cache, meta.paged)
        if not meta.prefills:
            return o
        out = torch.empty_like(q)
        out[: meta.paged.rows] = o
        return _prefills(q, k, v, k_cache, v_cache, meta, out)
    only = len(groups) == 1 and not meta.prefills and groups[0].end - groups[0].start == n
    out = None if only else torch.empty_like(q)
    for g in groups:
        rows = g.end - g.start
        kg = gather(k_cache, g.blocks, rows, g.length)
        vg = gather(v_cache, g.blocks, rows, g.length)
        qg = q[g.start : g.end].unsqueeze(2)  # [B, H, 1, D]
        o = F.scaled_dot_product_attention(qg, kg, vg, attn_mask=g.mask, enable_gqa=True)
        if out is None:  # the common pure-decode step: no scatter into a flat buffer
            return o.squeeze(2)
        out[g.start : g.end] = o.squeeze(2)
    assert out is not None
    return _prefills(q, k, v, k_cache, v_cache, meta, out)


def _prefills(
    q: Tensor, k: Tensor, v: Tensor, k_cache: Cache, v_cache: Cache, meta: AttnMeta, out: Tensor
) -> Tensor:
    """Each prefill chunk's attention into its rows of `out`: one SDPA call per chunk."""
    for p in meta.prefills:
        # 4-D [1, H, n, D]: with 3-D inputs CPU SDPA falls back to its math path (bmm,
        # softmax, mask fix-ups), measured 3.5-4x slower than the flash kernel 4-D inputs get.
        qp = q[p.start : p.end].transpose(0, 1).unsqueeze(0)
        n, w = p.end - p.start, meta.window
        if p.context == 0:
            kp = k[p.start : p.end].transpose(0, 1).unsqueeze(0)
            vp = v[p.start : p.end].transpose(0, 1).unsqueeze(0)
        if p.context == 0 and (w is None or n <= w):
            o = F.scaled_dot_product_attention(qp, kp, vp, is_causal=True, enable_gqa=True)
        else:
            total = p.context + n
            if p.context:
                kp = gather(k_cache, p.block_table, 1, total)
                vp = gather(v_cache, p.block_table, 1, total)
            rows = torch.arange(n, device=q.device).unsqueeze(1) + p.context
            cols = torch.arange(total, device=q.device).unsqueeze(0)
            mask = cols <= rows
            if w is not None:
                mask &= cols > rows - w
            o = F.scaled_dot_product_attention(qp, kp, vp, attn_mask=mask, enable_gqa=True)
        out[p.start : p.end] = o[0].transpose(0, 1)
    return out
