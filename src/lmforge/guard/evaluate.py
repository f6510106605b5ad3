"""`lmforge guard eval`: precision, recall, F1 and FPR on held-out splits, plus scan latency.

Three detectors are scored on the same examples: the classifier alone, the rules alone, and the
guard (either fires, with the classifier also run on decoded payloads, as `Guard.scan_input`
does). Metrics are reported overall, per corpus and per attack category where the corpus labels
them. Latency is timed on the real serving path: `Guard.scan_input` one prompt at a time, with
no embedding cache.
"""

import time
from typing import Any

import numpy as np

from lmforge.guard.benign import clears
from lmforge.guard.classifier import LinearHead
from lmforge.guard.classify import classifier_scores, rescan_texts
from lmforge.guard.config import GuardEvalConfig, GuardPolicy
from lmforge.guard.corpora import Example, load_split
from lmforge.guard.datasets import load_labelled, parse_label_map
from lmforge.guard.embed import Embedder
from lmforge.guard.metrics import binary_metrics, by_group
from lmforge.guard.rules import scan_rules


def _subset(ex: list[Example], limit: int | None) -> list[Example]:
    """An evenly spaced sample of `limit` examples (keeps every corpus represented)."""
    if limit is None or limit >= len(ex):
        return ex
    idx = np.linspace(0, len(ex) - 1, limit).round().astype(int)
    return [ex[i] for i in idx]


def load_examples(cfg: GuardEvalConfig) -> list[Example]:
    """The `--data` files when given (a user's own labelled corpus), else the corpora's split."""
    if not cfg.data:
        return load_split(cfg.split, cfg.corpora)
    label_map = parse_label_map(cfg.label_map)
    return [
        e
        for src in cfg.data
        for e in load_labelled(src, cfg.text_field, cfg.label_field, label_map)
    ]


def detector_scores(
    texts: list[str], embedder: Embedder, head: LinearHead
) -> tuple[np.ndarray, np.ndarray]:
    """(classifier score on the text, classifier score max over rescanned variants) per text."""
    variants = [rescan_texts(t) for t in texts]
    flat = [v for vs in variants for v in vs]
    s = classifier_scores(flat, embedder, head)
    plain, best, i = np.zeros(len(texts)), np.zeros(len(texts)), 0
    for j, vs in enumerate(variants):
        plain[j], best[j] = s[i], s[i : i + len(vs)].max()
        i += len(vs)
    return plain, best


def latency_ms(policy: GuardPolicy, texts: list[str]) -> dict[str, float]:
    """Wall and CPU time of `Guard.scan_input` over `texts`, one at a time, after a warm-up.

    CPU time is reported beside wall time because on a shared machine wall time mostly
    measures the other processes.
    """
    from lmforge.guard.guard import Guard

    policy = policy.model_copy(deep=True)
    policy.input.limits.rate_per_minute = 10**9  # time the scanners, not the rate limiter
    policy.audit.path = None
    guard = Guard(policy)
    guard.scan_input("warm-up: hello")
    wall, cpu = [], []
    for t in texts:
        t0, c0 = time.perf_counter(), time.process_time()
        guard.scan_input(t)
        wall.append((time.perf_counter() - t0) * 1e3)
        cpu.append((time.process_time() - c0) * 1e3)
    w, c = np.array(wall), np.array(cpu)
    return {
        "n": len(w),
        "p50": round(float(np.median(w)), 2),
        "p95": round(float(np.percentile(w, 95)), 2),
        "cpu_p50": round(float(np.median(c)), 2),
    }


def evaluate(
    cfg: GuardEvalConfig, policy: GuardPolicy, embedder: Embedder | None = None
) -> dict[str, Any]:
    head = LinearHead.load(policy.classifier_path)
    embedder = embedder or Embedder(cache=True, int8=head.int8)
    ex = _subset(load_examples(cfg), cfg.limit)
    texts = [e.text for e in ex]
    y = np.array([e.label for e in ex])
    t_clf = policy.input.classifier.threshold or head.threshold
    t_rules = policy.input.rules.threshold or 0.85
    plain, best = detector_scores(texts, embedder, head)
    verdicts = [scan_rules(t) for t in texts]
    rules = np.array([v.score for v in verdicts])
    # Classifier hits that `Guard.scan_input` clears as benign intent (lmforge.guard.benign).
    on = policy.input.benign_intent
    cleared = np.array(
        [on and clears(t, v) is not None for t, v in zip(texts, verdicts, strict=True)], bool
    )
    preds = {
        "classifier": plain >= t_clf,
        "rules": rules >= t_rules,
        "guard": ((best >= t_clf) & ~cleared) | (rules >= t_rules),
    }
    groups = {
        "corpus": [e.corpus for e in ex],
        "category": [f"{e.corpus}/{e.category}" for e in ex],
    }
    report: dict[str, Any] = {
        "split": ", ".join(map(str, cfg.data)) if cfg.data else cfg.split,
        "n": len(ex),
        "classifier_threshold": round(t_clf, 6),
        "overall": {k: binary_metrics(y, p) for k, p in preds.items()},
        "per_corpus": {k: by_group(groups["corpus"], y, p) for k, p in preds.items()},
        "per_category": {
            k: by_group(groups["category"], y, preds[k]) for k in ("classifier", "guard")
        },
        "caught_by_rules_only": int((preds["rules"] & ~preds["classifier"] & (y == 1)).sum()),
        # classifier hits on benign / injection texts that the benign-intent check cleared
        "cleared_benign": int((cleared & (best >= t_clf) & (y == 0)).sum()),
        "cleared_injections": int((cleared & (best >= t_clf) & (y == 1)).sum()),
    }
    if cfg.latency_samples:
        sample = _subset(ex, cfg.latency_samples)
        report["latency_ms"] = latency_ms(policy, [e.text for e in sample])
    return report
