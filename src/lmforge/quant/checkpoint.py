"""Writing a quantized model directory: packed linears + float rest + `quantization_config`.

The directory is a normal transformers model dir (config.json, model.safetensors, tokenizer),
so tools that read AutoAWQ / GPTQModel checkpoints read ours, and ours reads theirs.
"""

import shutil
from pathlib import Path
from typing import Any

from safetensors.torch import save_file
from torch import Tensor, nn

from lmforge import __version__
from lmforge.files import atomic_write_json
from lmforge.quant.grid import QuantizedWeight
from lmforge.quant.pack import awq_compatible, awq_tensors, gptq_tensors


def choose_format(
    fmt: str, method: str, results: dict[str, QuantizedWeight], group_size: int
) -> str:
    """'awq' or 'gptq' for this result; an explicit 'awq' that cannot hold it is an error."""
    if fmt == "gptq" or (fmt == "auto" and method != "awq"):
        return "gptq"
    why = next((w for q in results.values() if (w := awq_compatible(q, group_size))), None)
    if why is None:
        return "awq"
    if fmt == "awq":
        from lmforge.errors import LMForgeError

        raise LMForgeError(f"format awq cannot hold this model: {why}; use --format gptq")
    return "gptq"


def quantization_config(fmt: str, cfg: Any) -> dict[str, Any]:
    if fmt == "awq":
        return {
            "quant_method": "awq",
            "bits": cfg.bits,
            "group_size": cfg.group_size,
            "zero_point": True,
            "version": "gemm",
            "modules_to_not_convert": None,
        }
    return {
        "quant_method": "gptq",
        "bits": cfg.bits,
        "group_size": cfg.group_size,
        "desc_act": bool(cfg.method == "gptq" and cfg.act_order),
        "sym": cfg.sym,
        "damp_percent": cfg.damp,
        "true_sequential": False,
        "static_groups": False,
        "lm_head": False,
        "checkpoint_format": "gptq" if cfg.sym else "gptq_v2",
        "meta": {"quantizer": [f"lmforge:{__version__}"], "method": cfg.method},
    }


def write_checkpoint(
    model: nn.Module,
    tokenizer: Any,
    src: Path,
    results: dict[str, QuantizedWeight],
    cfg: Any,
    out: Path,
) -> str:
    """Write the quantized model into `out`; returns the format used."""
    fmt = choose_format(cfg.format, cfg.method, results, cfg.group_size)
    qcfg = quantization_config(fmt, cfg)
    tensors: dict[str, Tensor] = {}
    tied = bool(getattr(model.config, "tie_word_embeddings", False))
    for key, value in model.state_dict().items():
        prefix = key.removesuffix(".weight")
        if key.endswith(".weight") and prefix in results:
            q = results[prefix]
            packed = (
                awq_tensors(q)
                if fmt == "awq"
                else gptq_tensors(q, qcfg["checkpoint_format"] == "gptq_v2")
            )
            tensors.update({f"{prefix}.{k}": v for k, v in packed.items()})
        elif not (tied and key == "lm_head.weight"):
            tensors[key] = value.detach().contiguous()
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / "model.safetensors.tmp"
    save_file(tensors, str(tmp), metadata={"format": "pt"})
    tmp.replace(out / "model.safetensors")
    config = model.config.to_dict()
    config["quantization_config"] = qcfg
    atomic_write_json(out / "config.json", config)
    tokenizer.save_pretrained(out)
    for extra in ("generation_config.json", "chat_template.jinja"):
        if (src / extra).is_file() and not (out / extra).is_file():
            shutil.copyfile(src / extra, out / extra)
    if fmt == "gptq":  # AutoGPTQ reads its settings from this file as well
        atomic_write_json(out / "quantize_config.json", qcfg)
    return fmt
