"""`lmforge train rl`: GRPO through TRL against a verifiable reward or a reward model.

GRPO needs no value model: it samples `num_generations` completions per prompt and uses each
one's reward relative to its group as the advantage, which suits CPU-sized runs. Rewards:
'gsm8k' (answer correct + answer format, from the dataset's `answer` column), 'format', or
the directory of a reward model trained by `lmforge train reward` (a LoRA reward adapter is
merged into its base first, since TRL scores with a plain sequence classifier).
"""

from pathlib import Path
from typing import Any

from lmforge.errors import LMForgeError
from lmforge.runs import Run
from lmforge.train.config import RlConfig
from lmforge.train.model import TrainModel, load_for_training
from lmforge.train.rewards import REWARDS
from lmforge.train.runner import prepare_run, run_trainer, trainer_class, trl_args
from lmforge.train.sft import load_splits, record_data


def reward_funcs(reward: str) -> list[Any]:
    """Reward functions by name, or a loaded reward model from a directory."""
    if reward in REWARDS:
        return REWARDS[reward]
    path = Path(reward).expanduser()
    if not path.is_dir():
        raise LMForgeError(
            f"reward {reward!r}: not one of {', '.join(REWARDS)} and not a reward-model directory"
        )
    if (path / "adapter_config.json").is_file():
        from peft import AutoPeftModelForSequenceClassification

        return [AutoPeftModelForSequenceClassification.from_pretrained(path).merge_and_unload()]
    from transformers import AutoModelForSequenceClassification

    return [AutoModelForSequenceClassification.from_pretrained(path, num_labels=1)]


def train_rl(
    cfg: RlConfig, run: Run, tm: TrainModel | None = None, callbacks: tuple = ()
) -> dict[str, Any]:
    """Run GRPO as configured inside `run`; return the summary metrics."""
    import trl

    ckpt = prepare_run(cfg)
    funcs = reward_funcs(cfg.reward)
    tm = tm or load_for_training(cfg.model, cfg.method, cfg.lora, bf16=cfg.bf16)
    train, evalset, reports = load_splits(cfg.data, tm.tokenizer, ("prompt_only",), cfg.seed)
    if cfg.reward == "gsm8k" and "answer" not in train.column_names:
        raise LMForgeError(
            f"{cfg.data.path}: reward 'gsm8k' needs an 'answer' column (GSM8K's '... #### N')"
        )
    if cfg.batch_size % cfg.num_generations:
        raise LMForgeError(
            f"batch_size {cfg.batch_size} must be a multiple of num_generations "
            f"{cfg.num_generations} (each prompt's group is scored together)"
        )
    record_data(run, cfg, reports)
    args = trl_args(
        trl.GRPOConfig,
        cfg,
        evalset is not None,
        num_generations=cfg.num_generations,
        max_completion_length=cfg.max_completion_length,
        temperature=cfg.temperature,
        beta=cfg.beta,
    )
    trainer = trainer_class(trl.GRPOTrainer)(
        model=tm.model,
        reward_funcs=funcs,
        args=args,
        train_dataset=train,
        eval_dataset=evalset,
        processing_class=tm.tokenizer,
    )
    return run_trainer(trainer, cfg, run, tm, ckpt, callbacks)
