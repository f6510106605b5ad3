"""Configs of `lmforge train sft|dpo|reward|rl|merge`.

One pydantic model per command; the YAML file mirrors it key for key and CLI flags of the same
names override it. The defaults are the ones that work on a laptop CPU and on a GPU alike: LoRA,
packing, assistant-only loss, fp32 unless bf16 is asked for, a checkpoint every 50 steps.
"""

from typing import Literal

from pydantic import Field, model_validator

from lmforge.config import StageConfig

Method = Literal["full", "lora", "qlora"]


class DataSection(StageConfig):
    """Where the examples come from and how they are checked before training."""

    path: str = Field(
        ..., description="JSONL/JSON/Parquet file, data dir, or datasets.save_to_disk dir."
    )
    split: str = Field("train", description="Split to read when the source has several.")
    eval_path: str | None = Field(None, description="Validation file (same forms as `path`).")
    eval_fraction: float = Field(
        0.0, ge=0.0, lt=1.0, description="Hold out this fraction of `path` for validation."
    )
    limit: int | None = Field(None, ge=1, description="Use only the first N examples.")
    max_length: int = Field(1024, ge=8, description="Tokens per example (prompt + answer).")
    overlong: Literal["truncate", "drop"] = Field(
        "truncate", description="What to do with examples longer than max_length."
    )
    on_bad: Literal["error", "drop"] = Field(
        "error", description="Malformed rows (empty turn, bad role order): stop, or drop and count."
    )


class LoraSection(StageConfig):
    """LoRA adapter shape; target modules default to every linear projection of the architecture."""

    r: int = Field(16, ge=1, description="Adapter rank.")
    alpha: int = Field(32, ge=1, description="Scaling numerator (scale = alpha / r).")
    dropout: float = Field(
        0.0, ge=0.0, lt=1.0, description="Adapter input dropout (PEFT default 0; >0 copies inputs)."
    )
    target_modules: list[str] | None = Field(
        None, description="Module names to adapt (default: chosen per architecture)."
    )


class TrainConfig(StageConfig):
    """What every training command shares: model, method, data, optimisation, checkpoints."""

    model: str = Field("default", description="Base model: 'default', an HF dir or a .gguf.")
    method: Method = Field("lora", description="full fine-tuning, LoRA, or QLoRA (4-bit base).")
    lora: LoraSection = Field(default_factory=LoraSection)
    data: DataSection
    output_dir: str = Field(..., description="Checkpoints and the final model/adapter go here.")
    learning_rate: float = Field(2e-4, gt=0, description="Peak learning rate.")
    epochs: float = Field(1.0, gt=0, description="Passes over the data (ignored if max_steps).")
    max_steps: int = Field(-1, description="Stop after this many optimizer steps (-1: epochs).")
    batch_size: int = Field(8, ge=1, description="Examples per device per micro-batch.")
    grad_accum: int = Field(1, ge=1, description="Micro-batches per optimizer step.")
    lr_scheduler: str = Field("cosine", description="transformers scheduler name.")
    warmup_ratio: float = Field(0.03, ge=0, lt=1, description="Fraction of steps warming up.")
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay.")
    max_grad_norm: float = Field(1.0, gt=0, description="Gradient clipping norm.")
    seed: int = Field(42, description="Seed for init, data order and dropout.")
    bf16: bool = Field(False, description="bf16 mixed precision (GPUs with bf16 support).")
    gradient_checkpointing: bool = Field(
        False, description="Recompute activations: less memory, ~20-30% slower."
    )
    logging_steps: int = Field(1, ge=1, description="Log metrics every N steps.")
    save_steps: int = Field(50, ge=1, description="Checkpoint every N steps.")
    save_total_limit: int | None = Field(3, ge=1, description="Keep only the newest N checkpoints.")
    eval_steps: int | None = Field(None, ge=1, description="Validation loss every N steps.")
    early_stopping_patience: int | None = Field(
        None, ge=1, description="Stop after N evaluations without validation-loss improvement."
    )
    resume: bool = Field(False, description="Continue from the newest complete checkpoint.")
    threads: int | None = Field(None, ge=1, description="torch CPU threads (default: all cores).")

    @model_validator(mode="after")
    def _eval_needs_data(self) -> "TrainConfig":
        has_eval = self.data.eval_path is not None or self.data.eval_fraction > 0
        if self.early_stopping_patience is not None and not (has_eval and self.eval_steps):
            raise ValueError("early_stopping_patience needs eval_steps and data.eval_path/fraction")
        if self.eval_steps and not has_eval:
            raise ValueError("eval_steps needs data.eval_path or data.eval_fraction > 0")
        return self


class SftConfig(TrainConfig):
    """Supervised fine-tuning on chat, prompt/completion or plain-text examples."""

    padding_free: bool = Field(
        True, description="Concatenate each batch's examples into one row: no padding computed."
    )
    packing: bool = Field(
        False, description="Pack examples into max_length rows (a batch is rows, not examples)."
    )
    assistant_only_loss: bool = Field(
        True, description="Loss on assistant tokens (and their EOS) only, not on prompts."
    )


class DpoConfig(TrainConfig):
    """Direct preference optimisation on prompt/chosen/rejected pairs."""

    learning_rate: float = Field(5e-6, gt=0, description="Peak learning rate.")
    beta: float = Field(0.1, gt=0, description="Strength of the KL pull towards the reference.")
    loss_type: str = Field(
        "sigmoid",
        description="TRL DPO loss(es), comma-separated: sigmoid, ipo, hinge, robust, sft, ...",
    )


class RewardConfig(TrainConfig):
    """A reward model: sequence-classification head trained on preference pairs."""

    learning_rate: float = Field(5e-5, gt=0, description="Peak learning rate.")


class RlConfig(TrainConfig):
    """GRPO against a verifiable reward function or a trained reward model."""

    learning_rate: float = Field(1e-5, gt=0, description="Peak learning rate.")
    reward: str = Field(
        "gsm8k",
        description="'gsm8k' (correct + format), 'format' ('#### N'), or a reward-model dir.",
    )
    num_generations: int = Field(4, ge=2, description="Completions sampled per prompt (group).")
    max_completion_length: int = Field(128, ge=1, description="Tokens per sampled completion.")
    temperature: float = Field(1.0, gt=0, description="Sampling temperature.")
    beta: float = Field(0.0, ge=0, description="KL coefficient (0: no reference model).")


class MergeConfig(StageConfig):
    """Merge a LoRA adapter into its base and save a plain safetensors model."""

    adapter: str = Field(..., description="Adapter directory (adapter_config.json).")
    output: str = Field(..., description="Directory for the merged model.")
    base: str | None = Field(None, description="Base model (default: the one the adapter names).")
