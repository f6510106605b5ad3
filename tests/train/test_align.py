"""DPO, reward model, GRPO (verifiable reward) and QLoRA on the tiny models."""

from pathlib import Path
from typing import Any

import pytest

from lmforge.config import load_config
from lmforge.errors import LMForgeError
from lmforge.extras import is_available
from lmforge.runs import start_run
from lmforge.train import model as train_model
from lmforge.train.config import DpoConfig, RewardConfig, RlConfig, SftConfig
from lmforge.train.dpo import train_dpo, train_reward
from lmforge.train.rewards import extract_answer, gsm8k_correct, gsm8k_format
from lmforge.train.rl import train_rl
from lmforge.train.sft import train_sft


def test_dpo_lora_trains_and_logs_preference_metrics(
    tiny_llama_dir: Path, pref_jsonl: Path, tmp_path: Path, tiny_flags: Any
) -> None:
    flags = tiny_flags(tiny_llama_dir, pref_jsonl, tmp_path, max_steps=2, learning_rate=1e-3)
    cfg = load_config(DpoConfig, None, flags | {"loss_type": "sigmoid,sft"})
    with start_run("train", cfg) as run:
        summary = train_dpo(cfg, run)
    assert summary["steps"] == 2 and (tmp_path / "final" / "adapter_model.safetensors").is_file()
    logged = [h for h in run.manifest["metrics"]["history"] if "loss" in h]
    assert any(k.startswith("rewards/") for k in logged[0])


def test_reward_model_has_a_score_head(
    tiny_llama_dir: Path, pref_jsonl: Path, tmp_path: Path, tiny_flags: Any
) -> None:
    cfg = load_config(
        RewardConfig, None, tiny_flags(tiny_llama_dir, pref_jsonl, tmp_path, max_steps=2)
    )
    with start_run("train", cfg) as run:
        summary = train_reward(cfg, run)
    assert summary["steps"] == 2
    saved = (tmp_path / "final" / "adapter_model.safetensors").is_file()
    assert saved and "score" in (tmp_path / "final" / "adapter_config.json").read_text()


def test_grpo_with_gsm8k_reward(
    tiny_llama_dir: Path, prompt_jsonl: Path, tmp_path: Path, tiny_flags: Any
) -> None:
    flags = tiny_flags(tiny_llama_dir, prompt_jsonl, tmp_path, max_steps=1, batch_size=4)
    cfg = load_config(RlConfig, None, flags | {"num_generations": 2, "max_completion_length": 8})
    with start_run("train", cfg) as run:
        summary = train_rl(cfg, run)
    assert summary["steps"] == 1
    logged = next(h for h in run.manifest["metrics"]["history"] if "loss" in h)
    assert "rewards/gsm8k_correct/mean" in logged and "rewards/gsm8k_format/mean" in logged


def test_grpo_config_errors_are_one_line(
    tiny_llama_dir: Path, chat_jsonl: Path, prompt_jsonl: Path, tmp_path: Path, tiny_flags: Any
) -> None:
    bad = tiny_flags(tiny_llama_dir, prompt_jsonl, tmp_path, batch_size=3)
    cfg = load_config(RlConfig, None, bad | {"num_generations": 2})
    with pytest.raises(LMForgeError, match="multiple of num_generations"), start_run("t", cfg) as r:
        train_rl(cfg, r)
    cfg = load_config(RlConfig, None, tiny_flags(tiny_llama_dir, chat_jsonl, tmp_path))
    with (
        pytest.raises(LMForgeError, match="needs prompt_only data, got chat"),
        start_run("t", cfg) as r,
    ):
        train_rl(cfg, r)


def test_gsm8k_answer_extraction_and_rewards() -> None:
    assert extract_answer("She makes 9 * 2 = $18.\n#### 18") == "18"
    assert extract_answer("so 1,234.50 total") == "1234.5"
    assert extract_answer("no number") is None
    ref = ["... #### 18", "#### 3"]
    done = [[{"role": "assistant", "content": "9*2=18 #### 18"}], "it is 4"]
    assert gsm8k_correct(done, answer=ref) == [1.0, 0.0]
    assert gsm8k_format(done) == [1.0, 0.0]


@pytest.mark.skipif(not is_available("bitsandbytes"), reason="bitsandbytes not installed")
def test_qlora_trains_a_4bit_base_on_cpu(
    tiny_llama_dir: Path, chat_jsonl: Path, tmp_path: Path, tiny_flags: Any
) -> None:
    flags = tiny_flags(tiny_llama_dir, chat_jsonl, tmp_path, max_steps=1, method="qlora")
    cfg = load_config(SftConfig, None, flags)
    tm = train_model.load_for_training(cfg.model, "qlora", cfg.lora)
    assert tm.method == "qlora" and tm.note is None
    layer = tm.model.base_model.model.model.layers[0].mlp.down_proj.base_layer
    assert type(layer).__name__ == "Linear4bit"
    with start_run("train", cfg) as run:
        assert train_sft(cfg, run, tm=tm)["method"] == "qlora"


def test_qlora_falls_back_to_lora_with_a_message(
    tiny_llama_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(train_model, "qlora_unavailable_reason", lambda: "no backend here")
    tm = train_model.load_for_training(
        str(tiny_llama_dir), "qlora", SftConfig.model_fields["lora"].default_factory()
    )
    assert tm.method == "lora" and "no backend here" in tm.note and "LoRA" in tm.note
