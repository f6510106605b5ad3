"""Padding-free batches with per-sequence attention compute exactly what padded batches do."""

from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
trl = pytest.importorskip("trl")


def _batches(lengths: tuple[int, ...]) -> tuple[dict[str, Any], dict[str, Any]]:
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    gen = torch.Generator().manual_seed(0)
    examples = [{"input_ids": torch.randint(5, 400, (n,), generator=gen).tolist()} for n in lengths]
    padded = DataCollatorForLanguageModeling(pad_token_id=0)(examples)
    flat = DataCollatorForLanguageModeling(pad_token_id=0, padding_free=True)(examples)
    return padded, flat


def _loss_and_grad(model: Any, batch: dict[str, Any]) -> tuple[float, Any]:
    model.zero_grad()
    loss = model(**batch).loss
    loss.backward()
    grad = model.model.layers[0].self_attn.q_proj.weight.grad.clone()
    return loss.item(), grad


def test_padding_free_varlen_matches_padded_loss_and_gradients(tiny_llama_dir: Path) -> None:
    from transformers import AutoModelForCausalLM

    from lmforge.train.attention import VARLEN, use_varlen_attention

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(tiny_llama_dir, dtype=torch.float32)
    padded, flat = _batches((7, 30, 19))
    assert flat["input_ids"].shape == (1, 56) and padded["input_ids"].shape == (3, 30)
    want_loss, want_grad = _loss_and_grad(model, padded)
    assert use_varlen_attention(model) and model.config._attn_implementation == VARLEN
    loss, grad = _loss_and_grad(model, flat)
    assert loss == pytest.approx(want_loss, abs=1e-5)
    torch.testing.assert_close(grad, want_grad, atol=1e-5, rtol=1e-4)
    # padded batches (eval, generation) still go through stock SDPA under the new name
    assert _loss_and_grad(model, padded)[0] == pytest.approx(want_loss, abs=1e-6)
    assert "lmforge" not in model.config.to_json_string()  # saved configs load anywhere


def test_sft_defaults_train_padding_free(
    tmp_path: Path, tiny_llama_dir: Path, chat_jsonl: Path, tiny_flags: Any
) -> None:
    from lmforge.config import load_config
    from lmforge.runs import start_run
    from lmforge.train.config import SftConfig
    from lmforge.train.model import load_for_training
    from lmforge.train.sft import train_sft

    seen: list[dict[str, Any]] = []
    cfg = load_config(SftConfig, None, tiny_flags(tiny_llama_dir, chat_jsonl, tmp_path / "o"))
    assert cfg.padding_free and not cfg.packing and not cfg.gradient_checkpointing
    tm = load_for_training(cfg.model, cfg.method, cfg.lora)
    tm.model.register_forward_pre_hook(
        lambda mod, args, kw: seen.append(kw) if mod.training else None, with_kwargs=True
    )
    with start_run("train", cfg, tmp_path / "runs") as run:
        summary = train_sft(cfg, run, tm=tm)
    assert summary["steps"] == 4 and summary["final_loss"] > 0
    first = seen[0]
    assert first["input_ids"].shape[0] == 1 and "attention_mask" not in first
    assert len(first["cu_seq_lens_q"]) == cfg.batch_size + 1  # one row, 4 examples in it
    # every token counts (the tiny tokenizer's pad id is not EOS, but SmolLM2's is)
    assert summary["tokens_seen"] == sum(kw["input_ids"].numel() for kw in seen)
