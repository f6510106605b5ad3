"""Start-up CPU probe: which activation dtype the weight-only int8/int4 kernels get here.

torch's `_weight_int8pack_mm` / `_weight_int4pack_mm_for_cpu` take fp32 or bf16 activations, and
which is fast depends on the machine. Measured on this project's AVX512-BF16 box (1 thread,
576 -> 3072 projection, batch 1): int4 0.29 ms with bf16 activations vs 10.7 ms with fp32, int8
0.59 vs 6.6 ms; at batch 64 the fp32-activation paths are 30-45x slower still. On CPUs without
native bf16 dot products (AVX2-only) bf16 arithmetic is emulated and dense bf16 matmuls run ~10x
slower than fp32, so there the choice must be measured, not assumed. Hence: native bf16 units
(avx512_bf16 / amx_bf16 in /proc/cpuinfo) -> bf16; otherwise a ~20 ms micro-benchmark of the
mode's own kernel at both dtypes picks the faster. `EngineConfig.cpu_kernels` or the environment
variable LMFORGE_CPU_KERNELS (`bf16` | `fp32`, used when the config says `auto`) force a path;
tests use them to cover both.
"""

import os
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import torch
from torch import Tensor

from lmforge.errors import LMForgeError

FLAGS = ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_tile")
ENV = "LMFORGE_CPU_KERNELS"
CHOICES = ("auto", "bf16", "fp32")


@dataclass(slots=True, frozen=True)
class KernelChoice:
    """What the probe decided and why (shown in the log and `LLMEngine.stats()`)."""

    act_dtype: torch.dtype
    reason: str
    flags: tuple[str, ...]

    @property
    def name(self) -> str:
        return "bf16" if self.act_dtype == torch.bfloat16 else "fp32"


@cache
def cpu_flags() -> tuple[str, ...]:
    """The SIMD features of /proc/cpuinfo that decide torch's CPU kernels (empty if unreadable)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return ()
    line = next((ln for ln in text.splitlines() if ln.startswith("flags")), "")
    have = set(line.split(":", 1)[-1].split())
    return tuple(f for f in FLAGS if f in have)


def has_native_bf16(flags: tuple[str, ...]) -> bool:
    return "avx512_bf16" in flags or "amx_bf16" in flags


def best_time(layer: torch.nn.Module, x: Tensor, reps: int = 5) -> float:
    """Best wall time of `reps` calls after one warm call: the probe's measure, shared with
    bench/engine_qgemm.py so the bench times kernels the way the dispatch chose them."""
    layer(x)
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        layer(x)
        best = min(best, time.perf_counter() - t)
    return best


def measure(mode: str, k: int = 512, n: int = 1024) -> tuple[float, float]:
    """Best-of-5 seconds of `mode`'s kernel on a decode-sized projection (batch 1 + batch 16),
    with fp32 and with bf16 activations."""
    from lmforge.engine.kernels import choose as choose_gemm
    from lmforge.engine.quant import Int4Linear, Int8Linear

    lin = torch.nn.Linear(k, n, bias=False)
    gemm = choose_gemm("torch")  # the dtype matters to torch's kernels and dense matmuls only
    q = Int8Linear(lin, gemm=gemm) if mode == "int8" else Int4Linear(lin, 32, gemm=gemm)
    out = []
    with torch.inference_mode():
        for dt in (torch.float32, torch.bfloat16):
            q.set_act_dtype(dt)
            out.append(sum(best_time(q, torch.randn(m, k)) for m in (1, 16)))
    return out[0], out[1]


def choose(mode: str, force: str = "auto") -> KernelChoice:
    """The activation dtype for `mode`'s kernels on this CPU ('none' -> the model dtype rules)."""
    if force == "auto":  # the config wins; the environment forces a path for a whole run
        force = os.environ.get(ENV, "") or "auto"
    if force not in CHOICES:
        raise LMForgeError(
            f"{ENV} / EngineConfig.cpu_kernels must be one of {', '.join(CHOICES)}, got {force!r}"
        )
    flags = cpu_flags()
    if force != "auto":
        dt = torch.bfloat16 if force == "bf16" else torch.float32
        return KernelChoice(dt, f"forced {force}", flags)
    if mode == "none":
        return KernelChoice(torch.float32, "no quantized kernels", flags)
    if has_native_bf16(flags):
        native = "amx_bf16" if "amx_bf16" in flags else "avx512_bf16"
        return KernelChoice(torch.bfloat16, f"{native} present", flags)
    fp32_s, bf16_s = measure(mode)
    dt = torch.bfloat16 if bf16_s < fp32_s else torch.float32
    why = f"no bf16 units; measured {mode} fp32 {fp32_s * 1e3:.2f} ms vs bf16 {bf16_s * 1e3:.2f} ms"
    return KernelChoice(dt, why, flags)
