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
