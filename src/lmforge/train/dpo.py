"""`lmforge train dpo` and `lmforge train reward`: preference pairs through TRL.

DPO with a LoRA adapter needs no separate reference model: TRL computes reference log-probs
with the adapter disabled, so memory stays at one model. The reward model is the same base with
a one-logit sequence-classification head (TRL's RewardTrainer, Bradley-Terry loss).
"""

from typing import Any

from lmforge.runs import Run
from lmforge.train.config import DpoConfig, RewardConfig
from lmforge.train.model import TrainModel, load_for_training
from lmforge.train.runner import prepare_run, run_trainer, trainer_class, trl_args
from lmforge.train.sft import load_splits, record_data


def train_dpo(
    cfg: DpoConfig, run: Run, tm: TrainModel | None = None, callbacks: tuple = ()
) -> dict[str, Any]:
    """Run DPO as configured inside `run`; return the summary metrics."""
    import trl

    ckpt = prepare_run(cfg)
    tm = tm or load_for_training(cfg.model, cfg.method, cfg.lora, bf16=cfg.bf16)
    train, evalset, reports = load_splits(cfg.data, tm.tokenizer, ("preference",), cfg.seed)
    record_data(run, cfg, reports)
    args = trl_args(
        trl.DPOConfig,
        cfg,
        evalset is not None,
        max_length=cfg.data.max_length,
        beta=cfg.beta,
        loss_type=[t.strip() for t in cfg.loss_type.split(",")],
    )
    trainer = trainer_class(trl.DPOTrainer)(
        model=tm.model,
        args=args,
        train_dataset=train,
        eval_dataset=evalset,
        processing_class=tm.tokenizer,
    )
    return run_trainer(trainer, cfg, run, tm, ckpt, callbacks)


def train_reward(
    cfg: RewardConfig, run: Run, tm: TrainModel | None = None, callbacks: tuple = ()
) -> dict[str, Any]:
    """Train a reward model on chosen/rejected pairs; return the summary metrics."""
    import trl

    ckpt = prepare_run(cfg)
    tm = tm or load_for_training(cfg.model, cfg.method, cfg.lora, head="reward", bf16=cfg.bf16)
    train, evalset, reports = load_splits(cfg.data, tm.tokenizer, ("preference",), cfg.seed)
    record_data(run, cfg, reports)
    args = trl_args(trl.RewardConfig, cfg, evalset is not None, max_length=cfg.data.max_length)
    trainer = trainer_class(trl.RewardTrainer)(
        model=tm.model,
        args=args,
        train_dataset=train,
        eval_dataset=evalset,
        processing_class=tm.tokenizer,
    )
    return run_trainer(trainer, cfg, run, tm, ckpt, callbacks)
