"""Which GEMM path the quantized linears take, and the calls into the compiled kernels.

The kernels quantize each activation row to int8 in blocks of 32 (fp32 scale per block, like
llama.cpp's Q8_0 activations), so their results differ from a float matmul by that rounding
(~0.3% relative per layer); tests check them against exactly that reference.
"""

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache

import torch
from torch import Tensor

from lmforge.engine.kernels.build import load
from lmforge.errors import LMForgeError

ENV = "LMFORGE_QGEMM"
ISAS = {"avx512-vnni": 2, "avx2": 1}
CHOICES = ("auto", *ISAS, "torch")


@dataclass(slots=True, frozen=True)
class QGemm:
    """The chosen path: `isa` 2/1 for our kernels, 0 for torch's; `reason` is printed."""

    name: str
    isa: int
    reason: str

    @property
    def ours(self) -> bool:
        return self.isa > 0


@cache
def _choose(force: str) -> QGemm:
    if force not in CHOICES:
        raise LMForgeError(f"{ENV} must be one of {', '.join(CHOICES)}, got {force!r}")
    if force == "torch":
        return QGemm("torch", 0, f"forced by {ENV}")
    dll, why = load()
    if dll is None:
        print(f"lmforge: int8/int4 use torch's kernels: {why}")
        return QGemm("torch", 0, why)
    have = dll.lmf_isa()
    if force == "auto":
        if have == 0:
            return QGemm("torch", 0, "CPU has neither AVX512-VNNI nor AVX2+FMA")
        name = "avx512-vnni" if have == 2 else "avx2"
        return QGemm(name, have, "detected")
    if ISAS[force] > have:
        raise LMForgeError(f"{ENV}={force}: this CPU lacks it (it has isa level {have})")
    return QGemm(force, ISAS[force], f"forced by {ENV}")


def choose(force: str | None = None) -> QGemm:
    """The path for this process (`force` or LMFORGE_QGEMM, else detect)."""
    return _choose(force or os.environ.get(ENV, "") or "auto")


def _ptr(t: Tensor | None) -> int | None:
    return None if t is None else t.data_ptr()


def _rows(x: Tensor) -> Tensor:
    """x as contiguous fp32 rows, without a copy when it already is (the usual case)."""
    x2 = x.reshape(-1, x.shape[-1])
    if x2.dtype != torch.float32 or not x2.is_contiguous():
        x2 = x2.float().contiguous()
    return x2


def bind_int8(
    q: QGemm, w: Tensor, scales: Tensor, bias: Tensor | None, n: int, k: int
) -> Callable[[Tensor], Tensor]:
    """A layer's call: x [M, K] -> y [M, n] fp32, with its weight pointers bound once (a
    batch-1 decode makes ~120 of these calls per token, so per-call Python is kept to this)."""
    fn, isa, wp, sp, bp = (
        load()[0].lmf_int8_gemm,
        q.isa,
        w.data_ptr(),
        scales.data_ptr(),
        _ptr(bias),
    )
    keep = (w, scales, bias)  # the pointers stay valid while the closure lives

    def call(x: Tensor) -> Tensor:
        x = _rows(x)
        y = torch.empty(x.shape[0], n)
        fn(isa, x.data_ptr(), x.shape[0], k, wp, sp, bp, y.data_ptr(), n, torch.get_num_threads())
        return y

    call.keep = keep  # type: ignore[attr-defined]
    return call


def bind_int4(
    q: QGemm, w: Tensor, sc: Tensor, mn: Tensor, group: int, bias: Tensor | None, n: int, k: int
) -> Callable[[Tensor], Tensor]:
    """As bind_int8, for group-wise int4 (pack.pack_int4 codes, fp16 scales and minimums)."""
    fn, isa, wp, bp = load()[0].lmf_int4_gemm, q.isa, w.data_ptr(), _ptr(bias)
    sp, mp = sc.data_ptr(), mn.data_ptr()
    keep = (w, sc, mn, bias)

    def call(x: Tensor) -> Tensor:
        x = _rows(x)
        y = torch.empty(x.shape[0], n)
        nt = torch.get_num_threads()
        fn(isa, x.data_ptr(), x.shape[0], k, wp, sp, mp, group, bp, y.data_ptr(), n, nt)
        return y

    call.keep = keep  # type: ignore[attr-defined]
    return call


def dequant(
    w: Tensor,
    n: int,
    k: int,
    dtype: torch.dtype,
    scales: Tensor | None = None,
    gscale: Tensor | None = None,
    gmin: Tensor | None = None,
    group: int = 0,
) -> Tensor:
    """Dense [n, k] weights (fp32 or bf16) from packed int8 (`scales`) or int4 (`gscale`, `gmin`,
    `group`) codes, in one C++ pass: the many-row path's input to a dense matmul."""
    assert dtype in (torch.float32, torch.bfloat16), dtype
    out = torch.empty(n, k, dtype=dtype)
    load()[0].lmf_dequant(
        w.data_ptr(), _ptr(scales), _ptr(gscale), _ptr(gmin), group, n, k, out.data_ptr(),
        int(dtype == torch.bfloat16), torch.get_num_threads(),
    )  # fmt: skip
    return out


@contextmanager
def int4_batch_rows(rows: int) -> Iterator[None]:
    """Within the block, int4 GEMMs of >= `rows` rows take the many-row VNNI kernel (qbatch.cpp)
    and smaller ones the per-4-row kernel: tests force either path on the same input."""
    dll = load()[0]
    old = dll.lmf_i4_batch_rows(rows)
    try:
        yield
    finally:
        dll.lmf_i4_batch_rows(old)
