"""`lmforge rag train-verifier`: a claim verifier fine-tuned from the shipped MiniLM.

Training pairs come from GSM8K rows that the shipped evaluation sets do not use
(rag/grounding_set.py: `row % 4 != 0`). `data="paraphrased"` (the default,
rag/verifier_data.py): reworded supported sentences and hard negatives built from the passage's
own numbers and names, as in the paraphrased evaluation set. `data="verbatim"` (the first
verifier): every copied sentence is supported, and planted wrong numbers, wrong names or counted
things, invented sentences and negations from other passages are unsupported. Each claim is
paired with the premise `find_evidence` picks from its passage plus a distractor passage,
exactly as at inference, and the cross-encoder (1 logit) learns supported vs not with binary
cross-entropy. Seeded: same seed, same pairs, same model on one
thread count.
"""

from pathlib import Path
from typing import Any, Literal

from lmforge.extras import require
from lmforge.rag.claims import Claim, find_evidence
from lmforge.rag.grounding_set import training_pairs
from lmforge.rag.reranker_train import fit_cross_encoder
from lmforge.rag.verifier_data import paraphrased_pairs

DATA = {
    "paraphrased": "gsm8k test rows with row % 4 != 0, paraphrased positives, own-passage hard"
    " negatives (disjoint from the shipped eval sets)",
    "verbatim": "gsm8k test rows with row % 4 != 0 (disjoint from the shipped eval sets)",
}


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
    data: Literal["paraphrased", "verbatim"] = "paraphrased",
) -> dict[str, Any]:
    """Fine-tune and write the verifier to `out` atomically; returns its training summary."""
    st = require("rag", "sentence_transformers")
    import torch
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss

    torch.manual_seed(seed)
    pairs = (paraphrased_pairs(seed) if data == "paraphrased" else training_pairs(seed))[:limit]
    rows = verifier_rows(pairs)
    model = st.CrossEncoder(str(base), num_labels=1, max_length=max_length, device="cpu")
    info = {
        "base": str(base),
        "pairs": len(pairs),
        "supported": int(sum(rows["label"])),
        "data": DATA[data],
        "epochs": epochs,
        "lr": lr,
        "max_length": max_length,
    }
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
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        logging_steps=20,
        disable_tqdm=False,  # progress also when not a terminal: training takes minutes
        data=("pairs.jsonl", written),
        manifest=("lmforge-verifier.json", info),
    )


def default_verifier_path() -> Path:
    """Where `train-verifier` writes by default and `--verifier nli` looks first."""
    from lmforge.models.default import cache_root

    return cache_root() / "verifier"
