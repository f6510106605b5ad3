"""Per-sequence attention for padding-free batches on machines without FlashAttention.

Padding-free training concatenates a batch's examples into one row and marks where each starts
(`cu_seq_lens_q` from TRL's collator, equivalently `position_ids` restarting at 0). FlashAttention's
varlen kernel uses those boundaries directly; PyTorch's SDPA has no varlen form, so with
`attn_implementation="sdpa"` transformers builds a block-diagonal (total x total) mask and the CPU
kernel computes every query against every key of the whole row, then masks most of it away:
8 GSM8K examples of ~150 tokens cost a 1200 x 1200 attention instead of 8 x 150 x 150.

`varlen_sdpa` runs causal SDPA once per sequence instead, so the cost is sum(L_i^2) and no mask
is built. It is registered under its own name (not instead of "sdpa"), so transformers creates
no mask for it, and it defers to the stock SDPA path for anything that is not a padding-free
training row (padded batches, generation with a cache).
"""

import itertools
from typing import Any

VARLEN = "lmforge_varlen_sdpa"


def varlen_sdpa(
    module: Any,
    query: Any,
    key: Any,
    value: Any,
    attention_mask: Any,
    dropout: float = 0.0,
    scaling: float | None = None,
    cu_seq_lens_q: Any = None,
    **kwargs: Any,
) -> tuple[Any, None]:
    """Causal SDPA per sequence of a flattened batch; (batch, seq, heads, dim) like transformers."""
    import torch
    import torch.nn.functional as F
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    if cu_seq_lens_q is None or attention_mask is not None or query.shape[0] != 1:
        return sdpa_attention_forward(
            module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs
        )
    bounds = cu_seq_lens_q.tolist()
    gqa = query.shape[1] != key.shape[1]
    outs = [
        F.scaled_dot_product_attention(
            query[:, :, s:e],
            key[:, :, s:e],
            value[:, :, s:e],
            dropout_p=dropout,
            scale=scaling,
            is_causal=True,
            enable_gqa=gqa,
        )
        for s, e in itertools.pairwise(bounds)
        if e > s
    ]
    return torch.cat(outs, dim=2).transpose(1, 2).contiguous(), None


def use_varlen_attention(model: Any) -> bool:
    """Switch `model` (PEFT-wrapped or not) to per-sequence SDPA unless it already runs a
    FlashAttention kernel (which is varlen natively); True if switched. The choice is not
    serialised into config.json, so saved checkpoints and merged models load anywhere."""
    from transformers import AttentionInterface

    AttentionInterface.register(VARLEN, varlen_sdpa)
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    current = base.config._attn_implementation or "eager"
    if "flash" in current or current == VARLEN:
        return False
    base.set_attn_implementation(VARLEN)
    return True
