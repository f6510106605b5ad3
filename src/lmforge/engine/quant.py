"""Weight-only quantization of linear layers with PyTorch's own CPU kernels.

int8: symmetric per-output-channel scales, `torch._weight_int8pack_mm`. Its CPU kernel is fast
only with bf16 activations (measured on this AVX2 box, lm_head at batch 1: fp32 activations
2.4-3.5x *slower* than the fp32 matmul, bf16 activations 1.6x faster), so the layer runs in bf16
and casts back.
int4: asymmetric group-wise scales and zero points, `torch._weight_int4pack_mm_for_cpu` after
`torch._convert_weight_to_int4pack_for_cpu`. Decode at batch 1 reads every weight once per token,
so it is memory-bandwidth bound: 4x (int8) or 8x (int4) fewer weight bytes is the speed-up. A
layer whose shape the kernel cannot take stays in float and is counted in the report.
"""

import torch
from torch import Tensor, nn


class Int8Linear(nn.Module):
    def __init__(self, lin: nn.Linear) -> None:
        super().__init__()
        w = lin.weight.detach().float()
        scale = (w.abs().amax(dim=1) / 127.0).clamp(min=1e-12)
        self.register_buffer(
            "qweight", torch.round(w / scale[:, None]).clamp(-127, 127).to(torch.int8)
        )
        self.register_buffer("scales", scale.to(torch.bfloat16))
        self.bias = lin.bias

    def forward(self, x: Tensor) -> Tensor:
        shape = x.shape
        xb = x.reshape(-1, shape[-1]).to(torch.bfloat16)
        y = torch._weight_int8pack_mm(xb, self.qweight, self.scales).to(x.dtype)
        y = y.reshape(*shape[:-1], -1)
        return y + self.bias if self.bias is not None else y


class Int4Linear(nn.Module):
    def __init__(self, lin: nn.Linear, group_size: int) -> None:
        super().__init__()
        w = lin.weight.detach().float()
        n, k = w.shape
        g = w.reshape(n, k // group_size, group_size)
        lo, hi = g.amin(-1, keepdim=True), g.amax(-1, keepdim=True)
        scale = ((hi - lo) / 15).clamp(min=1e-6)
        q = torch.clamp(torch.round((g - lo) / scale), 0, 15).to(torch.int32).reshape(n, k)
        zero = lo + 8 * scale  # the kernel dequantizes as (q - 8) * scale + zero
        sz = torch.cat([scale, zero], -1).transpose(0, 1).contiguous()  # [k/gs, n, 2]
        self.register_buffer("qweight", torch._convert_weight_to_int4pack_for_cpu(q, 2))
        self.register_buffer("scales_zeros", sz.to(lin.weight.dtype))
        self.group_size = group_size
        self.bias = lin.bias

    def forward(self, x: Tensor) -> Tensor:
        shape = x.shape
        y = torch._weight_int4pack_mm_for_cpu(
            x.reshape(-1, shape[-1]), self.qweight, self.group_size, self.scales_zeros
        )
        y = y.reshape(*shape[:-1], -1)
        return y + self.bias if self.bias is not None else y


def quantize(model: nn.Module, mode: str, group_size: int = 32) -> dict[str, int]:
    """Swap every nn.Linear for its quantized twin, in place.

    In int4 mode the lm_head goes to int8 instead: it is the one projection every logit depends
    on, and models distributed as 4-bit GGUF (the default SmolLM2 included) keep their
    embedding/head at higher precision for that reason — at int4 g64 it alone cost most of a
    +42% perplexity rise, at int8 nothing measurable. Group size 32 is GGUF Q4_0/Q4_1's own
    grid, so re-quantizing weights that came from such a file is lossless.
    Returns counts of quantized and skipped layers. Quantized layers run on CPU only.
    """
    assert mode in ("int8", "int4"), mode
    done = skipped = 0
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if not isinstance(child, nn.Linear):
                continue
            if mode == "int4" and child.in_features % group_size:
                skipped += 1
                continue
            as_int8 = mode == "int8" or name == "lm_head"
            new = Int8Linear(child) if as_int8 else Int4Linear(child, group_size)
            setattr(parent, name, new)
            done += 1
    return {"quantized": done, "skipped": skipped}


def weight_bytes(model: nn.Module) -> int:
    """Bytes of parameters and buffers (tied tensors counted once): the memory the report shows."""
    seen: set[int] = set()
    total = 0
    for t in [*model.parameters(), *model.buffers()]:
        if t.data_ptr() not in seen:
            seen.add(t.data_ptr())
            total += t.numel() * t.element_size()
    return total
