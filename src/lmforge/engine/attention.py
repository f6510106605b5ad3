"""Attention over the paged KV cache with plain torch ops (scaled_dot_product_attention).

A step's tokens are laid out flat: first one token per *decode* sequence (sequences that have
context in the cache and compute one token), then the chunks of *prefill* sequences. New K/V are
written into the cache through `slot_mapping` (block id * block_size + offset). Decodes are
batched: their blocks are gathered into a padded [B, T] K/V and masked by length; to bound the
padding they are grouped by similar context length. A prefill chunk attends to its cached prefix
(gathered from its blocks) plus itself, causally; a chunk with no prefix skips the gather.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor


@dataclass(slots=True)
class DecodeGroup:
    start: int  # first flat token index of the group
    end: int
    block_tables: Tensor  # [B, max_blocks] long
    mask: Tensor  # [B, 1, 1, max_blocks * block_size] bool, True = attend


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


def _gather(cache: Tensor, table: Tensor) -> Tensor:
    """[num_blocks, bs, KV, D] indexed by a block table [..., nb] -> [..., KV, nb*bs, D]."""
    g = cache[table]  # [..., nb, bs, KV, D]
    g = g.flatten(-4, -3)  # [..., nb*bs, KV, D]
    return g.transpose(-3, -2)


def paged_attention(
    q: Tensor, k: Tensor, v: Tensor, k_cache: Tensor, v_cache: Tensor, meta: AttnMeta
) -> Tensor:
    """q [N, H, D], k/v [N, KV, D] for this step's tokens -> attention output [N, H, D]."""
    kv_heads, head_dim = k_cache.shape[-2:]
    k_cache.view(-1, kv_heads, head_dim).index_copy_(0, meta.slot_mapping, k)
    v_cache.view(-1, kv_heads, head_dim).index_copy_(0, meta.slot_mapping, v)
    out = torch.empty_like(q)
    for g in meta.decode_groups:
        qg = q[g.start : g.end].unsqueeze(2)  # [B, H, 1, D]
        kg, vg = _gather(k_cache, g.block_tables), _gather(v_cache, g.block_tables)
        o = F.scaled_dot_product_attention(qg, kg, vg, attn_mask=g.mask, enable_gqa=True)
        out[g.start : g.end] = o.squeeze(2)
    for p in meta.prefills:
        qp = q[p.start : p.end].transpose(0, 1)  # [H, n, D]
        n = p.end - p.start
        if p.context == 0:
            kp, vp = k[p.start : p.end].transpose(0, 1), v[p.start : p.end].transpose(0, 1)
            o = F.scaled_dot_product_attention(qp, kp, vp, is_causal=True, enable_gqa=True)
        else:
            total = p.context + n
            kp = _gather(k_cache, p.block_table)[:, :total]
            vp = _gather(v_cache, p.block_table)[:, :total]
            rows = torch.arange(n, device=q.device).unsqueeze(1) + p.context
            mask = torch.arange(total, device=q.device).unsqueeze(0) <= rows
            o = F.scaled_dot_product_attention(qp, kp, vp, attn_mask=mask, enable_gqa=True)
        out[p.start : p.end] = o.transpose(0, 1)
    return out
