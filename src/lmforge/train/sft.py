"""`lmforge train sft`: supervised fine-tuning (full, LoRA or QLoRA) through TRL's SFTTrainer.

Our defaults over TRL's: padding-free batches (a batch's examples concatenated into one row, no
pad token computed) with per-sequence attention (`lmforge.train.attention`: SDPA once per example,
where stock SDPA would attend across the whole row), fp32 on CPU (no bf16 units on most CPUs),
loss on assistant tokens + their end-of-turn token only, with a derived `{% generation %}`
template where the model's lacks markers; no gradient checkpointing (TRL's default recomputes
the forward, ~1/3 of a LoRA step; measured peak memory stays under TRL's padded, checkpointed
batches on GSM8K, see docs/benchmarks.md). `packing` (BFD into max_length rows) is optional: it
changes what a batch is (rows, not examples).
"""

from typing import Any

from lmforge.runs import Run
from lmforge.train.attention import use_varlen_attention
from lmforge.train.config import DataSection, SftConfig, TrainConfig
from lmforge.train.data import prepare
from lmforge.train.model import TrainModel, load_for_training
from lmforge.train.runner import prepare_run, run_trainer, trainer_class, trl_args
from lmforge.train.template import derive_training_template

SFT_FORMS = ("chat", "prompt_completion", "text")


def to_conversational(ds: Any, form: str) -> Any:
    """Plain prompt/completion strings become one user and one assistant turn (chat template)."""
    if form != "prompt_completion" or isinstance(ds[0]["prompt"], list):
        return ds
    return ds.map(
        lambda r: {
            "prompt": [{"role": "user", "content": r["prompt"]}],
            "completion": [{"role": "assistant", "content": r["completion"]}],
        }
    )


def load_splits(
    section: DataSection, tokenizer: Any, forms: tuple[str, ...], seed: int
) -> tuple[Any, Any | None, dict[str, Any]]:
    """Checked train (and eval) datasets plus their reports for the manifest."""
    train, report = prepare(section, section.path, tokenizer, forms)  # type: ignore[arg-type]
    reports: dict[str, Any] = {"train": report.as_dict()}
    evalset = None
    if section.eval_path:
        evalset, ereport = prepare(section, section.eval_path, tokenizer, forms)  # type: ignore[arg-type]
        reports["eval"] = ereport.as_dict()
    elif section.eval_fraction > 0:
        split = train.train_test_split(test_size=section.eval_fraction, seed=seed)
        train, evalset = split["train"], split["test"]
        reports["eval"] = {"from_fraction": section.eval_fraction, "rows": len(evalset)}
    return train, evalset, reports


def record_data(run: Run, cfg: TrainConfig, reports: dict[str, Any]) -> None:
    run.add_input(cfg.data.path, role="train_data")
    if cfg.data.eval_path:
        run.add_input(cfg.data.eval_path, role="eval_data")
    run.log_metrics(data=reports)


def train_sft(
    cfg: SftConfig, run: Run, tm: TrainModel | None = None, callbacks: tuple = ()
) -> dict[str, Any]:
    """Run SFT as configured inside `run`; return the summary metrics."""
    import trl

    ckpt = prepare_run(cfg)
    tm = tm or load_for_training(cfg.model, cfg.method, cfg.lora, bf16=cfg.bf16)
    train, evalset, reports = load_splits(cfg.data, tm.tokenizer, SFT_FORMS, cfg.seed)
    record_data(run, cfg, reports)
    form = reports["train"]["form"]
    assistant_only = cfg.assistant_only_loss and form == "chat"
    if assistant_only:
        tm.tokenizer.chat_template = derive_training_template(tm.tokenizer)
    args = trl_args(
        trl.SFTConfig,
        cfg,
        evalset is not None,
        max_length=cfg.data.max_length,
        packing=cfg.packing,
        assistant_only_loss=assistant_only,
        dataset_num_proc=None,
        # flattened rows hold no padding, and counting "non-padding" by pad id would drop every
        # end-of-turn token on models whose pad token is their EOS (SmolLM2)
        include_num_input_tokens_seen="all" if cfg.padding_free or cfg.packing else "non_padding",
    )
    collator = None
    if cfg.packing or cfg.padding_free:
        use_varlen_attention(tm.model)
    if cfg.padding_free and not cfg.packing:
        # TRL refuses its own padding_free flag with max_length (it would not truncate); with the
        # flag off it truncates to max_length and our flattening collator does the rest.
        collator = trl.trainer.sft_trainer.DataCollatorForLanguageModeling(
            pad_token_id=tm.tokenizer.pad_token_id, padding_free=True
        )
    trainer = trainer_class(trl.SFTTrainer)(
        model=tm.model,
        args=args,
        data_collator=collator,
        train_dataset=to_conversational(train, form),
        eval_dataset=to_conversational(evalset, form) if evalset is not None else None,
        processing_class=tm.tokenizer,
    )
    return run_trainer(trainer, cfg, run, tm, ckpt, callbacks)
