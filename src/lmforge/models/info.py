"""What a model is, read from its files without loading the weights."""

import json
from pathlib import Path
from typing import Any

from lmforge.errors import ModelLoadError
from lmforge.models.default import DEFAULT_ALIASES, default_dir_if_prepared, default_gguf_path
from lmforge.models.loader import check_gguf, check_hf_dir, gguf_architecture


def _dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _param_count(path: Path) -> int:
    from safetensors import safe_open

    total = 0
    for f in sorted(path.glob("*.safetensors")):
        with safe_open(f, framework="pt") as st:
            for name in st.keys():  # noqa: SIM118 - safe_open has keys(), not __iter__
                n = 1
                for d in st.get_slice(name).get_shape():
                    n *= d
                total += n
    return total


def hf_dir_info(path: Path) -> dict[str, Any]:
    cfg = check_hf_dir(path)
    tok_cfg_file = path / "tokenizer_config.json"
    tok_cfg = json.loads(tok_cfg_file.read_text()) if tok_cfg_file.is_file() else {}
    has_template = (path / "chat_template.jinja").is_file() or "chat_template" in tok_cfg
    return {
        "path": str(path),
        "format": "hf",
        "architecture": (cfg.get("architectures") or ["?"])[0],
        "model_type": cfg.get("model_type"),
        "parameters": _param_count(path),
        "layers": cfg.get("num_hidden_layers"),
        "hidden_size": cfg.get("hidden_size"),
        "attention_heads": cfg.get("num_attention_heads"),
        "kv_heads": cfg.get("num_key_value_heads", cfg.get("num_attention_heads")),
        "vocab_size": cfg.get("vocab_size"),
        "context_length": cfg.get("max_position_embeddings"),
        "rope_theta": cfg.get("rope_theta") or (cfg.get("rope_parameters") or {}).get("rope_theta"),
        "tied_embeddings": cfg.get("tie_word_embeddings"),
        "dtype": cfg.get("dtype") or cfg.get("torch_dtype"),
        "chat_template": "model" if has_template else "chatml-fallback",
        "size_bytes": _dir_size(path),
    }


def model_info(ref: str) -> dict[str, Any]:
    """Describe a model by name or path; the default is described even before conversion."""
    if ref in DEFAULT_ALIASES:
        prepared = default_dir_if_prepared()
        if prepared is not None:
            return {"name": "default", **hf_dir_info(prepared)}
        gguf = default_gguf_path()
        return {"name": "default", **_gguf_info(gguf), "prepared": False}
    path = Path(ref).expanduser()
    if not path.exists():
        raise ModelLoadError(f"model not found: {ref!r} is neither 'default' nor an existing path")
    if path.is_file():
        return _gguf_info(path)
    return hf_dir_info(path)


def _gguf_info(path: Path) -> dict[str, Any]:
    check_gguf(path)
    return {
        "path": str(path),
        "format": "gguf",
        "architecture": gguf_architecture(path),
        "size_bytes": path.stat().st_size,
    }
