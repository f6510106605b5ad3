"""Batched decode attention straight from the paged KV cache: one C++ call per layer.

The torch path (attention.py) splits a step's decode rows into groups of similar context length
and, per group and layer, gathers the group's blocks into a padded K/V copy for one SDPA call.
On the bench's 64-request workload that is ~10 groups, i.e. ~300 SDPA calls and ~0.9 GB of
fp32 K/V copied per decode step at 64 rows: most of a decode step that is not matmul.
`PagedAttention` runs every decode row over its own block table instead
(batch_attention.cpp: the fused batch-1 step's attention, one row per sequence), reading K/V in
place: no copy, no padding, no grouping. It applies where that kernel's math is the model's:
CPU, fp32 activations, an fp32 or int8 KV cache (the fused step's conditions, fused.py); other
setups (bf16, fp8 KV, CUDA) keep the torch path. LMFORGE_PAGED=0 turns it off (A/B, tests).
"""

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from lmforge.engine.kernels.build import load
from lmforge.engine.kernels.ops import choose
from lmforge.engine.kv_cache import Cache, QuantKV

if TYPE_CHECKING:  # llama.py imports attention.py, which reads PagedRows: no runtime cycle
    from lmforge.engine.llama import ModelSpec

ENV = "LMFORGE_PAGED"


def dims_tensor(s: "ModelSpec", block_size: int) -> Tensor:
    """decode.cpp's `Dims` (9 int64 fields, then eps as a float64) for a model."""
    dims = [s.num_layers, s.hidden_size, s.intermediate_size, s.num_heads, s.num_kv_heads]
    dims += [s.head_dim, block_size, s.sliding_window or 0, s.vocab_size, 0]
    t = torch.tensor(dims, dtype=torch.int64)
    t[-1:].view(torch.float64)[0] = s.rms_norm_eps
    return t


def kv_ptrs(kc: Cache, vc: Cache) -> tuple[int, int, int, int]:
    """A layer's kc, vc, ks, vs: fp32 rows and null scales, or int8 codes and fp16 scales."""
    if isinstance(kc, QuantKV) and isinstance(vc, QuantKV):
        return kc.codes.data_ptr(), vc.codes.data_ptr(), kc.scale.data_ptr(), vc.scale.data_ptr()
    assert isinstance(kc, Tensor) and isinstance(vc, Tensor)
    return kc.data_ptr(), vc.data_ptr(), 0, 0


def kv_ok(c: object) -> bool:
    """A cache the C++ attention reads: fp32 rows, or int8 codes read back as fp32."""
    if isinstance(c, QuantKV):
        return c.kind == "int8" and c.dtype == torch.float32
    return isinstance(c, Tensor) and c.dtype == torch.float32


@dataclass(slots=True)
class PagedRows:
    """A step's decode rows (flat tokens [0, rows)) for the kernel: tables [rows, width] block
    ids (padded with 0 past each row's own), lens [rows] positions each row attends."""

    kernel: "PagedAttention"
    rows: int
    tables: Tensor
    lens: Tensor


class PagedAttention:
    """The bound kernel of one model (dims, ISA); `__call__` runs one layer's decode rows."""

    def __init__(self, spec: "ModelSpec", block_size: int, isa: int) -> None:
        self.isa, self.block_size = isa, block_size
        self.heads, self.head_dim = spec.num_heads, spec.head_dim
        self.dims = dims_tensor(spec, block_size)
        self.fn = load()[0].lmf_batch_attention

    @classmethod
    def build(
        cls, spec: "ModelSpec", kv: list, block_size: int, device: torch.device, dtype: torch.dtype
    ) -> "tuple[PagedAttention | None, str]":
        """(kernel, "") or (None, why the torch path stays)."""
        if os.environ.get(ENV, "1") == "0":
            return None, f"off ({ENV}=0)"
        if device.type != "cpu" or dtype != torch.float32:
            return None, f"needs fp32 on CPU ({dtype} on {device.type})"
        gemm = choose()
        if not gemm.ours:
            return None, f"own kernels unavailable ({gemm.reason})"
        if not all(kv_ok(c) for pair in kv for c in pair):
            return None, "needs an fp32 or int8 KV cache"
        if spec.num_heads % spec.num_kv_heads:
            return None, "head layout not supported"
        return cls(spec, block_size, gemm.isa), ""

    def rows(self, tables: list[list[int]], lens: list[int]) -> PagedRows:
        """One step's decode rows from their block tables and context lengths."""
        width = max(len(t) for t in tables)
        padded = [t + [0] * (width - len(t)) for t in tables]
        t = torch.tensor(padded, dtype=torch.int64)
        return PagedRows(self, len(lens), t, torch.tensor(lens, dtype=torch.int64))

    def __call__(self, q: Tensor, kc: Cache, vc: Cache, p: PagedRows) -> Tensor:
        """q [rows, heads, head_dim] (K/V of these rows already written) -> [rows, heads, d]."""
        if q.stride(2) != 1 or q.stride(1) != self.head_dim or q.dtype != torch.float32:
            q = q.float().contiguous()
        out = torch.empty(p.rows, self.heads, self.head_dim)
        k, v, ks, vs = kv_ptrs(kc, vc)
        self.fn(
            self.isa, self.dims.data_ptr(), q.data_ptr(), q.stride(0), p.rows, k, v, ks or None,
            vs or None, p.tables.data_ptr(), p.tables.shape[1], p.lens.data_ptr(),
            out.data_ptr(), torch.get_num_threads(),
        )  # fmt: skip
        return out
