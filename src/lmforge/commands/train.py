"""`lmforge train sft|dpo|reward|rl|merge`: YAML config + flags of the same names."""

from pathlib import Path
from typing import Any

import typer

from lmforge.commands.common import console
from lmforge.config import StageConfig, load_config

app = typer.Typer(
    help="Fine-tune and align: SFT, LoRA/QLoRA, DPO, reward model, RL (GRPO), merge.",
    no_args_is_help=True,
)

Config = typer.Option(None, "--config", "-c", help="YAML mirroring the config keys.")
Model = typer.Option(None, help="Base model: 'default', an HF dir or a .gguf.")
Method = typer.Option(None, help="full, lora or qlora.")
Data = typer.Option(None, "--data", help="Training data file/dir (data.path).")
EvalData = typer.Option(None, "--eval-data", help="Validation data (data.eval_path).")
MaxLength = typer.Option(None, help="Tokens per example (data.max_length).")
Limit = typer.Option(None, help="Use only the first N examples (data.limit).")
OutputDir = typer.Option(None, help="Where checkpoints and the final model go.")
MaxSteps = typer.Option(None, help="Optimizer steps (-1: use epochs).")
Epochs = typer.Option(None, help="Passes over the data.")
LearningRate = typer.Option(None, help="Peak learning rate.")
BatchSize = typer.Option(None, help="Examples per micro-batch.")
GradAccum = typer.Option(None, help="Micro-batches per optimizer step.")
SaveSteps = typer.Option(None, help="Checkpoint every N steps.")
EvalSteps = typer.Option(None, help="Validation loss every N steps.")
LoraR = typer.Option(None, help="LoRA rank (lora.r).")
Resume = typer.Option(None, "--resume/--no-resume", help="Continue from the newest checkpoint.")
Threads = typer.Option(None, help="torch CPU threads.")
RunsDir = typer.Option(None, help="Runs root (default ./runs).")


def _common(**kw: Any) -> dict[str, Any]:
    """Flag names -> config keys (dotted where the key lives in a section)."""
    dotted = {
        "data": "data.path",
        "eval_data": "data.eval_path",
        "max_length": "data.max_length",
        "limit": "data.limit",
        "lora_r": "lora.r",
    }
    return {dotted.get(k, k): v for k, v in kw.items()}


def _run(stage_cfg: StageConfig, runs_dir: Path | None, fn: Any) -> None:
    from lmforge.runs import start_run

    with start_run("train", stage_cfg, runs_dir) as run:
        try:
            summary = fn(stage_cfg, run)
        except KeyboardInterrupt as e:
            console.print(f"[yellow]interrupted[/]: {e or 'no checkpoint saved'}; run {run.id}")
            raise typer.Exit(130) from None
    shown = {k: v for k, v in summary.items() if k != "history"}
    console.print(f"run {run.id}: " + ", ".join(f"{k}={v}" for k, v in shown.items()))


@app.command()
def sft(
    config: Path | None = Config,
    model: str | None = Model,
    method: str | None = Method,
    data: str | None = Data,
    eval_data: str | None = EvalData,
    max_length: int | None = MaxLength,
    limit: int | None = Limit,
    output_dir: str | None = OutputDir,
    max_steps: int | None = MaxSteps,
    epochs: float | None = Epochs,
    learning_rate: float | None = LearningRate,
    batch_size: int | None = BatchSize,
    grad_accum: int | None = GradAccum,
    save_steps: int | None = SaveSteps,
    eval_steps: int | None = EvalSteps,
    lora_r: int | None = LoraR,
    packing: bool | None = typer.Option(None, "--packing/--no-packing", help="Pack examples."),
    resume: bool | None = Resume,
    threads: int | None = Threads,
    runs_dir: Path | None = RunsDir,
) -> None:
    """Supervised fine-tuning (full, LoRA, QLoRA) on chat / prompt-completion / text data."""
    flags = _common(**{k: v for k, v in locals().items() if k not in ("config", "runs_dir")})
    from lmforge.train.config import SftConfig
    from lmforge.train.sft import train_sft

    _run(load_config(SftConfig, config, flags), runs_dir, train_sft)


@app.command()
def dpo(
    config: Path | None = Config,
    model: str | None = Model,
    method: str | None = Method,
    data: str | None = Data,
    eval_data: str | None = EvalData,
    max_length: int | None = MaxLength,
    limit: int | None = Limit,
    output_dir: str | None = OutputDir,
    max_steps: int | None = MaxSteps,
    epochs: float | None = Epochs,
    learning_rate: float | None = LearningRate,
    batch_size: int | None = BatchSize,
    save_steps: int | None = SaveSteps,
    beta: float | None = typer.Option(None, help="KL strength."),
    loss_type: str | None = typer.Option(None, help="TRL loss type(s), comma-separated."),
    resume: bool | None = Resume,
    threads: int | None = Threads,
    runs_dir: Path | None = RunsDir,
) -> None:
    """Direct preference optimisation on prompt/chosen/rejected pairs."""
    flags = _common(**{k: v for k, v in locals().items() if k not in ("config", "runs_dir")})
    from lmforge.train.config import DpoConfig
    from lmforge.train.dpo import train_dpo

    _run(load_config(DpoConfig, config, flags), runs_dir, train_dpo)


@app.command()
def reward(
    config: Path | None = Config,
    model: str | None = Model,
    method: str | None = Method,
    data: str | None = Data,
    output_dir: str | None = OutputDir,
    max_steps: int | None = MaxSteps,
    epochs: float | None = Epochs,
    learning_rate: float | None = LearningRate,
    batch_size: int | None = BatchSize,
    resume: bool | None = Resume,
    threads: int | None = Threads,
    runs_dir: Path | None = RunsDir,
) -> None:
    """Train a reward model (sequence-classification head) on preference pairs."""
    flags = _common(**{k: v for k, v in locals().items() if k not in ("config", "runs_dir")})
    from lmforge.train.config import RewardConfig
    from lmforge.train.dpo import train_reward

    _run(load_config(RewardConfig, config, flags), runs_dir, train_reward)


@app.command()
def rl(
    config: Path | None = Config,
    model: str | None = Model,
    method: str | None = Method,
    data: str | None = Data,
    output_dir: str | None = OutputDir,
    max_steps: int | None = MaxSteps,
    learning_rate: float | None = LearningRate,
    batch_size: int | None = BatchSize,
    reward: str | None = typer.Option(None, help="gsm8k, format, or a reward-model dir."),
    num_generations: int | None = typer.Option(None, help="Completions per prompt."),
    max_completion_length: int | None = typer.Option(None, help="Tokens per completion."),
    resume: bool | None = Resume,
    threads: int | None = Threads,
    runs_dir: Path | None = RunsDir,
) -> None:
    """GRPO against a verifiable reward (GSM8K correctness) or a reward model."""
    flags = _common(**{k: v for k, v in locals().items() if k not in ("config", "runs_dir")})
    from lmforge.train.config import RlConfig
    from lmforge.train.rl import train_rl

    _run(load_config(RlConfig, config, flags), runs_dir, train_rl)


@app.command()
def merge(
    config: Path | None = Config,
    adapter: str | None = typer.Option(None, help="LoRA adapter directory."),
    output: str | None = typer.Option(None, help="Directory for the merged model."),
    base: str | None = typer.Option(None, help="Base model (default: the adapter's)."),
    runs_dir: Path | None = RunsDir,
) -> None:
    """Merge a LoRA adapter into its base; verify logits; save safetensors."""
    from lmforge.train.config import MergeConfig
    from lmforge.train.merge import merge_adapter

    flags = {"adapter": adapter, "output": output, "base": base}
    _run(load_config(MergeConfig, config, flags), runs_dir, merge_adapter)
