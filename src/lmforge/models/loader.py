"""Resolve a model reference (name, HF directory, GGUF file) and load it with transformers.

Each way a reference can be wrong gets its own one-line error: the path does not exist, the
directory has no config or no weights, or the architecture is not one transformers can run as a
causal LM. Nothing here reaches a model hub: references are local.
"""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lmforge.errors import ModelLoadError
from lmforge.models.chat import ensure_chat_template
from lmforge.models.default import DEFAULT_ALIASES, convert_gguf, prepare_default

WEIGHT_PATTERNS = ("*.safetensors", "model.safetensors.index.json", "pytorch_model*.bin")


@dataclass(slots=True)
class LoadedModel:
    """A loaded causal LM, its tokenizer, where it came from and which chat template it uses."""

    model: Any
    tokenizer: Any
    path: Path
    chat_template: str  # "model" or "chatml-fallback"


def supported_architectures() -> list[str]:
    """model_type values transformers can load as a causal LM."""
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    return sorted(MODEL_FOR_CAUSAL_LM_MAPPING_NAMES)


def gguf_architecture(path: Path) -> str:
    """`general.architecture` from a GGUF header (reads metadata only)."""
    from gguf import GGUFReader

    try:
        reader = GGUFReader(path)
    except Exception as e:  # the gguf library raises bare ValueError/struct errors
        raise ModelLoadError(f"{path}: not a readable GGUF file ({e})") from None
    field = reader.fields.get("general.architecture")
    if field is None:
        raise ModelLoadError(f"{path}: GGUF header has no general.architecture")
    return bytes(field.parts[field.data[0]]).decode()


def check_gguf(path: Path) -> None:
    """Refuse a GGUF whose architecture transformers cannot de-quantize."""
    from transformers.modeling_gguf_pytorch_utils import GGUF_SUPPORTED_ARCHITECTURES

    arch = gguf_architecture(path)
    if arch not in GGUF_SUPPORTED_ARCHITECTURES:
        raise ModelLoadError(
            f"{path}: unsupported GGUF architecture {arch!r}; "
            f"supported: {', '.join(sorted(GGUF_SUPPORTED_ARCHITECTURES))}"
        )


def check_hf_dir(path: Path) -> dict[str, Any]:
    """Validate a Hugging Face model directory; return its config.json."""
    cfg_file = path / "config.json"
    if not cfg_file.is_file():
        raise ModelLoadError(
            f"{path}: no config.json, so this is not a Hugging Face model directory "
            "(give a directory with config.json + *.safetensors, or a .gguf file)"
        )
    if not any(next(path.glob(p), None) for p in WEIGHT_PATTERNS):
        raise ModelLoadError(
            f"{path}: has config.json but no weights (*.safetensors); "
            "copy the weight files in, or point at the directory that has them"
        )
    try:
        config = json.loads(cfg_file.read_text(encoding="utf-8"))
    except ValueError as e:
        raise ModelLoadError(f"{cfg_file}: invalid JSON ({e})") from None
    model_type = config.get("model_type")
    supported = supported_architectures()
    if model_type not in supported:
        arch = ", ".join(config.get("architectures") or []) or "unknown"
        raise ModelLoadError(
            f"{path}: unsupported architecture {arch} (model_type {model_type!r}); lmforge loads "
            f"causal LMs transformers knows, e.g. llama, qwen2, mistral ({len(supported)} types)"
        )
    return config


def resolve_model_dir(ref: str | Path) -> Path:
    """Turn a model reference into a checked local HF directory (converting a GGUF once)."""
    if str(ref) in DEFAULT_ALIASES:
        return prepare_default()
    path = Path(ref).expanduser()
    if not path.exists():
        raise ModelLoadError(
            f"model not found: {ref!r} is neither 'default' nor an existing path "
            "(lmforge loads local HF directories and .gguf files; it never downloads)"
        )
    if path.is_file():
        if path.suffix.lower() != ".gguf":
            raise ModelLoadError(f"{path}: a model file must be .gguf; else give its directory")
        check_gguf(path)
        return convert_gguf(path)
    ggufs = sorted(path.glob("*.gguf"))
    if not (path / "config.json").exists() and len(ggufs) == 1:
        check_gguf(ggufs[0])
        return convert_gguf(ggufs[0])
    check_hf_dir(path)
    return path


def load_model(ref: str | Path, dtype: Any = None, device: str = "cpu") -> LoadedModel:
    """Load a causal LM and tokenizer from a reference; fp32 on CPU unless told otherwise."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = resolve_model_dir(ref)
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype or torch.float32)
    model.to(device).eval()
    template = ensure_chat_template(tokenizer)
    if len(tokenizer) > model.get_input_embeddings().num_embeddings:
        model.resize_token_embeddings(len(tokenizer), mean_resizing=True)
    return LoadedModel(model=model, tokenizer=tokenizer, path=path, chat_template=template)
