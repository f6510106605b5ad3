"""Weight-only quantization of linear layers: lmforge's own CPU kernels, torch's as fallback.

Where `kernels.choose()` finds AVX512-VNNI or AVX2 and a compiler (engine/kernels/), a layer
packs its codes once into the layout those kernels read and runs them below OURS_ROWS rows
(they quantize the activations to int8 per 32-block like llama.cpp and use integer dot
products: 2.5-7x torch's packed kernels at batch 1, see docs/engine.md); from OURS_ROWS rows on
(AVX2, or AVX512 with AMX; VNNI without AMX never switches) it dequantizes (kernels/qgemm.cpp
`lmf_dequant`) into the activation dtype for a dense matmul. (Below that, int4 batches of 24+
rows on VNNI take the many-row kernel, kernels/qbatch.cpp: no dequantize at any batch size.)
Otherwise the torch path below, unchanged:

int8: symmetric per-output-channel scales, `torch._weight_int8pack_mm`. int4: asymmetric
group-wise scales and zero points, `torch._weight_int4pack_mm_for_cpu` after
`torch._convert_weight_to_int4pack_for_cpu`. Decode at batch 1 reads every weight once per token,
so it is memory-bandwidth bound: 4x (int8) or 8x (int4) fewer weight bytes is the speed-up.

Both kernels take fp32 or bf16 activations and which is fast depends on the CPU (bf16 is 10-40x
faster where the CPU has bf16 dot products, see cpu.py), so each layer casts its input to the
activation dtype the start-up probe chose and casts the result back. A layer whose shape the
kernel cannot take stays in float and is counted in the report. CPU only: the engine refuses
quantization on CUDA at config time.

The packed kernels are GEMV-like: from some tens of rows on (batched decode, prefill) dequantizing
the layer's weights into the activation dtype and running a dense matmul is faster (measured on
the 1536 -> 576 projection at 256 rows: int8 kernel 18 ms, dequantize + bf16 matmul 2.9 ms), so
`forward` switches at DENSE_ROWS (int8 32 rows, int4 128). int4 unpacking relies on the CPU
pack layout (blocks of 64 output rows, low/high nibbles 32 rows apart); a start-up self-check
disables the switch if this torch build packs differently.
"""

from functools import cache

import torch
from torch import Tensor, nn

from lmforge.engine.cpu import cpu_flags
from lmforge.engine.kernels import QGemm, choose
from lmforge.engine.kernels.ops import bind_int4, bind_int8, dequant
from lmforge.engine.kernels.pack import (
    pack_groups,
    pack_int4,
    pack_int8,
    unpack_groups,
    unpack_int8,
)
from lmforge.engine.kernels.pack import unpack_int4 as unpack_codes

# With our kernels, from this many rows on dequantize (one C++ pass) + dense matmul. On AVX512-VNNI
# without AMX the integer kernels win at every batch: measured (session 6, 1 thread, the default
# model's four projections, wall time): int8 kernel 308-331 GOP/s at 128-512 rows vs 182-189
# GFLOP/s for the dense bf16 matmul alone, before its dequantize (~2.5 ms per layer); so there
# they never switch. With AMX (bf16 tiles, several times VNNI's rate) the dense path is kept
# from 128 rows, as first measured on such a machine (576 -> 3072: int8 kernel 1.49 ms = dense
# 1.49 ms at 128 rows, 3.06 vs 1.84 at 256). AVX2's emulated dot products lose from some tens of
# rows on to a dense fp32 matmul.
_VNNI_ROWS = 128 if "amx_bf16" in cpu_flags() else 1 << 62
OURS_ROWS = {("int8", 2): _VNNI_ROWS, ("int4", 2): _VNNI_ROWS, ("int8", 1): 32, ("int4", 1): 32}
# From this many activation rows on, dequantize + dense matmul beats the packed kernel (measured
# on the default model's shapes; int4's unpacking costs more, so it switches later).
DENSE_ROWS = {"int8": 32, "int4": 128}


def _fits(gemm: QGemm | None, n: int, k: int) -> QGemm | None:
    """The kernel choice if this layer's shape suits our kernels (16-row tiles, 32-wide k)."""
    gemm = gemm or choose()
    return gemm if gemm.ours and n % 16 == 0 and k % 32 == 0 else None


class Int8Linear(nn.Module):
    def __init__(
        self, lin: nn.Linear, act_dtype: torch.dtype = torch.bfloat16, gemm: QGemm | None = None
    ) -> None:
        super().__init__()
        w = lin.weight.detach().float()
        scale = (w.abs().amax(dim=1) / 127.0).clamp(min=1e-12)
        q = torch.round(w / scale[:, None]).clamp(-127, 127).to(torch.int8)
        # bf16-rounded once, so both activation paths dequantize to the same weights
        self._scales = scale.to(torch.bfloat16).float()
        self.gemm = _fits(gemm, *w.shape)
        self.out_features = w.shape[0]
        self.bias = lin.bias
        if self.gemm:
            self.register_buffer("packed", pack_int8(q))
            self.rows = OURS_ROWS["int8", self.gemm.isa]
        else:
            self.register_buffer("qweight", q)
        self.set_act_dtype(act_dtype)

    def set_act_dtype(self, dtype: torch.dtype) -> None:
        """The kernel wants scales in the activation dtype; keep one copy of the chosen one."""
        self.act_dtype = dtype
        self.register_buffer("scales", self._scales if self.gemm else self._scales.to(dtype))
        self.rebind()

    def rebind(self) -> None:
        """Bind our kernel's call to the current `packed` (after it moved, see fused.py)."""
        if self.gemm:
            b = None if self.bias is None else self.bias.detach().float()
            n, k = self.out_features, self.packed.shape[1] * 4
            self._call = bind_int8(self.gemm, self.packed, self.scales, b, n, k)

    def codes(self) -> Tensor:
        return unpack_int8(self.packed) if self.gemm else self.qweight

    def dequantized(self) -> Tensor:
        """[out, in] weights in the activation dtype."""
        if self.gemm and self.act_dtype in (torch.float32, torch.bfloat16):
            n, k = self.out_features, self.packed.shape[1] * 4
            return dequant(self.packed, n, k, self.act_dtype, scales=self.scales)
        return self.codes().to(self.act_dtype) * self.scales.to(self.act_dtype)[:, None]

    def forward(self, x: Tensor) -> Tensor:
        if self.gemm and x.dim() == 2 and x.shape[0] < self.rows and x.dtype == torch.float32:
            return self._call(x)  # the decode path: as few Python steps as possible
        shape = x.shape
        x2 = x.reshape(-1, shape[-1])
        if self.gemm and x2.shape[0] < self.rows:
            return self._call(x2).to(x.dtype).reshape(*shape[:-1], -1)
        xa = x2.to(self.act_dtype)
        if self.gemm or xa.shape[0] >= DENSE_ROWS["int8"]:
            y = xa @ self.dequantized().T
        else:
            y = torch._weight_int8pack_mm(xa, self.qweight, self.scales)
        y = y.to(x.dtype).reshape(*shape[:-1], -1)
        return y + self.bias if self.bias is not None else y


class Int4Linear(nn.Module):
    def __init__(
        self,
        lin: nn.Linear,
        group_size: int,
        act_dtype: torch.dtype = torch.bfloat16,
        gemm: QGemm | None = None,
    ) -> None:
        super().__init__()
        w = lin.weight.detach().float()
        n, k = w.shape
        g = w.reshape(n, k // group_size, group_size)
        lo, hi = g.amin(-1, keepdim=True), g.amax(-1, keepdim=True)
        scale = ((hi - lo) / 15).clamp(min=1e-6)
        q = torch.clamp(torch.round((g - lo) / scale), 0, 15).to(torch.int32).reshape(n, k)
        self.group_size = group_size
        self.out_features = n
        self.gemm = _fits(gemm, n, k)
        self.bias = lin.bias
        if self.gemm:  # fp16 scale and minimum per group (GGUF Q4_1's own precision)
            self.register_buffer("packed", pack_int4(q))
            self.register_buffer("gscale", pack_groups(scale[..., 0]))
            self.register_buffer("gmin", pack_groups(lo[..., 0]))
            self.act_dtype = act_dtype
            self.rows = OURS_ROWS["int4", self.gemm.isa]
            self.rebind()
            return
        zero = lo + 8 * scale  # the kernel dequantizes as (q - 8) * scale + zero
        sz = torch.cat([scale, zero], -1).transpose(0, 1).contiguous()  # [k/gs, n, 2]
        self.register_buffer("qweight", torch._convert_weight_to_int4pack_for_cpu(q, 2))
        self._sz = sz
        self.set_act_dtype(act_dtype)

    def rebind(self) -> None:
        """Bind our kernel's call to the current `packed` (after it moved, see fused.py)."""
        b = None if self.bias is None else self.bias.detach().float()
        n, k = self.out_features, self.packed.shape[1] * 32
        self._call = bind_int4(
            self.gemm, self.packed, self.gscale, self.gmin, self.group_size, b, n, k
        )

    def set_act_dtype(self, dtype: torch.dtype) -> None:
        self.act_dtype = dtype
        if self.gemm:
            return
        self.register_buffer("scales_zeros", self._sz.to(dtype))
        n = self._sz.shape[1]
        self._dense = n % 64 == 0 and int4_layout_ok()
        if self._dense:  # scales and (zero - 8 * scale) laid out as the packed blocks
            scale, zero = self._sz[..., 0], self._sz[..., 1]
            blk = lambda t: t.view(t.shape[0], n // 64, 64).permute(1, 0, 2).unsqueeze(2)  # noqa: E731
            s, z = blk(scale).to(dtype), blk(zero - 8 * scale).to(dtype)
            halves = lambda t: (t[..., :32].contiguous(), t[..., 32:].contiguous())  # noqa: E731
            self._s, self._z = halves(s), halves(z)

    def dequantized(self) -> Tensor:
        """[out, in] weights in the activation dtype (our kernels' layout only)."""
        assert self.gemm, "torch's int4 layout dequantizes inside dense_matmul"
        dt, gs = self.act_dtype, self.group_size
        if dt in (torch.float32, torch.bfloat16):
            n, k = self.out_features, self.packed.shape[1] * 32
            return dequant(self.packed, n, k, dt, gscale=self.gscale, gmin=self.gmin, group=gs)
        c = unpack_codes(self.packed).to(dt)
        n, k = c.shape
        s, m = unpack_groups(self.gscale).to(dt), unpack_groups(self.gmin).to(dt)
        return torch.addcmul(m[..., None], c.view(n, k // gs, gs), s[..., None]).view(n, k)

    def dense_matmul(self, xa: Tensor) -> Tensor:
        """xa @ W^T with W dequantized in the packed layout: per block of 64 output rows the
        bytes are that block's W^T [k, 32] (low nibble row j, high nibble row j + 32), so the
        affine runs on them as they lie; one copy puts W^T in [k, n] order for a plain GEMM."""
        n, k, gs = self._sz.shape[1], self._sz.shape[0] * self.group_size, self.group_size
        p = self.qweight.view(n // 64, k // gs, gs, 32)
        dt = self.act_dtype
        lo = torch.addcmul(self._z[0], (p & 15).to(dt), self._s[0])
        hi = torch.addcmul(self._z[1], (p >> 4).to(dt), self._s[1])
        wt = torch.cat([lo, hi], -1).view(n // 64, k, 64).transpose(0, 1).reshape(k, n)
        return xa @ wt

    def forward(self, x: Tensor) -> Tensor:
        if self.gemm and x.dim() == 2 and x.shape[0] < self.rows and x.dtype == torch.float32:
            return self._call(x)
        shape = x.shape
        x2 = x.reshape(-1, shape[-1])
        if self.gemm and x2.shape[0] < self.rows:
            return self._call(x2).to(x.dtype).reshape(*shape[:-1], -1)
        xa = x2.to(self.act_dtype)
        if self.gemm:
            y = xa @ self.dequantized().T
        elif xa.shape[0] >= DENSE_ROWS["int4"] and self._dense:
            y = self.dense_matmul(xa)
        else:
            y = torch._weight_int4pack_mm_for_cpu(
                xa, self.qweight, self.group_size, self.scales_zeros
            )
        y = y.to(x.dtype).reshape(*shape[:-1], -1)
        return y + self.bias if self.bias is not None else y


def unpack_int4(packed: Tensor, n: int, k: int) -> Tensor:
    """Codes [n, k] (uint8, 0..15) from `_convert_weight_to_int4pack_for_cpu`'s [n, k/2] bytes:
    per block of 64 output rows, k x 32 bytes whose low nibble is row j, high nibble row j+32."""
    p = packed.view(n // 64, k, 32)
    codes = torch.cat([p & 15, p >> 4], -1)  # [n/64, k, 64]
    return codes.transpose(1, 2).reshape(n, k)


@cache
def int4_layout_ok() -> bool:
    """Does this torch build pack int4 the way `unpack_int4` reads it? (checked once)."""
    q = torch.randint(
        0, 16, (128, 64), dtype=torch.int32, generator=torch.Generator().manual_seed(0)
    )
    packed = torch._convert_weight_to_int4pack_for_cpu(q, 2)
    return packed.shape == (128, 32) and torch.equal(unpack_int4(packed, 128, 64).int(), q)


def quantize(
    model: nn.Module,
    mode: str,
    group_size: int = 32,
    act_dtype: torch.dtype = torch.bfloat16,
    gemm: QGemm | None = None,
) -> dict[str, int]:
    """Swap every nn.Linear for its quantized twin, in place.

    In int4 mode the lm_head goes to int8 instead: it is the one projection every logit depends
    on, and models distributed as 4-bit GGUF (the default SmolLM2 included) keep their
    embedding/head at higher precision for that reason — at int4 g64 it alone cost most of a
    +42% perplexity rise, at int8 nothing measurable. Group size 32 is GGUF Q4_0/Q4_1's own
    grid, so re-quantizing weights that came from such a file is lossless.
    `gemm`: the kernel path (default `kernels.choose()`); a layer whose shape our kernels
    cannot take uses torch's. Returns counts of quantized and skipped layers, and of those on
    our kernels ("ours").
    """
    assert mode in ("int8", "int4"), mode
    gemm = gemm or choose()
    done = skipped = ours = 0
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if not isinstance(child, nn.Linear):
                continue
            if mode == "int4" and child.in_features % group_size:
                skipped += 1
                continue
            as_int8 = mode == "int8" or name == "lm_head"
            new = (
                Int8Linear(child, act_dtype, gemm)
                if as_int8
                else Int4Linear(child, group_size, act_dtype, gemm)
            )
            setattr(parent, name, new)
            done += 1
            ours += new.gemm is not None
    return {"quantized": done, "skipped": skipped, "ours": ours}


def weight_bytes(model: nn.Module) -> int:
    """Bytes of parameters and buffers (tied tensors counted once): the memory the report shows."""
    seen: set[int] = set()
    total = 0
    for t in [*model.parameters(), *model.buffers()]:
        if t.data_ptr() not in seen:
            seen.add(t.data_ptr())
            total += t.numel() * t.element_size()
    return total
