"""The step's multi-LoRA plan for lora.cpp's `lmf_lora`: one C++ call per projection per step.

The manager (engine/lora.py) groups the step's rows by adapter once; each wrapped projection then
passes its input, its base output and its row of the plan's table (one `LoraSeg` of 18 int64 per
adapter segment: A and B^T pointers and the parts' rank/output ranges). The table rows of an
adapter are built once at load (`seg_table`), so a step only stacks the active adapters' rows.
"""

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from lmforge.engine.kernels.build import load
from lmforge.engine.kernels.ops import choose

SEG = 18  # int64 fields of lora.cpp's `LoraSeg`: a, bt, nparts, 3 x (r0, rn, o0, on, bt)
MAX_PARTS = 3


def kernel_isa(device: torch.device, dtype: torch.dtype) -> int:
    """2 (AVX512) / 1 (AVX2) when the compiled delta applies here (CPU, fp32), else 0 (torch);
    LMFORGE_QGEMM picks the ISA or forces torch, as for the GEMMs."""
    if device.type != "cpu" or dtype != torch.float32:
        return 0
    return choose().isa


def seg_table(weights: list[Any]) -> np.ndarray:
    """[len(weights), SEG] int64: each projection's `LoraSeg` (all zero where `weights` has None,
    i.e. the adapter does not target it). `weights` items have .a, .bt and .parts (engine/lora)."""
    out = np.zeros((len(weights), SEG), dtype=np.int64)
    for m, w in enumerate(weights):
        if w is None:
            continue
        assert len(w.parts) <= MAX_PARTS and w.a.is_contiguous() and w.bt.is_contiguous()
        out[m, :3] = (w.a.data_ptr(), w.bt.data_ptr(), len(w.parts))
        for p, part in enumerate(w.parts):
            out[m, 3 + 5 * p : 8 + 5 * p] = part
    return out


@dataclass(slots=True)
class Plan:
    """This step's rows grouped by adapter and every projection's segment table."""

    isa: int
    rows: Tensor  # int64 row ids, adapter by adapter
    seg: Tensor  # int64 [S + 1]: segment s is rows[seg[s] : seg[s + 1]]
    table: Tensor  # int64 [projections, S, SEG]
    keep: list[Any]  # the adapters whose weights the table points at

    @classmethod
    def build(cls, isa: int, groups: list[tuple[Any, list[int]]]) -> "Plan":
        """`groups`: (adapter with a `.table` from seg_table, its rows) per adapter."""
        rows = [i for _, idx in groups for i in idx]
        seg = np.cumsum([0] + [len(idx) for _, idx in groups])
        table = np.ascontiguousarray(np.stack([a.table for a, _ in groups], 1))
        return cls(
            isa, torch.tensor(rows), torch.from_numpy(seg), torch.from_numpy(table),
            [a for a, _ in groups],
        )  # fmt: skip

    def apply(self, module: int, x: Tensor, y: Tensor) -> Tensor:
        """y [N, out] (the base output, fp32) += each row's adapter delta for projection
        `module`; returns y (a contiguous copy first if it was not)."""
        x = x if x.is_contiguous() else x.contiguous()
        y = y if y.is_contiguous() else y.contiguous()
        s = self.seg.shape[0] - 1
        load()[0].lmf_lora(
            self.isa, x.data_ptr(), x.shape[-1], y.data_ptr(), y.shape[-1], self.rows.data_ptr(),
            self.seg.data_ptr(), self.table.data_ptr() + module * s * SEG * 8, s,
            torch.get_num_threads(),
        )  # fmt: skip
        return y
