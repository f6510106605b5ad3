"""Residual add + RMSNorm and SiLU x up of a batched step in one C++ call each (rowops.cpp).

torch's CPU `F.rms_norm` is six ATen ops and SiLU x up two: at a decode step of a few rows they
are nearly all dispatch (profiled on the bench workload: ~15% of the run's CPU time at 1 thread).
These calls apply where the model runs fp32 on CPU with our kernels built (the same conditions
as the fused batch-1 step, fused.py); anything else keeps torch's ops. LMFORGE_ROWOPS=0 turns
them off (A/B, tests).
"""

import os
from functools import cache

import torch
from torch import Tensor

from lmforge.engine.kernels.build import load
from lmforge.engine.kernels.ops import choose

ENV = "LMFORGE_ROWOPS"


@cache
def _isa() -> int:
    """The ISA level for these calls, 0 when they are off or unavailable (checked once)."""
    if os.environ.get(ENV, "1") == "0":
        return 0
    return choose().isa


def applies(x: Tensor) -> bool:
    """Does `x` (a step's [rows, dim] activations) take the C++ calls?"""
    return (
        x.dtype == torch.float32
        and x.device.type == "cpu"
        and x.dim() == 2
        and x.is_contiguous()
        and _isa() > 0
    )


def add_rms_norm(
    x: Tensor, weight: Tensor, eps: float, residual: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """(x + residual, RMSNorm(x + residual) * weight); without `residual`, (x, RMSNorm(x) * w).
    x, residual [rows, n] fp32 contiguous (`applies`), weight [n] fp32."""
    rows, n = x.shape
    y = torch.empty_like(x)
    xo = x
    if residual is not None:
        residual = residual.contiguous()
        xo = torch.empty_like(x)
    load()[0].lmf_add_rmsnorm(
        _isa(), x.data_ptr(), None if residual is None else residual.data_ptr(),
        weight.data_ptr(), xo.data_ptr(), y.data_ptr(), rows, n, eps, torch.get_num_threads(),
    )  # fmt: skip
    return xo, y


def silu_mul(gate_up: Tensor) -> Tensor:
    """SiLU(gate) * up of a fused [rows, 2 * inter] gate/up output -> [rows, inter]."""
    rows, two = gate_up.shape
    y = torch.empty(rows, two // 2)
    load()[0].lmf_silu_mul(
        _isa(), gate_up.data_ptr(), y.data_ptr(), rows, two // 2, torch.get_num_threads()
    )
    return y
