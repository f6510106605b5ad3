"""`lmforge rag train-verifier`: a claim verifier fine-tuned from the shipped MiniLM.

Training pairs come from GSM8K rows that the shipped evaluation set does not use
(rag/grounding_set.py: `row % 4 != 0`): every sentence of a passage is a supported claim, and
planted wrong numbers, wrong names or counted things, invented sentences and negations are
unsupported ones. Each claim is paired with the premise `find_evidence` picks from its passage
plus a distractor passage, exactly as at inference, and the cross-encoder (1 logit) learns
supported vs not with binary cross-entropy. Seeded: same seed, same pairs, same model on one
thread count.
"""

import json
import os
import secrets
import shutil
from pathlib import Path
from typing import Any

from lmforge.extras import require
from lmforge.files import atomic_write_json
from lmforge.rag.claims import Claim, find_evidence
from lmforge.rag.grounding_set import training_pairs


def verifier_rows(pairs: list[tuple[str, str, int]]) -> dict[str, list[Any]]:
    rows: dict[str, list[Any]] = {"claim": [], "premise": [], "label": []}
    for claim, context, label in pairs:
        rows["claim"].append(claim)
        rows["premise"].append(find_evidence(Claim(claim, []), [context]).premise)
        rows["label"].append(float(label))
    return rows


def train_verifier(
    out: Path,
    base: Path,
    epochs: int = 2,
    batch_size: int = 32,
    lr: float = 5e-5,
    max_length: int = 160,
    seed: int = 1,
    limit: int | None = None,
) -> dict[str, Any]:
    """Fine-tune and write the verifier to `out` atomically; returns its training summary."""
    st = require("rag", "sentence_transformers")
    datasets = require("train", "datasets")
    import torch
    from sentence_transformers.cross_encoder import (
        CrossEncoderTrainer,
        CrossEncoderTrainingArguments,
    )
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss

    torch.manual_seed(seed)
    pairs = training_pairs(seed)[:limit]
    rows = verifier_rows(pairs)
    model = st.CrossEncoder(str(base), num_labels=1, max_length=max_length, device="cpu")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}-{secrets.token_hex(3)}"
    steps = epochs * -(-len(pairs) // batch_size)
    args = CrossEncoderTrainingArguments(
        output_dir=str(tmp / "trainer"),
        num_train_epochs=epochs,
        per_device_train_batch_size=batch_size,
        learning_rate=lr,
        warmup_steps=max(1, steps // 10),
        seed=seed,
        data_seed=seed,
        save_strategy="no",
        report_to="none",
        logging_steps=20,
        use_cpu=True,
        disable_tqdm=False,  # progress also when not a terminal: training takes minutes
    )
    trainer = CrossEncoderTrainer(
        model=model,
        args=args,
        train_dataset=datasets.Dataset.from_dict(rows),
        loss=BinaryCrossEntropyLoss(model),
    )
    result = trainer.train()
    try:
        shutil.rmtree(tmp / "trainer", ignore_errors=True)
        model.save_pretrained(str(tmp))
        with open(tmp / "pairs.jsonl", "w", encoding="utf-8") as f:
            for c, p, y in zip(rows["claim"], rows["premise"], rows["label"], strict=True):
                f.write(json.dumps({"claim": c, "premise": p, "label": y}) + "\n")
        info = {
            "base": str(base),
            "pairs": len(pairs),
            "supported": int(sum(rows["label"])),
            "data": "gsm8k test rows with row % 4 != 0 (disjoint from the shipped eval set)",
            "epochs": epochs,
            "lr": lr,
            "max_length": max_length,
            "train_loss": round(float(result.training_loss), 4),
            "seed": seed,
        }
        atomic_write_json(tmp / "lmforge-verifier.json", info)
        if out.exists():
            shutil.rmtree(out)
        os.rename(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return info


def default_verifier_path() -> Path:
    """Where `train-verifier` writes by default and `--verifier nli` looks first."""
    from lmforge.models.default import cache_root

    return cache_root() / "verifier"
