"""Tiny random-initialised models for tests: Llama and Qwen2 configs, a locally trained tokenizer.

Unit tests across lmforge build these in seconds with no download, so they exercise the real
transformers code paths (GQA, tied/untied embeddings, q/k/v bias) at toy size.
"""

import inspect
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from lmforge.models.chat import CHATML_END, CHATML_START, CHATML_TEMPLATE

SPECIAL_TOKENS = ["<|endoftext|>", CHATML_START, CHATML_END]
Arch = Literal["llama", "qwen2"]


def sample_corpus() -> list[str]:
    """Real English text available offline: docstrings of the Python standard library."""
    import collections
    import json as json_mod
    import pathlib
    import re

    texts = []
    for mod in (collections, json_mod, pathlib, re, inspect):
        for _, obj in inspect.getmembers(mod):
            doc = inspect.getdoc(obj)
            if doc and len(doc) > 40:
                texts.append(doc)
    return texts


def train_tokenizer(texts: Iterable[str] | None = None, vocab_size: int = 512) -> Any:
    """A byte-level BPE tokenizer trained on `texts`, with ChatML tokens and template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(list(texts if texts is not None else sample_corpus()), trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token=CHATML_END,
        pad_token="<|endoftext|>",
        bos_token=None,
    )
    fast.chat_template = CHATML_TEMPLATE
    return fast


def tiny_config(arch: Arch, vocab_size: int, **overrides: Any) -> Any:
    """A 2-layer config with grouped-query attention (4 query heads, 2 KV heads)."""
    from transformers import LlamaConfig, Qwen2Config

    common: dict[str, Any] = dict(
        vocab_size=vocab_size,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        rope_theta=10000.0,
        eos_token_id=None,
        bos_token_id=None,
        pad_token_id=None,
    )
    if arch == "llama":
        common["tie_word_embeddings"] = True
        common.update(overrides)
        return LlamaConfig(**common)
    if arch == "qwen2":
        common["tie_word_embeddings"] = False  # Qwen2 adds q/k/v bias; untied covers the other case
        common.update(overrides)
        return Qwen2Config(**common)
    raise ValueError(f"unknown tiny architecture {arch!r}; use 'llama' or 'qwen2'")


def make_tiny_model(
    arch: Arch, out_dir: str | Path, tokenizer: Any | None = None, seed: int = 0, **overrides: Any
) -> Path:
    """Save a random tiny model + tokenizer as a normal HF directory and return it."""
    import torch
    from transformers import AutoModelForCausalLM

    tokenizer = tokenizer if tokenizer is not None else train_tokenizer()
    eos = tokenizer.convert_tokens_to_ids(CHATML_END)
    pad = tokenizer.pad_token_id
    config = tiny_config(arch, len(tokenizer), eos_token_id=eos, pad_token_id=pad, **overrides)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    out = Path(out_dir)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    gen = {"eos_token_id": eos, "pad_token_id": pad}
    (out / "generation_config.json").write_text(json.dumps(gen))
    return out


# HF Llama parameter names -> llama.cpp GGUF tensor names (per layer, then global).
GGUF_LAYER_NAMES = {
    "input_layernorm": "attn_norm",
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "post_attention_layernorm": "ffn_norm",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}


def permute_rotary(w: Any, heads: int) -> Any:
    """HF's rotate-half q/k rows -> llama.cpp's interleaved pairs (transformers inverts it)."""
    return (
        w.reshape(heads, 2, w.shape[0] // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)
    )


def make_tiny_gguf(model_dir: str | Path, out_file: str | Path) -> Path:
    """Write a tiny HF Llama directory as an F32 GGUF file, as llama.cpp would lay it out.

    Tests use it to exercise GGUF loading and the conversion cache in seconds instead of the
    ~40 s the default model takes.
    """
    import numpy as np
    from gguf import GGUFWriter
    from safetensors.numpy import load_file
    from transformers import AutoConfig, AutoTokenizer

    model_dir, out = Path(model_dir), Path(out_file)
    cfg = AutoConfig.from_pretrained(model_dir)
    if cfg.model_type != "llama":
        raise ValueError(f"make_tiny_gguf writes llama models, got {cfg.model_type!r}")
    tok = AutoTokenizer.from_pretrained(model_dir)
    weights = load_file(model_dir / "model.safetensors")

    w = GGUFWriter(str(out), "llama")
    w.add_context_length(cfg.max_position_embeddings)
    w.add_embedding_length(cfg.hidden_size)
    w.add_block_count(cfg.num_hidden_layers)
    w.add_feed_forward_length(cfg.intermediate_size)
    w.add_head_count(cfg.num_attention_heads)
    w.add_head_count_kv(cfg.num_key_value_heads)
    w.add_rope_freq_base(float(cfg.rope_parameters["rope_theta"]))
    w.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    w.add_vocab_size(cfg.vocab_size)
    backend = json.loads(tok.backend_tokenizer.to_str())["model"]
    vocab = sorted(backend["vocab"].items(), key=lambda kv: kv[1])
    added = {t.content for t in tok.added_tokens_decoder.values()}
    w.add_tokenizer_model("gpt2")
    w.add_token_list([t for t, _ in vocab])
    w.add_token_types([3 if t in added else 1 for t, _ in vocab])  # 3 = control, 1 = normal
    w.add_token_merges([m if isinstance(m, str) else " ".join(m) for m in backend["merges"]])
    w.add_eos_token_id(tok.eos_token_id)
    w.add_pad_token_id(tok.pad_token_id)
    w.add_chat_template(tok.chat_template)

    def put(name: str, key: str) -> None:
        w.add_tensor(name, np.ascontiguousarray(weights[key], dtype=np.float32))

    heads = {
        "self_attn.q_proj": cfg.num_attention_heads,
        "self_attn.k_proj": cfg.num_key_value_heads,
    }
    for i in range(cfg.num_hidden_layers):
        for proj, n in heads.items():
            key = f"model.layers.{i}.{proj}.weight"
            weights[key] = permute_rotary(weights[key], n)

    put("token_embd.weight", "model.embed_tokens.weight")
    for i in range(cfg.num_hidden_layers):
        for hf, gg in GGUF_LAYER_NAMES.items():
            put(f"blk.{i}.{gg}.weight", f"model.layers.{i}.{hf}.weight")
    put("output_norm.weight", "model.norm.weight")
    if "lm_head.weight" in weights:
        put("output.weight", "lm_head.weight")
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return out


def make_random_adapter(
    base_dir: str | Path,
    out_dir: str | Path,
    seed: int = 0,
    r: int = 8,
    targets: list[str] | None = None,
    b_scale: float = 4.0,
    merged_dir: str | Path | None = None,
) -> Path:
    """A PEFT LoRA adapter with random nonzero A and B (B x `b_scale`, so it changes outputs)
    over `base_dir`, saved as `lmforge train` saves one; with `merged_dir`, also the merged
    model (PEFT's merge_and_unload), the reference a served adapter must match."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = Path(base_dir)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    targets = targets or [
        "q_proj",
        "k_proj",
        "v_proj",
        "o_proj",
        "gate_proj",
        "up_proj",
        "down_proj",
    ]
    cfg = LoraConfig(r=r, lora_alpha=2 * r, target_modules=targets, init_lora_weights=False)
    peft_model = get_peft_model(model, cfg)
    with torch.no_grad():
        for n, p in peft_model.named_parameters():
            if "lora_B" in n:
                p.mul_(b_scale)
    peft_model.save_pretrained(out_dir)
    if merged_dir is not None:
        merged = peft_model.merge_and_unload()
        merged.save_pretrained(merged_dir, safe_serialization=True)
        AutoTokenizer.from_pretrained(base).save_pretrained(merged_dir)
        gen = base / "generation_config.json"
        if gen.is_file():
            (Path(merged_dir) / "generation_config.json").write_text(gen.read_text())
    return Path(out_dir)
