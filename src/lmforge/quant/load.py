"""Reading AutoAWQ / GPTQ checkpoints (made by lmforge or elsewhere) for the engine.

`unpack_checkpoint` turns each packed linear back into exact float weights, so the engine's
normal loader (and its fused q/k/v, gate/up layout) takes the directory like any other;
`use_packed` then swaps the fused layers for `PackedInt4Linear`, which runs the checkpoint's own
codes on PyTorch's int4 CPU kernel — no re-rounding, so the engine computes what the checkpoint
says. Layers it cannot take (8-bit, groups the kernel cannot express) stay in float, and are
counted.
"""

import functools
from typing import Any

import torch
from torch import Tensor, nn

from lmforge.errors import ModelLoadError
from lmforge.quant.grid import QuantizedWeight
from lmforge.quant.pack import from_awq, from_gptq

KERNEL_GROUPS = (256, 128, 64, 32)
FUSED = {
    "qkv_proj": ("self_attn", ("q_proj", "k_proj", "v_proj")),
    "o_proj": ("self_attn", ("o_proj",)),
    "gate_up_proj": ("mlp", ("gate_proj", "up_proj")),
    "down_proj": ("mlp", ("down_proj",)),
}


def checkpoint_quant(config: Any) -> dict[str, Any] | None:
    """The AWQ/GPTQ `quantization_config` of an HF config, None for a float model."""
    qc = getattr(config, "quantization_config", None)
    if qc is None:
        return None
    qc = qc if isinstance(qc, dict) else qc.to_dict()
    method = qc.get("quant_method")
    if method == "awq" and str(qc.get("version", "gemm")).lower() != "gemm":
        raise ModelLoadError(f"AWQ version {qc.get('version')!r}: the engine reads 'gemm' only")
    if method not in ("awq", "gptq"):
        raise ModelLoadError(
            f"quantization_config.quant_method {method!r}: the engine reads awq and gptq "
            "checkpoints (or a float model)"
        )
    return qc


def unpack_checkpoint(config: Any, tensors: dict[str, Tensor]) -> dict[str, QuantizedWeight]:
    """Replace every packed linear in `tensors` by its float `.weight`; return the codes."""
    qc = checkpoint_quant(config)
    if qc is None:
        return {}
    v2 = qc.get("checkpoint_format", "gptq") == "gptq_v2"
    out = {}
    for prefix in sorted(k.removesuffix(".qweight") for k in tensors if k.endswith(".qweight")):
        parts = {
            f: tensors.pop(f"{prefix}.{f}")
            for f in ("qweight", "qzeros", "scales", "g_idx")
            if f"{prefix}.{f}" in tensors
        }
        q = from_awq(parts) if qc["quant_method"] == "awq" else from_gptq(parts, qc["bits"], v2)
        tensors[f"{prefix}.weight"] = q.dequantize()
        out[prefix] = q
    return out


@functools.cache
def int4_activation_dtype() -> torch.dtype:
    """The activation dtype the int4 CPU kernel is fast with here: the engine's own start-up probe
    (`lmforge.engine.cpu.choose`), so checkpoints and RTN layers never disagree.

    Why it matters: on an AVX512-BF16 box fp32 activations take a scalar path (4.6 s for 128
    tokens of a 576x3072 layer, 48x the fp32 matmul) against 90 ms in bf16; on AVX2-only machines
    bf16 is the slow one. LMFORGE_CPU_KERNELS=fp32|bf16 forces a path (tests run both).
    """
    from lmforge.engine.cpu import choose

    return choose("int4").act_dtype


class PackedInt4Linear(nn.Module):
    """A (fused) linear over checkpoint codes of <= 4 bits on `_weight_int4pack_mm_for_cpu`.

    The kernel computes (q - 8) * scale + zero per group of input columns, so a checkpoint's
    s * (q - z) becomes zero = s * (8 - z). Act-order checkpoints group columns out of order:
    the input columns are permuted once per call so every group is contiguous again.
    Activations go through the kernel in `int4_activation_dtype()` and come back in their own.
    """

    def __init__(
        self,
        qs: list[QuantizedWeight],
        bias: Tensor | None,
        group: int,
        perm: Tensor | None,
        dtype: torch.dtype,
    ) -> None:
        super().__init__()
        order = perm if perm is not None else torch.arange(qs[0].qweight.shape[1])
        codes = torch.cat([q.qweight[:, order] for q in qs])
        s = torch.cat([q.scales[q.g_idx[order]].T for q in qs])[:, ::group]  # [n, k/group]
        z = torch.cat([q.zeros[q.g_idx[order]].T for q in qs])[:, ::group].float()
        sz = torch.stack([s, s * (8 - z)], -1).transpose(0, 1).contiguous()  # [k/group, n, 2]
        self.register_buffer("qweight", torch._convert_weight_to_int4pack_for_cpu(codes.int(), 2))
        self.act_dtype = int4_activation_dtype() if dtype == torch.float32 else dtype
        self.register_buffer("scales_zeros", sz.to(self.act_dtype))
        self.register_buffer("perm", perm)
        self.group_size = group
        self.bias = nn.Parameter(bias, requires_grad=False) if bias is not None else None

    def forward(self, x: Tensor) -> Tensor:
        shape = x.shape
        x2 = x.reshape(-1, shape[-1]).to(self.act_dtype)
        if self.perm is not None:
            x2 = x2[:, self.perm]
        y = torch._weight_int4pack_mm_for_cpu(x2, self.qweight, self.group_size, self.scales_zeros)
        y = y.to(x.dtype).reshape(*shape[:-1], -1)
        return y + self.bias if self.bias is not None else y


def kernel_layout(qs: list[QuantizedWeight]) -> tuple[int, Tensor | None] | None:
    """(kernel group size, input permutation or None) that express `qs` exactly, or None."""
    if any(q.bits > 4 for q in qs):
        return None
    k = qs[0].qweight.shape[1]
    perm = torch.argsort(qs[0].g_idx, stable=True)
    if any(not torch.equal(torch.argsort(q.g_idx, stable=True), perm) for q in qs[1:]):
        return None  # fused parts grouped in different orders
    sorted_g = torch.stack([q.g_idx[perm] for q in qs])
    for group in KERNEL_GROUPS:
        if k % group == 0 and bool(
            (sorted_g.view(len(qs), -1, group) == sorted_g.view(len(qs), -1, group)[..., :1]).all()
        ):
            identity = torch.equal(perm, torch.arange(k))
            return group, None if identity else perm
    return None


def use_packed(model: nn.Module, packed: dict[str, QuantizedWeight]) -> dict[str, int]:
    """Swap the engine model's fused linears for PackedInt4Linear where the codes allow."""
    counts = {"packed": 0, "float": 0}
    if not packed:
        return counts
    for i, layer in enumerate(model.layers):
        for fused, (block, parts) in FUSED.items():
            qs = [packed.get(f"layers.{i}.{block}.{p}") for p in parts]
            if any(q is None for q in qs):
                continue
            lin = getattr(getattr(layer, block), fused)
            layout = kernel_layout(qs)  # type: ignore[arg-type]
            if layout is None:
                counts["float"] += 1
                continue
            bias = lin.bias.detach() if lin.bias is not None else None
            new = PackedInt4Linear(qs, bias, *layout, lin.weight.dtype)  # type: ignore[arg-type]
            setattr(getattr(layer, block), fused, new)
            counts["packed"] += 1
    return counts


def load_dequantized(path: Any) -> nn.Module:
    """An AWQ/GPTQ checkpoint as a plain fp32 transformers model, without any quantization
    kernels (transformers itself needs gptqmodel for these): for evaluation and export."""
    from pathlib import Path

    from safetensors.torch import load_file
    from transformers import AutoConfig, AutoModelForCausalLM

    path = Path(path)
    cfg = AutoConfig.from_pretrained(path)
    tensors: dict[str, Tensor] = {}
    for f in sorted(path.glob("*.safetensors")):
        tensors.update(load_file(str(f)))
    unpack_checkpoint(cfg, tensors)
    if hasattr(cfg, "quantization_config"):
        del cfg.quantization_config
    model = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32)
    missing = model.load_state_dict(tensors, strict=False).missing_keys
    tied = {"lm_head.weight"} if getattr(cfg, "tie_word_embeddings", False) else set()
    if set(missing) - tied:
        raise ModelLoadError(f"{path}: weights missing after unpacking: {sorted(missing)[:4]}")
    return model.eval()
