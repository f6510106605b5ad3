"""lmforge's own CPU int8/int4 GEMM kernels (qgemm.cpp, qrow.cpp), fused batch-1 decode step
(decode.cpp, fused.py) and multi-LoRA delta (lora.cpp, sgmv.py), built at first use.

`choose()` says which path the quantized linears take here: `avx512-vnni`, `avx2`, or `torch`
(torch's packed kernels, when the CPU has neither ISA or no compiler could build the library),
with the reason. LMFORGE_QGEMM=auto|avx512-vnni|avx2|torch forces one (tests run the AVX2 path
on AVX512 machines that way).
"""

from lmforge.engine.kernels.ops import QGemm, choose

__all__ = ["QGemm", "choose"]
