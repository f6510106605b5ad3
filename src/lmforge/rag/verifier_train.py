"""`lmforge rag train-verifier`: a claim verifier fine-tuned from the shipped MiniLM.

Training pairs come from GSM8K rows that the shipped evaluation sets do not use
(rag/grounding_set.py: `row % 4 != 0`). The default recipe has two stages, because one alone
falls short on the paraphrased set (docs/benchmarks.md, grounding5: F1 0.692 from MiniLM on the
hard pairs alone, 0.883 with both):

1. `verbatim`: every copied sentence is supported, and planted wrong numbers, wrong names or
   counted things, invented sentences and negations from other passages are unsupported. The new
   head learns "does the premise say this" on easy pairs first.
2. `paraphrased` (rag/verifier_data.py), from stage 1's weights: reworded supported sentences and
   hard negatives built from the passage's own numbers and names, as in the paraphrased set.

Each claim is paired with the premise `find_evidence` picks from its passage plus a distractor
passage, exactly as at inference, and the cross-encoder (1 logit) learns supported vs not with
binary cross-entropy. Every stage is written atomically under `.<out>.stages/` and kept until the
recipe finishes, so an interrupted run resumes at the first stage not done. The last stage's
threshold is then chosen on the dev half of the labelled set (rag/verifier_calibrate.py), written
into `lmforge-verifier.json`, and the verifier is renamed to `out` in one step. Seeded: same
seed, same pairs, same model on one thread count.
"""

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from lmforge.extras import require
from lmforge.files import atomic_write_json
from lmforge.rag.claims import Claim, find_evidence
from lmforge.rag.grounding_set import training_pairs
from lmforge.rag.reranker_train import fit_cross_encoder
from lmforge.rag.verifier_calibrate import calibrate
from lmforge.rag.verifier_data import paraphrased_pairs

MANIFEST = "lmforge-verifier.json"
Data = Literal["paraphrased", "verbatim"]
DATA = {
    "paraphrased": "gsm8k test rows with row % 4 != 0, paraphrased positives, own-passage hard"
    " negatives (disjoint from the shipped eval sets)",
    "verbatim": "gsm8k test rows with row % 4 != 0 (disjoint from the shipped eval sets)",
}


@dataclass(frozen=True, slots=True)
class Stage:
    """One fine-tuning pass: which pairs, how many, at what learning rate."""

    data: Data
    pairs: int
    lr: float
    epochs: int = 1


# The measured recipe (docs/benchmarks.md, grounding5 and grounding6).
STAGES = {
    "verbatim": Stage("verbatim", 2560, 5e-5),
    "paraphrased": Stage("paraphrased", 4800, 1e-4),
}
RECIPES: dict[str, tuple[Data, ...]] = {
    "two-stage": ("verbatim", "paraphrased"),
    "verbatim": ("verbatim",),
    "paraphrased": ("paraphrased",),
}


def verifier_rows(pairs: list[tuple[str, str, int]]) -> dict[str, list[Any]]:
    rows: dict[str, list[Any]] = {"claim": [], "premise": [], "label": []}
    for claim, context, label in pairs:
        rows["claim"].append(claim)
        rows["premise"].append(find_evidence(Claim(claim, []), [context]).premise)
        rows["label"].append(float(label))
    return rows


def stage_recipe(stage: Stage, base: Path, batch_size: int, max_length: int, seed: int) -> dict:
    """What a stage's output depends on; a kept stage with the same recipe is reused."""
    return {
        "base": str(base),
        "data": DATA[stage.data],
        "limit": stage.pairs,
        "epochs": stage.epochs,
        "lr": stage.lr,
        "batch_size": batch_size,
        "max_length": max_length,
        "seed": seed,
    }


def train_stage(
    out: Path, base: Path, stage: Stage, batch_size: int = 16, max_length: int = 160, seed: int = 1
) -> dict[str, Any]:
    """Fine-tune `base` on one stage's pairs and write it to `out` atomically; its summary."""
    st = require("rag", "sentence_transformers")
    import torch
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss

    torch.manual_seed(seed)
    source = paraphrased_pairs if stage.data == "paraphrased" else training_pairs
    pairs = source(seed)[: stage.pairs]
    rows = verifier_rows(pairs)
    model = st.CrossEncoder(str(base), num_labels=1, max_length=max_length, device="cpu")
    info = stage_recipe(stage, base, batch_size, max_length, seed)
    info |= {"pairs": len(pairs), "supported": int(sum(rows["label"]))}
    written = [
        {"claim": c, "premise": p, "label": y}
        for c, p, y in zip(rows["claim"], rows["premise"], rows["label"], strict=True)
    ]
    return fit_cross_encoder(
        model,
        rows,
        BinaryCrossEntropyLoss(model),
        Path(out),
        n_rows=len(pairs),
        epochs=stage.epochs,
        batch_size=batch_size,
        lr=stage.lr,
        seed=seed,
        logging_steps=20,
        disable_tqdm=False,  # progress also when not a terminal: training takes minutes
        data=("pairs.jsonl", written),
        manifest=(MANIFEST, info),
    )


def _kept(part: Path, want: dict[str, Any]) -> dict[str, Any] | None:
    """The manifest of a finished stage at `part` if it was trained with recipe `want`."""
    try:
        info = json.loads((part / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return info if all(info.get(k) == v for k, v in want.items()) else None


def train_verifier(
    out: Path,
    base: Path,
    stages: list[Stage],
    batch_size: int = 16,
    max_length: int = 160,
    seed: int = 1,
    log: Callable[[str], None] = print,
    dev_limit: int | None = None,
) -> dict[str, Any]:
    """Run `stages` in order from `base`, choose the threshold on dev, publish to `out`."""
    work = out.parent / f".{out.name}.stages"
    prev, done = base, []
    for i, stage in enumerate(stages, 1):
        part = work / f"{i}-{stage.data}"
        want = stage_recipe(stage, prev, batch_size, max_length, seed)
        head = f"stage {i}/{len(stages)} ({stage.data}, {stage.pairs} pairs, lr {stage.lr:g})"
        info = _kept(part, want)
        if info is None:
            log(f"{head}: training from {prev}")
            info = train_stage(part, prev, stage, batch_size, max_length, seed)
        else:
            log(f"{head}: already done, reusing {part}")
        done.append(info)
        prev = part
    log(f"choosing the threshold on the dev half of the paraphrased set ({prev})")
    cal = calibrate(prev, dev_limit)
    log(f"threshold {cal['threshold']} (dev F1 {cal['dev_f1']})")
    final = {**done[-1], **cal, "base": str(base), "stages": done}
    atomic_write_json(prev / MANIFEST, final)
    if out.exists():
        shutil.rmtree(out)
    os.rename(prev, out)
    shutil.rmtree(work, ignore_errors=True)
    return final


def recipe_stages(
    recipe: str, pairs: int | None = None, lr: float | None = None, epochs: int | None = None
) -> list[Stage]:
    """The stages of `recipe`, with `pairs` / `lr` / `epochs` (when given) in every stage."""
    given = {"pairs": pairs, "lr": lr, "epochs": epochs}
    return [
        replace(STAGES[d], **{k: v for k, v in given.items() if v is not None})
        for d in RECIPES[recipe]
    ]


def default_verifier_path() -> Path:
    """Where `train-verifier` writes by default and `--verifier nli` looks first."""
    from lmforge.models.default import cache_root

    return cache_root() / "verifier"
