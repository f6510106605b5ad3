"""Reading AutoAWQ / GPTQ checkpoints (made by lmforge or elsewhere) for the engine.

`unpack_checkpoint` turns each packed linear back into exact float weights, so the engine's
normal loader (and its fused q/k/v, gate/up layout) takes the directory like any other;
`use_packed` then swaps the fused layers for layers that run the checkpoint's own codes (no
re-rounding of the weights): where lmforge's int4 kernels run here and the groups are contiguous
(RTN, AWQ, GPTQ without act-order), `CheckpointInt4Linear`, the engine's own int4 layer, so
batch-1 decode takes the fused C++ step like the engine's `quantization="int4"`; otherwise
`PackedInt4Linear` on PyTorch's int4 CPU kernel, whose layers keep decode on the torch path (one
ATen call per op: measured 1.2x the fp32 model's CPU time per token, against 0.4x fused). Layers
neither can take (8-bit, groups no kernel expresses) stay in float, and are counted.
"""

import functools
from typing import Any

import torch
from torch import Tensor, nn

from lmforge.engine.kernels import QGemm
from lmforge.engine.kernels import choose as choose_gemm
from lmforge.engine.kernels.pack import pack_groups, pack_int4
from lmforge.engine.quant import OURS_ROWS, Int4Linear
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
        s, z = group_params(qs, group, order)  # [n, k/group]
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


def group_params(qs: list[QuantizedWeight], group: int, order: Tensor) -> tuple[Tensor, Tensor]:
    """Scale and zero [n, k/group] of the fused parts `qs`, one per kernel group of columns
    `order` (a checkpoint group longer than the kernel's repeats its values)."""
    s = torch.cat([q.scales[q.g_idx[order]].T for q in qs])[:, ::group]
    z = torch.cat([q.zeros[q.g_idx[order]].T for q in qs])[:, ::group].float()
    return s, z


class CheckpointInt4Linear(Int4Linear):
    """The engine's Int4Linear over a checkpoint's codes instead of re-rounded float weights.

    Our kernels compute code * scale + min per group (GGUF Q4_1's form, fp16 scale and min), so
    s * (q - z) becomes scale = s (exact: checkpoints store fp16 scales), min = -s * z, rounded
    once to fp16 (at most 15 * 2^-11 of a step off; the rounding step itself is 1). Built here,
    field for field as Int4Linear's own constructor leaves them, because that one rounds a float
    weight; the fused step (kernels/fused.py) then takes these layers like the engine's own.
    """

    def __init__(
        self,
        qs: list[QuantizedWeight],
        bias: Tensor | None,
        group: int,
        gemm: QGemm,
        act_dtype: torch.dtype,
    ) -> None:
        nn.Module.__init__(self)
        codes = torch.cat([q.qweight for q in qs])
        s, z = group_params(qs, group, torch.arange(codes.shape[1]))
        self.group_size, self.out_features, self.gemm = group, codes.shape[0], gemm
        self.bias = nn.Parameter(bias, requires_grad=False) if bias is not None else None
        self.register_buffer("packed", pack_int4(codes))
        self.register_buffer("gscale", pack_groups(s))
        self.register_buffer("gmin", pack_groups(-s * z))
        self.act_dtype = act_dtype
        self.rows = OURS_ROWS["int4", gemm.isa]
        self.rebind()


def own_kernels(n: int, k: int) -> QGemm | None:
    """lmforge's int4 kernels if they run here and take an [n, k] layer (16-row tiles)."""
    gemm = choose_gemm()
    return gemm if gemm.ours and n % 16 == 0 and k % 32 == 0 else None


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
    """Swap the engine model's fused linears for CheckpointInt4Linear (or, where our kernels
    cannot take them, PackedInt4Linear) where the codes allow; count each kind."""
    counts = {"ours": 0, "packed": 0, "float": 0}
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
            group, perm = layout
            gemm = own_kernels(*lin.weight.shape) if perm is None else None
            if gemm is not None:
                new: nn.Module = CheckpointInt4Linear(
                    qs,  # type: ignore[arg-type]
                    bias,
                    group,
                    gemm,
                    int4_activation_dtype(),
                )
                counts["ours"] += 1
            else:
                new = PackedInt4Linear(qs, bias, group, perm, lin.weight.dtype)  # type: ignore[arg-type]
                counts["packed"] += 1
            setattr(getattr(layer, block), fused, new)
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
