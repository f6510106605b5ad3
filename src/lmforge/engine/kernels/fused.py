"""The fused batch-1 decode step (decode.cpp `lmf_decode`): a whole token in one C++ call.

At batch 1 the torch path runs ~20 small ATen ops per layer around its matmuls (norms, RoPE,
K/V writes and gathers, SDPA, SiLU, residuals: 5-15 us each, ~600 per token on the default
model). `FusedDecode` binds every layer's weights and KV cache pointers once; a step then passes
the token's embedding, position and block table. It applies only where its math is the plain
model's: one decode token of a sequence without a LoRA adapter or speculative drafts, fp32
weights/activations, an fp32 or int8 KV cache (int8: codes and per-token scales read in place,
the dequantize folded into the scores and weights), projections that are fp32 `nn.Linear`s or
our own int8/int4 layers. Everything else (batches, prefill, adapters, verification, bf16, fp8
KV) takes the torch path. LMFORGE_FUSED=0 turns it off (A/B benchmarks, tests).
"""

import mmap
import os

import torch
from torch import Tensor, nn

from lmforge.engine.kernels.build import load
from lmforge.engine.kernels.ops import choose
from lmforge.engine.kernels.paged import dims_tensor, kv_ok, kv_ptrs
from lmforge.engine.quant import Int4Linear, Int8Linear

ENV = "LMFORGE_FUSED"
LIN = 8  # int64 fields of decode.cpp's `Lin`
LAYER = 4 * LIN + 6  # `Layer`: qkv, o, gu, down, then ln1, ln2, kc, vc, ks, vs


HUGE = 2 << 20  # a transparent huge page


def huge_arena(tensors: list[Tensor]) -> list[Tensor]:
    """Copies of `tensors` laid end to end in one anonymous mapping advised for transparent huge
    pages (where the kernel allows it). With 4 KiB pages a weight stream pays a TLB walk and a
    restarted hardware prefetch every 4 KiB: measured here 12-17 GB/s for a plain read of the
    int8 weights vs 32-33 GB/s on 2 MiB pages, and 11.5 vs 17.4 GB/s through the int8 GEMV. The
    mapping lives as long as any returned tensor (torch.frombuffer keeps it)."""
    sizes = [(t.numel() * t.element_size() + 4095) // 4096 * 4096 for t in tensors]
    flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS  # private: shared memory gets no THP here
    mm = mmap.mmap(-1, sum(sizes) + HUGE, flags=flags)
    if hasattr(mmap, "MADV_HUGEPAGE"):
        mm.madvise(mmap.MADV_HUGEPAGE)
    buf = torch.frombuffer(mm, dtype=torch.uint8)
    at = -buf.data_ptr() % HUGE
    out = []
    for t, n in zip(tensors, sizes, strict=True):
        nbytes = t.numel() * t.element_size()
        view = buf[at : at + nbytes].view(t.dtype).view(t.shape)
        view.copy_(t)
        out.append(view)
        at += n
    return out


def _move_weights(model: nn.Module) -> None:
    """Put every projection's weights (in the order a token reads them) into one huge-page arena;
    the modules then point at the copies, so the torch path reads them too and nothing is kept
    twice. nn.Linear weights move through `.data` (a tied head moves with the embedding)."""
    mods = []
    for layer in model.layers:
        a, m = layer.self_attn, layer.mlp
        mods += [a.qkv_proj, a.o_proj, m.gate_up_proj, m.down_proj]
    mods = [getattr(m, "base", m) for m in [*mods, model.lm_head]]
    quant = [isinstance(m, Int8Linear | Int4Linear) for m in mods]
    tensors = [m.packed if q else m.weight.data for m, q in zip(mods, quant, strict=True)]
    for m, q, t in zip(mods, quant, huge_arena(tensors), strict=True):
        if q:
            m.packed = t
            m.rebind()
        else:
            m.weight.data = t


def _ptr(t: Tensor | None) -> int:
    return 0 if t is None else t.data_ptr()


class FusedDecode:
    """One model's bound step; `build` returns it, or None and why it cannot apply."""

    def __init__(self, model: nn.Module, kv: list, block_size: int, isa: int) -> None:
        s = model.spec
        self.isa, self.block_size, self.vocab = isa, block_size, s.vocab_size
        _move_weights(model)
        self.keep: list[Tensor] = []  # tensors whose pointers are bound (float bias copies)
        rows = []
        for layer, (kc, vc) in zip(model.layers, kv, strict=True):
            a, m = layer.self_attn, layer.mlp
            row = [*self._lin(a.qkv_proj), *self._lin(a.o_proj)]
            row += [*self._lin(m.gate_up_proj), *self._lin(m.down_proj)]
            norms = (layer.input_layernorm.weight, layer.post_attention_layernorm.weight)
            rows.append([*row, _ptr(norms[0]), _ptr(norms[1]), *kv_ptrs(kc, vc)])
        self.layers = torch.tensor(rows, dtype=torch.int64)
        assert self.layers.shape[1] == LAYER
        self.head = torch.tensor(self._lin(model.lm_head), dtype=torch.int64)
        self.norm = model.norm.weight
        self.dims = dims_tensor(s, block_size)
        self.embed, self.cos, self.sin = model.embed_tokens.weight, model.cos, model.sin
        self.row_bytes = self.cos.shape[1] * 4
        self.fn = load()[0].lmf_decode
        self.model = model  # keeps every bound weight and cache alive

    def _lin(self, mod: nn.Module) -> list[int]:
        mod = getattr(mod, "base", mod)  # a LoRA wrapper: the base projection (no adapter here)
        bias = None if mod.bias is None else mod.bias.detach().float().contiguous()
        if bias is not None:
            self.keep.append(bias)
        b = _ptr(bias)
        if isinstance(mod, Int8Linear):
            return [1, _ptr(mod.packed), _ptr(mod.scales), 0, b, mod.out_features, _k(mod), 0]
        if isinstance(mod, Int4Linear):
            w, g = mod.packed, mod.group_size
            return [2, _ptr(w), _ptr(mod.gscale), _ptr(mod.gmin), b, mod.out_features, _k(mod), g]
        w = mod.weight
        return [0, _ptr(w), 0, 0, b, w.shape[0], w.shape[1], 0]

    @classmethod
    def build(cls, model: nn.Module, kv: list, block_size: int) -> "tuple[FusedDecode | None, str]":
        """(step, "") or (None, why the fused step does not apply to this model)."""
        why = why_not(model, kv)
        if why:
            return None, why
        return cls(model, kv, block_size, choose().isa), ""

    def step(self, token: int, pos: int, blocks: list[int], logits: bool) -> Tensor:
        """Compute position `pos` of a sequence whose K/V for [0, pos) are in `blocks`; write
        its K/V; return its logits [1, vocab] (or [0, vocab] when the step reads no row)."""
        x = self.embed[token].clone()
        out = torch.empty(1 if logits else 0, self.vocab)
        table = torch.tensor(blocks[: pos // self.block_size + 1], dtype=torch.int64)
        at = pos * self.row_bytes
        self.fn(
            self.isa, self.dims.data_ptr(), self.layers.data_ptr(),
            self.head.data_ptr() if logits else None, self.norm.data_ptr(), x.data_ptr(),
            self.cos.data_ptr() + at, self.sin.data_ptr() + at, pos, table.data_ptr(),
            out.data_ptr(), torch.get_num_threads(),
        )  # fmt: skip
        return out


def _k(mod: Int8Linear | Int4Linear) -> int:
    return mod.packed.shape[1] * (4 if isinstance(mod, Int8Linear) else 32)


def _usable(mod: nn.Module, isa: int) -> bool:
    mod = getattr(mod, "base", mod)
    if isinstance(mod, Int8Linear | Int4Linear):
        return mod.gemm is not None and mod.gemm.isa == isa
    w = getattr(mod, "weight", None)
    return type(mod) is nn.Linear and w.dtype == torch.float32 and w.is_contiguous()


def why_not(model: nn.Module, kv: list) -> str:
    """Why the fused step cannot run this model here ("" when it can)."""
    if os.environ.get(ENV, "1") == "0":
        return f"off ({ENV}=0)"
    gemm = choose()
    if not gemm.ours:
        return f"own kernels unavailable ({gemm.reason})"
    s, emb = model.spec, model.embed_tokens.weight
    if emb.device.type != "cpu" or emb.dtype != torch.float32:
        return f"needs fp32 on CPU (model is {emb.dtype} on {emb.device.type})"
    if not all(kv_ok(c) for pair in kv for c in pair):
        return "needs an fp32 or int8 KV cache (fp8 KV takes the torch path)"
    if s.num_heads % s.num_kv_heads or s.head_dim % 2:
        return "head layout not supported"
    mods = [model.lm_head]
    for layer in model.layers:
        mods += [layer.self_attn.qkv_proj, layer.self_attn.o_proj]
        mods += [layer.mlp.gate_up_proj, layer.mlp.down_proj]
    if not all(_usable(m, gemm.isa) for m in mods):
        return "a projection is neither fp32 nor on our int8/int4 kernels"
    return ""
