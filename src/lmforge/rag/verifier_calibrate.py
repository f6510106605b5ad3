"""The verifier's threshold, chosen on the dev half of the paraphrased labelled set.

A trained cross-encoder's P(supported) is not calibrated: the two-stage verifier separates
supported from planted claims best at 0.3, and the fixed 0.5 loses F1 0.06 on held-out items
(docs/benchmarks.md, grounding5). So `train-verifier` picks the threshold itself and writes it
into `lmforge-verifier.json`, where `rag ask`, the server's RAG route and `lmforge eval` read
it. The 330 items of `grounding_paraphrased.jsonl` are split once (seed 0, stratified by planted
/ clean) into a dev half and a test half; only the dev half is ever used here, so
bench/grounding.py's test-half figures stay untouched by the choice. Positive class =
unsupported sentence; the threshold maximises F1 on the dev sentences.
"""

import json
import random
from pathlib import Path
from typing import Any

import numpy as np

from lmforge.rag.claims import find_evidence, split_claims

DATA = Path(__file__).resolve().parents[1] / "eval/tasks/data"
SETS = {"verbatim": "grounding.jsonl", "paraphrased": "grounding_paraphrased.jsonl"}
Flat = tuple[list[str], list[str], list[int], list[str]]


def load_set(which: str = "paraphrased", limit: int | None = None) -> list[dict[str, Any]]:
    """The shipped labelled set's items (docs/grounding.md)."""
    text = (DATA / SETS[which]).read_text(encoding="utf-8")
    return [json.loads(x) for x in text.splitlines() if x.strip()][:limit]


def split_items(items: list[dict[str, Any]], seed: int = 0) -> tuple[list[int], list[int]]:
    """Dev / test item indices, stratified: half the clean and half the planted items each, so
    thresholds are chosen on dev and every figure reported is from the untouched test half."""
    rng = random.Random(seed)
    dev, test = [], []
    for planted in (False, True):
        idx = [i for i, it in enumerate(items) if (0 in it["labels"]) == planted]
        rng.shuffle(idx)
        dev += idx[: len(idx) // 2]
        test += idx[len(idx) // 2 :]
    return sorted(dev), sorted(test)


def flatten(items: list[dict[str, Any]]) -> Flat:
    """(claims, premises, labels, kinds) per answer sentence, premises as `rag ask` picks them."""
    claims, premises, labels, kinds = [], [], [], []
    for it in items:
        parts = split_claims(it["answer"])
        assert len(parts) == len(it["labels"]), it["id"]
        for c, y, k in zip(parts, it["labels"], it["kinds"], strict=True):
            claims.append(c.text)
            premises.append(find_evidence(c, it["contexts"]).premise)
            labels.append(y)
            kinds.append(k or "supported")
    return claims, premises, labels, kinds


def f1_of(pred: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(F1, balanced accuracy) with unsupported (y == 0, pred False) as the positive class."""
    tp = np.sum(~pred & (y == 0))
    fp = np.sum(~pred & (y == 1))
    fn = np.sum(pred & (y == 0))
    tn = np.sum(pred & (y == 1))
    rec, spec = tp / max(1, tp + fn), tn / max(1, tn + fp)
    return float(2 * tp / max(1, 2 * tp + fp + fn)), float((rec + spec) / 2)


def pick_threshold(scores: np.ndarray, y: np.ndarray) -> float:
    """The P(supported) threshold with the best F1 on these (dev) sentences; ties go to the
    threshold nearest 0.5."""
    grid = sorted({0.5, *np.round(np.linspace(0.005, 0.995, 199), 3)})
    return float(max(grid, key=lambda t: (f1_of(scores >= t, y)[0], -abs(t - 0.5))))


def calibrate(path: Path, dev_limit: int | None = None) -> dict[str, Any]:
    """Dev-chosen thresholds for the verifier at `path`, with the consistency check (the
    default, `verifier_checks: true`) and without; `dev_limit` (tests) takes the first dev items."""
    from lmforge.rag.verify import ConsistencyVerifier, NLIVerifier

    items = load_set("paraphrased")
    dev = [items[i] for i in split_items(items)[0][:dev_limit]]
    claims, premises, labels, _ = flatten(dev)
    y = np.array(labels)
    raw = NLIVerifier(path, threshold=0.5).scores(claims, premises)
    checked = ConsistencyVerifier(_Fixed(raw)).scores(claims, premises)
    out: dict[str, Any] = {"dev_items": len(dev), "dev_sentences": len(claims)}
    for key, scores in (("threshold", checked), ("threshold_no_checks", raw)):
        s = np.array([-1.0 if x is None else x for x in scores])
        t = pick_threshold(s, y)
        out[key] = t
        out[f"dev_f1{key.removeprefix('threshold')}"] = round(f1_of(s >= t, y)[0], 4)
    out["dev_set"] = "grounding_paraphrased.jsonl, dev half (seed 0, stratified)"
    return out


class _Fixed:
    """Scores computed once, replayed in order, so the consistency veto needs no second pass."""

    threshold = 0.5

    def __init__(self, scores: list[float | None]) -> None:
        self.values = scores

    def scores(self, claims: list[str], premises: list[str]) -> list[float | None]:
        return list(self.values)
