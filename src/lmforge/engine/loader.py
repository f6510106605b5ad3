"""Build our model from a local Hugging Face directory (config.json + *.safetensors).

Weights are read tensor by tensor with safetensors, mapped onto our fused layout (q/k/v and
gate/up concatenated) and checked: a missing or unexpected tensor is an error naming it, because
silently random weights produce fluent-looking garbage.
"""

from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open

from lmforge.engine.llama import LlamaForCausalLM, ModelSpec, rope_table
from lmforge.engine.rope import apply_rope_scaling
from lmforge.errors import ModelLoadError

FUSED = {"q_proj": ("qkv_proj", 0), "k_proj": ("qkv_proj", 1), "v_proj": ("qkv_proj", 2)}
FUSED_MLP = {"gate_proj": ("gate_up_proj", 0), "up_proj": ("gate_up_proj", 1)}


def read_tensors(path: Path) -> dict[str, torch.Tensor]:
    files = sorted(path.glob("*.safetensors"))
    if not files:
        raise ModelLoadError(
            f"{path}: no *.safetensors weights (the engine reads safetensors only)"
        )
    out: dict[str, torch.Tensor] = {}
    for f in files:
        with safe_open(str(f), framework="pt") as st:
            for name in st.keys():  # noqa: SIM118 (safe_open is not a dict)
                out[name.removeprefix("model.")] = st.get_tensor(name)
    return out


def load_llama(
    path: Path, max_len: int, dtype: torch.dtype, rope_scaling: dict[str, Any] | None = None
) -> tuple[LlamaForCausalLM, Any]:
    """Our model with the directory's weights, in `dtype`, on CPU; also the HF config (with the
    `rope_scaling` override, if any, merged into its rope parameters)."""
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(path)
    apply_rope_scaling(config, rope_scaling, str(path))
    spec = ModelSpec.from_hf(config, str(path))
    cos, sin = rope_table(config, max_len)
    with torch.device("meta"):
        model = LlamaForCausalLM(spec, cos.to("meta"), sin.to("meta"))
    tensors = read_tensors(path)
    from lmforge.quant.load import unpack_checkpoint, use_packed  # AWQ/GPTQ checkpoints

    packed = unpack_checkpoint(config, tensors)
    params: dict[str, torch.Tensor] = {}
    parts: dict[str, list[torch.Tensor | None]] = {}
    for name, t in tensors.items():
        *prefix, mod, kind = name.split(".")
        fused = FUSED.get(mod) or FUSED_MLP.get(mod)
        if fused:
            key = ".".join([*prefix, fused[0], kind])
            parts.setdefault(key, [None] * (3 if fused[0] == "qkv_proj" else 2))[fused[1]] = t
        elif name == "lm_head.weight" and spec.tie_word_embeddings:
            continue  # tied: the embedding is the head
        else:
            params[name] = t
    for key, ts in parts.items():
        if any(t is None for t in ts):
            raise ModelLoadError(
                f"{path}: incomplete fused weight {key} (a q/k/v or gate/up is missing)"
            )
        params[key] = torch.cat(ts, 0)  # type: ignore[arg-type]
    expected = {n for n, _ in model.named_parameters()}
    missing, extra = expected - params.keys(), params.keys() - expected
    extra = {e for e in extra if not e.endswith("rotary_emb.inv_freq")}
    if missing or extra:
        raise ModelLoadError(
            f"{path}: weights do not match the {spec.model_type} layout "
            f"(missing: {sorted(missing)[:4]}, unexpected: {sorted(extra)[:4]})"
        )
    model.load_state_dict({k: params[k].to(dtype) for k in expected}, assign=True, strict=False)
    if spec.tie_word_embeddings:
        model.lm_head.weight = model.embed_tokens.weight
    model.cos, model.sin = cos, sin
    use_packed(model, packed)
    return model.eval(), config
