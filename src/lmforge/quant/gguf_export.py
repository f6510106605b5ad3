"""`export_gguf`: a Llama-family model (float, or an AWQ/GPTQ checkpoint dequantized) as one
GGUF file in the layout llama.cpp's own converter writes, so llama.cpp and Ollama run it.

Names and metadata follow llama.cpp's convert_hf_to_gguf.py: `blk.N.attn_q` etc., Q/K rows
permuted into llama.cpp's rotary layout for the llama architecture (Qwen2 is not permuted),
the BPE tokenizer as `gpt2` with token types, merges, special ids and the chat template (via
gguf.SpecialVocab). Q8_0/Q4_0 use gguf's reference quantizers; embedding/output stay Q8_0 under
Q4_0 (the one projection every logit depends on), norms and biases stay F32.
"""

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lmforge.errors import LMForgeError
from lmforge.models.tiny import GGUF_LAYER_NAMES, permute_rotary
from lmforge.quant.config import GgufExportConfig

log = logging.getLogger(__name__)

ARCH = {"llama": "llama", "mistral": "llama", "qwen2": "qwen2"}
FILE_TYPE = {"F32": 0, "F16": 1, "Q4_0": 2, "Q8_0": 7}


def float_tensors(path: Path, config: Any) -> dict[str, torch.Tensor]:
    """All weights as float tensors (packed AWQ/GPTQ linears dequantized), HF names."""
    from safetensors.torch import load_file

    from lmforge.quant.load import unpack_checkpoint

    tensors: dict[str, torch.Tensor] = {}
    for f in sorted(path.glob("*.safetensors")):
        tensors.update(load_file(str(f)))
    unpack_checkpoint(config, tensors)
    return tensors


def pre_tokenizer(path: Path, tokenizer_json: dict[str, Any]) -> str:
    """llama.cpp's pre-tokenizer name: the source GGUF's when the model came from one, else
    read off the HF pre-tokenizer's structure."""
    source = path / "lmforge-source.json"
    if source.is_file():
        from gguf import GGUFReader

        gguf_file = Path(json.loads(source.read_text())["gguf"])
        if gguf_file.is_file():
            field = GGUFReader(gguf_file).fields.get("tokenizer.ggml.pre")
            if field is not None:
                return str(field.contents())
    pre = tokenizer_json.get("pre_tokenizer") or {}
    steps = pre.get("pretokenizers", [pre]) if pre.get("type") == "Sequence" else [pre]
    kinds = [s.get("type") for s in steps]
    if kinds == ["ByteLevel"] and steps[0].get("use_regex", True):
        return "gpt-2"
    if kinds == ["Digits", "ByteLevel"] and steps[0].get("individual_digits"):
        return "smollm"
    log.warning("pre-tokenizer %s has no llama.cpp name here; writing 'default'", kinds)
    return "default"


def add_tokenizer(writer: Any, path: Path, vocab_size: int) -> None:
    import gguf
    from transformers import AutoTokenizer

    tj_file = path / "tokenizer.json"
    if not tj_file.is_file():
        raise LMForgeError(f"{path}: no tokenizer.json; export gguf writes BPE tokenizers only")
    tj = json.loads(tj_file.read_text(encoding="utf-8"))
    if tj["model"]["type"] != "BPE" or tj["model"].get("byte_fallback"):
        raise LMForgeError(
            f"{path}: tokenizer model {tj['model']['type']} (byte_fallback="
            f"{tj['model'].get('byte_fallback')}); export gguf writes byte-level BPE (gpt2) only"
        )
    tok = AutoTokenizer.from_pretrained(path)
    reverse = {i: t for t, i in tok.get_vocab().items()}
    added = tok.added_tokens_decoder
    tokens, types = [], []
    for i in range(vocab_size):
        if i not in reverse:
            tokens.append(f"[PAD{i}]")
            types.append(gguf.TokenType.UNUSED)
        elif i in added:
            tokens.append(reverse[i])
            types.append(
                gguf.TokenType.CONTROL if added[i].special else gguf.TokenType.USER_DEFINED
            )
        else:
            tokens.append(reverse[i])
            types.append(gguf.TokenType.NORMAL)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(pre_tokenizer(path, tj))
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    special = gguf.SpecialVocab(path, load_merges=True, n_vocab=vocab_size)
    special.add_to_gguf(writer)
    if tok.chat_template and "tokenizer.chat_template" not in writer.kv_data[0]:
        writer.add_chat_template(tok.chat_template)


def add_hparams(writer: Any, cfg: Any, name: str) -> None:
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    writer.add_name(name)
    writer.add_context_length(cfg.max_position_embeddings)
    writer.add_embedding_length(cfg.hidden_size)
    writer.add_block_count(cfg.num_hidden_layers)
    writer.add_feed_forward_length(cfg.intermediate_size)
    writer.add_head_count(cfg.num_attention_heads)
    writer.add_head_count_kv(cfg.num_key_value_heads)
    writer.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    writer.add_vocab_size(cfg.vocab_size)
    writer.add_rope_dimension_count(head_dim)
    if head_dim != cfg.hidden_size // cfg.num_attention_heads:
        writer.add_key_length(head_dim)
        writer.add_value_length(head_dim)
    rope = getattr(cfg, "rope_parameters", None) or getattr(cfg, "rope_scaling", None) or {}
    theta = rope.get("rope_theta", getattr(cfg, "rope_theta", 10000.0))
    writer.add_rope_freq_base(float(theta))
    kind = rope.get("rope_type", rope.get("type", "default"))
    if kind == "linear":
        import gguf

        writer.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        writer.add_rope_scaling_factor(float(rope["factor"]))
    elif kind != "default":
        raise LMForgeError(f"rope_type {kind!r}: export gguf writes default and linear RoPE only")


def encode(writer: Any, name: str, t: np.ndarray, kind: str) -> None:
    """Add one tensor in the requested type (1-D tensors and odd rows stay float)."""
    import gguf

    if t.ndim == 1 or kind == "F32":
        writer.add_tensor(name, t.astype(np.float32))
        return
    if kind == "F16" or t.shape[-1] % 32:
        writer.add_tensor(name, t.astype(np.float16))
        return
    if kind == "Q4_0" and name in ("token_embd.weight", "output.weight"):
        kind = "Q8_0"
    qtype = gguf.GGMLQuantizationType[kind]
    writer.add_tensor(name, gguf.quants.quantize(t.astype(np.float32), qtype), raw_dtype=qtype)


def export_gguf(cfg: GgufExportConfig, run: Any = None) -> dict[str, Any]:
    """Write `cfg.model` as a GGUF file at `cfg.out`; return a summary."""
    import gguf
    from transformers import AutoConfig

    from lmforge.models.loader import resolve_model_dir

    path = resolve_model_dir(cfg.model)
    hf = AutoConfig.from_pretrained(path)
    arch = ARCH.get(hf.model_type)
    if arch is None:
        raise LMForgeError(
            f"{path}: export gguf writes {', '.join(ARCH)} models, not {hf.model_type!r}"
        )
    out = Path(cfg.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    w = gguf.GGUFWriter(str(tmp), arch)
    add_hparams(w, hf, getattr(hf, "_name_or_path", "") or path.name)
    w.add_file_type(FILE_TYPE[cfg.type])
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)
    add_tokenizer(w, path, hf.vocab_size)
    t = {k: v.float().numpy() for k, v in float_tensors(path, hf).items()}
    heads = {"self_attn.q_proj": hf.num_attention_heads, "self_attn.k_proj": hf.num_key_value_heads}
    encode(w, "token_embd.weight", t["model.embed_tokens.weight"], cfg.type)
    for i in range(hf.num_hidden_layers):
        for src, dst in GGUF_LAYER_NAMES.items():
            for kind in ("weight", "bias"):
                key = f"model.layers.{i}.{src}.{kind}"
                if key not in t:
                    continue
                x = t[key]
                if arch == "llama" and src in heads:
                    x = permute_rotary(x, heads[src])
                encode(w, f"blk.{i}.{dst}.{kind}", x, cfg.type)
    encode(w, "output_norm.weight", t["model.norm.weight"], cfg.type)
    if not getattr(hf, "tie_word_embeddings", False):
        encode(w, "output.weight", t["lm_head.weight"], cfg.type)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    tmp.replace(out)
    summary = {"out": str(out), "type": cfg.type, "bytes": out.stat().st_size, "arch": arch}
    if run is not None:
        run.add_input(path, role="model")
        run.add_output(out, role="gguf")
        run.log_metrics(**summary)
    return summary
