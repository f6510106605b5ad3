"""What every training command shares: TRL arguments from our config, resume, the train call
with Ctrl-C handling, the atomic final save (with the chat template), metrics and the curve.

SFT, DPO, reward and GRPO differ only in their TRL trainer and a few arguments; everything a
user relies on across them (where checkpoints go, how resume works, what the manifest holds)
lives here once.
"""

import logging
from pathlib import Path
from typing import Any

from lmforge.errors import LMForgeError
from lmforge.runs import Run
from lmforge.train.callbacks import InterruptCallback, MetricsCallback, ProgressCallback
from lmforge.train.checkpoints import (
    AtomicCheckpointMixin,
    checkpoint_step,
    committed_checkpoints,
    latest_checkpoint,
    save_atomically,
)
from lmforge.train.config import TrainConfig
from lmforge.train.model import TrainModel
from lmforge.train.plot import loss_curve_png

log = logging.getLogger("lmforge.train")


def prepare_run(cfg: TrainConfig) -> Path | None:
    """Check the resume state first (before minutes of loading); seed before the model is built
    (LoRA A matrices and value heads are initialised randomly, so an unseeded init makes two
    runs of one config differ); set the thread count (on a shared CPU, oversubscribed threads
    spin instead of working)."""
    import torch
    from transformers import set_seed

    ckpt = resume_point(cfg)
    set_seed(cfg.seed)
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    return ckpt


def trainer_class(base: type) -> type:
    """`base` (a TRL trainer) with atomic, committed checkpoints."""
    return type(f"Lmforge{base.__name__}", (AtomicCheckpointMixin, base), {})


def trl_args(config_cls: type, cfg: TrainConfig, has_eval: bool, **extra: Any) -> Any:
    """A TRL config from ours; what TRL defaults differently (bf16, checkpointing) is explicit."""
    import torch

    out = Path(cfg.output_dir)
    evaluate = has_eval and cfg.eval_steps is not None
    kwargs: dict[str, Any] = dict(
        output_dir=str(out / "checkpoints"),
        learning_rate=cfg.learning_rate,
        num_train_epochs=cfg.epochs,
        max_steps=cfg.max_steps,
        per_device_train_batch_size=cfg.batch_size,
        per_device_eval_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.grad_accum,
        lr_scheduler_type=cfg.lr_scheduler,
        warmup_steps=cfg.warmup_ratio,
        weight_decay=cfg.weight_decay,
        max_grad_norm=cfg.max_grad_norm,
        seed=cfg.seed,
        bf16=cfg.bf16,
        gradient_checkpointing=cfg.gradient_checkpointing,
        logging_steps=cfg.logging_steps,
        save_strategy="steps",
        save_steps=cfg.save_steps,
        save_total_limit=cfg.save_total_limit,
        eval_strategy="steps" if evaluate else "no",
        eval_steps=cfg.eval_steps if evaluate else None,
        load_best_model_at_end=cfg.early_stopping_patience is not None,
        metric_for_best_model="eval_loss" if cfg.early_stopping_patience else None,
        report_to="none",
        include_num_input_tokens_seen="non_padding",
        disable_tqdm=True,
        use_cpu=not torch.cuda.is_available(),
        dataloader_num_workers=0,
    )
    kwargs.update(extra)
    return config_cls(**kwargs)


def resume_point(cfg: TrainConfig) -> Path | None:
    """The checkpoint to resume from; refuses to silently train over existing checkpoints."""
    root = Path(cfg.output_dir) / "checkpoints"
    if not cfg.resume:
        if committed_checkpoints(root):
            raise LMForgeError(
                f"{root} already holds checkpoints; pass --resume to continue them, "
                "or choose another output_dir"
            )
        return None
    ckpt = latest_checkpoint(root, clean=True)
    if ckpt is None:
        log.warning("--resume: no complete checkpoint under %s, starting from the base", root)
    return ckpt


def run_trainer(
    trainer: Any,
    cfg: TrainConfig,
    run: Run,
    tm: TrainModel,
    ckpt: Path | None,
    callbacks: tuple = (),
) -> dict[str, Any]:
    """Train (resuming if asked), save the final model atomically, record metrics and curve."""
    from transformers import EarlyStoppingCallback, PrinterCallback

    out = Path(cfg.output_dir)
    trainer.remove_callback(PrinterCallback)  # our progress bar and metrics.jsonl replace it
    metrics_cb = MetricsCallback(run.dir / "metrics.jsonl")
    interrupt_cb = InterruptCallback()
    for cb in (metrics_cb, interrupt_cb, ProgressCallback(), *callbacks):
        trainer.add_callback(cb)
    if cfg.early_stopping_patience is not None:
        trainer.add_callback(EarlyStoppingCallback(cfg.early_stopping_patience))
    if ckpt is not None:
        run.add_input(ckpt, role="resume_checkpoint")
    result = trainer.train(resume_from_checkpoint=str(ckpt) if ckpt else None)
    history = metrics_cb.history
    curve = loss_curve_png(history, run.dir / "loss_curve.png", f"{run.manifest['stage']} loss")
    if curve is not None:
        run.add_output(curve, role="loss_curve")
    summary = _summary(history, result, trainer.state, tm)
    run.log_metrics(**summary, history=history)
    if interrupt_cb.interrupted:
        last = latest_checkpoint(out / "checkpoints")
        if last is not None:
            run.add_output(last, role="checkpoint")
        raise KeyboardInterrupt(f"saved {last}; continue with --resume")
    if trainer.args.should_save:
        final = save_atomically(out / "final", lambda d: _save_final(trainer, tm, d))
        run.add_output(final, role="adapter" if tm.method != "full" else "model")
        summary["final"] = str(final)
    return summary


def _save_final(trainer: Any, tm: TrainModel, d: Path) -> None:
    trainer.save_model(str(d))
    tm.tokenizer.save_pretrained(str(d))  # the (training) chat template travels with it


def _summary(history: list[dict[str, Any]], result: Any, state: Any, tm: TrainModel) -> dict:
    losses = [h["loss"] for h in history if "loss" in h]
    evals = [h["eval_loss"] for h in history if "eval_loss" in h]
    tps = [h["tokens_per_s"] for h in history if h.get("tokens_per_s")]
    out: dict[str, Any] = {
        "method": tm.method,
        "steps": state.global_step,
        "train_loss": round(result.training_loss, 6) if result else None,
        "final_loss": losses[-1] if losses else None,
        "eval_loss": evals[-1] if evals else None,
        "tokens_seen": state.num_input_tokens_seen,
        "tokens_per_s": round(sum(tps) / len(tps), 1) if tps else None,
        "peak_memory_mb": max((h["peak_memory_mb"] for h in history), default=None),
    }
    if tm.note:
        out["note"] = tm.note
    return out


def checkpoint_summary(root: Path) -> list[int]:
    """Steps of the committed checkpoints (for messages and tests)."""
    return [checkpoint_step(p) for p in committed_checkpoints(root)]
