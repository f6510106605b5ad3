"""Checkpoints are committed atomically; Ctrl-C saves and stops; --resume continues exactly."""

import os
import signal
from pathlib import Path
from typing import Any

import pytest
from transformers import TrainerCallback

from lmforge.config import load_config
from lmforge.errors import LMForgeError
from lmforge.runs import load_manifest, start_run
from lmforge.train.checkpoints import COMMIT, latest_checkpoint
from lmforge.train.config import SftConfig
from lmforge.train.sft import train_sft


class CtrlCAt(TrainerCallback):
    """Deliver a real SIGINT to this process while step `step` is running."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if state.global_step + 1 == self.step:
            os.kill(os.getpid(), signal.SIGINT)


def _cfg(flags_fn: Any, tiny_llama_dir: Path, chat_jsonl: Path, out: Path) -> SftConfig:
    # dropout on, so resuming must also restore the RNG to match
    flags = flags_fn(tiny_llama_dir, chat_jsonl, out, max_steps=6, save_steps=4)
    return load_config(SftConfig, None, flags | {"lora.dropout": 0.1, "learning_rate": 1e-2})


def test_interrupt_then_resume_matches_uninterrupted(
    tiny_llama_dir: Path, chat_jsonl: Path, tmp_path: Path, isolated_runs: Path, tiny_flags: Any
) -> None:
    ref_cfg = _cfg(tiny_flags, tiny_llama_dir, chat_jsonl, tmp_path / "ref")
    with start_run("train", ref_cfg) as run:
        ref = train_sft(ref_cfg, run)

    cfg = _cfg(tiny_flags, tiny_llama_dir, chat_jsonl, tmp_path / "cut")
    with pytest.raises(KeyboardInterrupt), start_run("train", cfg) as run:
        train_sft(cfg, run, callbacks=(CtrlCAt(3),))
    manifest = load_manifest(run.dir)
    assert manifest["status"] == "failed" and "Ctrl-C" in manifest["error"]
    ckpt = latest_checkpoint(tmp_path / "cut" / "checkpoints")
    assert ckpt is not None and ckpt.name == "checkpoint-3"  # the interrupted step, saved
    assert (ckpt / COMMIT).is_file() and (ckpt / "chat_template.jinja").is_file()
    assert not (tmp_path / "cut" / "final").exists()

    with pytest.raises(LMForgeError, match="--resume"), start_run("train", cfg) as run:
        train_sft(cfg, run)  # refusing to train over existing checkpoints without --resume

    # crash debris: an uncommitted newer checkpoint must be ignored and cleaned
    (tmp_path / "cut" / "checkpoints" / "checkpoint-5").mkdir()
    resumed_cfg = cfg.model_copy(update={"resume": True})
    with start_run("train", resumed_cfg) as run:
        resumed = train_sft(resumed_cfg, run)
    assert not (tmp_path / "cut" / "checkpoints" / "checkpoint-5").exists()
    assert resumed["steps"] == ref["steps"] == 6
    ref_losses = [h["loss"] for h in ref_history(isolated_runs, "ref")]
    cut_losses = [h["loss"] for h in ref_history(isolated_runs, "cut")]
    assert len(cut_losses) == len(ref_losses) == 6
    assert cut_losses == pytest.approx(ref_losses, abs=1e-4)
    assert resumed["final_loss"] == pytest.approx(ref["final_loss"], abs=1e-4)


def ref_history(runs: Path, out_name: str) -> list[dict[str, Any]]:
    """Logged steps of the succeeded runs writing to `out_name`, in step order."""
    hist: dict[int, dict[str, Any]] = {}
    for d in sorted(runs.iterdir()):
        m = load_manifest(d)
        if m["config"]["output_dir"].endswith(out_name) and "history" in m["metrics"]:
            for h in m["metrics"]["history"]:
                if "loss" in h:
                    hist[h["step"]] = h
    return [hist[k] for k in sorted(hist)]
