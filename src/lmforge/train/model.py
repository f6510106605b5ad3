"""Load the base model for training: full, LoRA, or QLoRA (4-bit base + LoRA).

LoRA targets every linear projection of the attention and MLP blocks by default (the setting
that matches full fine-tuning quality best in the QLoRA paper), chosen per architecture from the
names transformers uses; unknown architectures fall back to PEFT's "all-linear". QLoRA needs
bitsandbytes; bitsandbytes >= 0.45 has a CPU backend for nf4, so QLoRA runs here too (slowly:
de-quantising every matmul on CPU costs more than it saves at 135M parameters). Where
bitsandbytes is missing or cannot quantise on this device, we say so and train LoRA on the
full-precision base, the nearest working option.
"""

import logging
from dataclasses import dataclass
from typing import Any

from lmforge.extras import is_available, require
from lmforge.models.chat import ensure_chat_template
from lmforge.models.loader import resolve_model_dir
from lmforge.train.config import LoraSection, Method

log = logging.getLogger("lmforge.train")

LINEAR_PROJECTIONS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
LORA_TARGETS: dict[str, list[str]] = {
    arch: LINEAR_PROJECTIONS
    for arch in ("llama", "qwen2", "qwen3", "mistral", "mixtral", "gemma", "gemma2", "phi3")
}
LORA_TARGETS |= {"gpt2": ["c_attn", "c_proj", "c_fc"], "gpt_neox": ["query_key_value", "dense"]}


@dataclass(slots=True)
class TrainModel:
    """A model ready for a trainer, and what was actually built (recorded in the manifest)."""

    model: Any
    tokenizer: Any
    path: str
    method: Method
    note: str | None = None


def lora_targets(model_type: str, section: LoraSection) -> list[str] | str:
    """The configured targets, else the per-architecture default, else PEFT's all-linear."""
    if section.target_modules:
        return section.target_modules
    return LORA_TARGETS.get(model_type, "all-linear")


def lora_config(model_type: str, section: LoraSection, task_type: str = "CAUSAL_LM") -> Any:
    peft = require("train", "peft")
    return peft.LoraConfig(
        r=section.r,
        lora_alpha=section.alpha,
        lora_dropout=section.dropout,
        target_modules=lora_targets(model_type, section),
        task_type=task_type,
    )


def qlora_unavailable_reason() -> str | None:
    """Why 4-bit loading cannot work here, or None when it can."""
    if not is_available("bitsandbytes"):
        return "bitsandbytes is not installed (pip install 'lmforge[train]')"
    try:
        import bitsandbytes  # noqa: F401
    except Exception as e:  # a broken native library surfaces as any error type
        return f"bitsandbytes does not load here ({type(e).__name__}: {e})"
    return None


def load_for_training(
    ref: str, method: Method, lora: LoraSection, head: str = "causal", bf16: bool = False
) -> TrainModel:
    """Tokenizer + model (with a LoRA adapter unless full); `head` 'reward' adds a score head."""
    import torch
    from transformers import (
        AutoModelForCausalLM,
        AutoModelForSequenceClassification,
        AutoTokenizer,
        BitsAndBytesConfig,
    )

    require("train", "trl")
    path = resolve_model_dir(ref)
    tokenizer = AutoTokenizer.from_pretrained(path)
    note = None
    if method == "qlora" and (reason := qlora_unavailable_reason()):
        note = f"QLoRA unavailable: {reason}; training LoRA on the full-precision base instead"
        log.warning(note)
        method = "lora"
    dtype = torch.bfloat16 if bf16 else torch.float32
    kwargs: dict[str, Any] = {"dtype": dtype}
    if method == "qlora":
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=dtype,
        )
        kwargs["device_map"] = {"": 0} if torch.cuda.is_available() else {"": "cpu"}
    if head == "reward":
        kwargs["num_labels"] = 1
        model = AutoModelForSequenceClassification.from_pretrained(path, **kwargs)
    else:
        model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    if ensure_chat_template(tokenizer) == "chatml-fallback":
        model.resize_token_embeddings(len(tokenizer), mean_resizing=True)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.config.pad_token_id = tokenizer.pad_token_id
    if method == "full":
        return TrainModel(model, tokenizer, str(path), method, note)
    peft = require("train", "peft")
    if method == "qlora":
        model = peft.prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    task = "SEQ_CLS" if head == "reward" else "CAUSAL_LM"
    model = peft.get_peft_model(model, lora_config(model.config.model_type, lora, task))
    return TrainModel(model, tokenizer, str(path), method, note)
