"""LoRA SFT writes what it promises; merge gives the same logits and loads everywhere."""

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from transformers import AutoModelForCausalLM

from lmforge.config import load_config
from lmforge.errors import LMForgeError
from lmforge.models.loader import load_model
from lmforge.runs import load_manifest, start_run
from lmforge.train.checkpoints import COMMIT
from lmforge.train.config import MergeConfig, SftConfig
from lmforge.train.merge import merge_adapter
from lmforge.train.sft import train_sft


@pytest.fixture(scope="module")
def sft_run(
    tiny_qwen2_dir: Path,
    chat_jsonl: Path,
    tmp_path_factory: pytest.TempPathFactory,
    tiny_flags: Any,
):
    """One LoRA SFT run on the tiny Qwen2 (untied head, q/k/v bias) with validation."""
    out = tmp_path_factory.mktemp("sft")
    flags = tiny_flags(tiny_qwen2_dir, chat_jsonl, out, eval_steps=2)
    cfg = load_config(SftConfig, None, flags | {"data.eval_fraction": 0.25, "learning_rate": 5e-3})
    with start_run("train", cfg, out / "runs") as run:
        summary = train_sft(cfg, run)
    return cfg, summary, load_manifest(run.dir), run.dir


def test_sft_writes_adapter_template_checkpoints_curve_and_metrics(sft_run: Any) -> None:
    cfg, summary, manifest, run_dir = sft_run
    out = Path(cfg.output_dir)
    final = out / "final"
    assert (final / "adapter_model.safetensors").is_file()
    assert "generation" in (final / "chat_template.jinja").read_text()
    assert sorted(p.name for p in (out / "checkpoints").glob("checkpoint-*")) == [
        "checkpoint-2",
        "checkpoint-4",
    ]
    assert all((p / COMMIT).is_file() for p in (out / "checkpoints").glob("checkpoint-*"))
    assert (run_dir / "loss_curve.png").read_bytes()[:4] == b"\x89PNG"
    assert manifest["status"] == "succeeded" and summary["steps"] == 4
    history = manifest["metrics"]["history"]
    steps = [h for h in history if "loss" in h]
    assert [h["step"] for h in steps] == [1, 2, 3, 4]
    for h in steps:
        assert {"learning_rate", "grad_norm", "tokens_per_s", "peak_memory_mb"} <= set(h)
        assert h["tokens_per_s"] > 0 and h["peak_memory_mb"] > 0
    assert [h["step"] for h in history if "eval_loss" in h] == [2, 4]
    data = manifest["metrics"]["data"]
    assert data["train"]["form"] == "chat" and data["eval"]["rows"] == 12
    assert {o["role"] for o in manifest["outputs"]} >= {"adapter", "loss_curve"}
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == len(history)


def test_merge_matches_base_plus_adapter_and_loads(sft_run: Any, tmp_path: Path) -> None:
    from peft import PeftModel

    cfg, *_ = sft_run
    adapter = Path(cfg.output_dir) / "final"
    merge_cfg = MergeConfig(adapter=str(adapter), output=str(tmp_path / "merged"))
    with start_run("train", merge_cfg) as run:
        metrics = merge_adapter(merge_cfg, run)
    assert metrics["max_abs_logit_diff"] < 1e-4
    merged_dir = tmp_path / "merged"
    assert (merged_dir / "model.safetensors").is_file()
    assert not (merged_dir / "adapter_config.json").exists()
    ids = torch.tensor([[5, 17, 42, 99, 3]])
    base = AutoModelForCausalLM.from_pretrained(cfg.model, dtype=torch.float32)
    with torch.no_grad():
        want = PeftModel.from_pretrained(base, adapter).eval()(ids).logits
        got_hf = AutoModelForCausalLM.from_pretrained(merged_dir).eval()(ids).logits
        got_lmforge = load_model(merged_dir).model(ids).logits
    torch.testing.assert_close(got_hf, want, atol=1e-4, rtol=0)
    torch.testing.assert_close(got_lmforge, want, atol=1e-4, rtol=0)
    assert load_model(merged_dir).chat_template == "model"


def test_merge_refuses_a_non_adapter(tmp_path: Path, tiny_llama_dir: Path) -> None:
    cfg = MergeConfig(adapter=str(tiny_llama_dir), output=str(tmp_path / "m"))
    with (
        pytest.raises(LMForgeError, match=r"no adapter_config\.json"),
        start_run("train", cfg) as r,
    ):
        merge_adapter(cfg, r)


def test_full_finetune_saves_a_plain_model(
    tiny_llama_dir: Path, chat_jsonl: Path, tmp_path: Path, tiny_flags: Any
) -> None:
    flags = tiny_flags(tiny_llama_dir, chat_jsonl, tmp_path, max_steps=2, method="full")
    cfg = load_config(SftConfig, None, flags)
    with start_run("train", cfg) as run:
        summary = train_sft(cfg, run)
    final = tmp_path / "final"
    assert summary["method"] == "full" and (final / "model.safetensors").is_file()
    config = json.loads((final / "config.json").read_text())
    assert config["model_type"] == "llama"
    before = AutoModelForCausalLM.from_pretrained(tiny_llama_dir).state_dict()
    after = AutoModelForCausalLM.from_pretrained(final).state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)
