"""`lmforge rag train-reranker`: fine-tune a cross-encoder from the shipped MiniLM on mined triples.

Hard negatives always come from the index: the best hybrid hits that are not the positive. A hard
negative teaches the model what the first-stage retriever confuses, which is exactly what a
reranker must fix. Queries and positives come from one of two places:

- labelled pairs (`--pairs file.jsonl` of {"query", "positive"}), e.g. the training half of a
  benchmark's questions with their known answers: real queries, as the reranker will meet them;
- without labels, the index itself (the inverse cloze task, Lee et al. 2019): the first sentence
  of a chunk is the query, the rest of that chunk the positive. Code rarely has sentences, so
  this mines little from code.

Sampling is seeded, so the same index, pairs and seed give the same triples and (on one thread
count) the same model.
"""

import json
import os
import random
import re
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from lmforge.errors import LMForgeError
from lmforge.extras import require
from lmforge.files import atomic_write_json
from lmforge.rag.retrieve import Retriever

_FIRST_SENTENCE = re.compile(r"(?<=[.!?])\s+")


@dataclass(slots=True)
class Triple:
    query: str
    positive: str
    negative: str


def split_cloze(text: str, min_words: int = 4) -> tuple[str, str] | None:
    """(first sentence, rest) when both are long enough to be a query and a passage."""
    parts = _FIRST_SENTENCE.split(" ".join(text.split()), maxsplit=1)
    if len(parts) != 2:
        return None
    head, rest = parts[0].strip(), parts[1].strip()
    if len(head.split()) < min_words or len(rest.split()) < min_words:
        return None
    return head, rest


def mine_triples(retriever: Retriever, n: int, seed: int = 0) -> list[Triple]:
    """Up to n (query, positive, hard negative) triples from the retriever's store."""
    store = retriever.store
    texts = store.all_texts()
    rng = random.Random(seed)
    order = list(range(len(texts)))
    rng.shuffle(order)
    picked = [(i, c) for i in order if (c := split_cloze(texts[i]))][:n]
    if not picked:
        raise LMForgeError("index has no chunk with two sentences to mine a (query, passage) from")
    found = retriever.retrieve_many([q for _, (q, _) in picked], k=5)
    triples = []
    for (i, (query, positive)), r in zip(picked, found, strict=True):
        neg = next((h for h in r.hits if h.id != i and texts[h.id] != texts[i]), None)
        if neg is None:
            continue
        cloze = split_cloze(neg.chunk.text)
        triples.append(Triple(query, positive, cloze[1] if cloze else neg.chunk.text))
    return triples


def load_pairs(path: Path) -> list[tuple[str, str]]:
    """(query, positive) pairs from a JSONL file with "query" and "positive" fields."""
    pairs = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            row = json.loads(line)
            if not isinstance(row.get("query"), str) or not isinstance(row.get("positive"), str):
                raise LMForgeError(f"{path}:{n}: needs string fields 'query' and 'positive'")
            pairs.append((row["query"], row["positive"]))
    if not pairs:
        raise LMForgeError(f"{path}: no (query, positive) pairs")
    return pairs


def mine_pair_triples(
    retriever: Retriever, pairs: list[tuple[str, str]], n: int, negatives: int = 2, seed: int = 0
) -> list[Triple]:
    """Up to n triples: for each sampled labelled pair, its best `negatives` non-positive hits."""
    rng = random.Random(seed)
    picked = rng.sample(pairs, min(len(pairs), max(1, n // negatives)))
    found = retriever.retrieve_many([q for q, _ in picked], k=negatives + 1)
    triples = []
    for (query, positive), r in zip(picked, found, strict=True):
        negs = [h.chunk.text for h in r.hits if h.chunk.text != positive][:negatives]
        triples += [Triple(query, positive, neg) for neg in negs]
    return triples[:n]


def ranking_rows(triples: list[Triple]) -> dict[str, list[str]]:
    """One row per (query, positive) with all its mined negatives as columns.

    A listwise loss needs a fixed width, so a query with fewer negatives than the widest repeats
    its own (a repeat only weights that negative more; it never mislabels anything).
    """
    groups: dict[tuple[str, str], list[str]] = {}
    for t in triples:
        groups.setdefault((t.query, t.positive), []).append(t.negative)
    width = max(len(v) for v in groups.values())
    rows: dict[str, list[str]] = {"query": [], "positive": []}
    rows |= {f"negative_{j}": [] for j in range(width)}
    for (query, positive), negs in groups.items():
        rows["query"].append(query)
        rows["positive"].append(positive)
        for j in range(width):
            rows[f"negative_{j}"].append(negs[j % len(negs)])
    return rows


def pair_rows(triples: list[Triple]) -> dict[str, list[Any]]:
    """(query, passage, 0/1 label) rows for the pointwise loss."""
    rows: dict[str, list[Any]] = {"query": [], "passage": [], "label": []}
    for t in triples:
        for passage, label in ((t.positive, 1.0), (t.negative, 0.0)):
            rows["query"].append(t.query)
            rows["passage"].append(passage)
            rows["label"].append(label)
    return rows


def train_reranker(
    triples: list[Triple],
    out: Path,
    base: Path,
    epochs: int = 2,
    batch_size: int = 8,
    lr: float = 1e-4,
    max_length: int = 192,
    seed: int = 0,
    loss: Literal["ranking", "bce"] = "ranking",
    in_batch: int = 2,
) -> dict[str, Any]:
    """Fine-tune a CrossEncoder (1 logit) on the triples; write it to `out` atomically.

    loss "ranking" (default): per query, a softmax over its positive, its mined hard negatives and
    `in_batch` other queries' passages from the same batch (InfoNCE); `batch_size` counts queries.
    loss "bce": each (query, passage) pair labelled 0/1 on its own; `batch_size` counts pairs.
    Starting from a bi-encoder's weights the head is new, and a pointwise loss on hard negatives
    alone can sit at ln 2 (GSM8K: it never moved in two epochs), while the listwise loss, which
    compares candidates for the same query, learns from the first epoch.
    """
    st = require("rag", "sentence_transformers")
    import torch
    from sentence_transformers.cross_encoder.losses import (
        BinaryCrossEntropyLoss,
        MultipleNegativesRankingLoss,
    )

    assert triples, "no triples to train on"
    assert loss in ("ranking", "bce"), loss
    torch.manual_seed(seed)
    rows = ranking_rows(triples) if loss == "ranking" else pair_rows(triples)
    model = st.CrossEncoder(str(base), num_labels=1, max_length=max_length, device="cpu")
    objective = (
        MultipleNegativesRankingLoss(model, num_negatives=in_batch)
        if loss == "ranking"
        else BinaryCrossEntropyLoss(model)
    )
    info = {
        "base": str(base),
        "triples": len(triples),
        "epochs": epochs,
        "lr": lr,
        "loss": loss,
        "in_batch": in_batch if loss == "ranking" else 0,
    }
    data = [{"query": t.query, "positive": t.positive, "negative": t.negative} for t in triples]
    return fit_cross_encoder(
        model,
        rows,
        objective,
        Path(out),
        n_rows=len(rows["query"]),
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        logging_steps=10,
        disable_tqdm=not os.isatty(2),
        data=("triples.jsonl", data),
        manifest=("lmforge-reranker.json", info),
    )


def fit_cross_encoder(
    model: Any,
    rows: dict[str, list[Any]],
    loss: Any,
    out: Path,
    *,
    n_rows: int,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    logging_steps: int,
    disable_tqdm: bool,
    data: tuple[str, list[dict[str, Any]]],
    manifest: tuple[str, dict[str, Any]],
) -> dict[str, Any]:
    """Train a CrossEncoder on `rows` with `loss`, then publish `out` atomically: the model, its
    training data (JSONL file `data[0]`) and `manifest[1]` plus the final train loss and seed as
    `manifest[0]`. Shared by the reranker and the claim verifier (rag/verifier_train.py)."""
    datasets = require("train", "datasets")
    from sentence_transformers.cross_encoder import (
        CrossEncoderTrainer,
        CrossEncoderTrainingArguments,
    )

    steps = epochs * -(-n_rows // batch_size)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}-{secrets.token_hex(3)}"
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
        logging_steps=logging_steps,
        use_cpu=True,
        disable_tqdm=disable_tqdm,
    )
    trainer = CrossEncoderTrainer(
        model=model,
        args=args,
        train_dataset=datasets.Dataset.from_dict(rows),
        loss=loss,
    )
    result = trainer.train()
    try:
        shutil.rmtree(tmp / "trainer", ignore_errors=True)
        model.save_pretrained(str(tmp))
        with open(tmp / data[0], "w", encoding="utf-8") as f:
            for d in data[1]:
                f.write(json.dumps(d) + "\n")
        info = {**manifest[1], "train_loss": round(float(result.training_loss), 4), "seed": seed}
        atomic_write_json(tmp / manifest[0], info)
        if out.exists():
            shutil.rmtree(out)
        os.rename(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return info
