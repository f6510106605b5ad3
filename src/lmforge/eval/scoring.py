"""From per-item scores to reported scores with bootstrap intervals.

Each metric has an aggregation: `mean` over items (accuracy, EM, F1, ROUGE, pass@k), `sum`
(counts), `bleu`
/ `chrf` (sacrebleu corpus score from summed per-item statistics) or `perplexity` /
`bits_per_byte` (ratio of summed log-likelihoods to summed tokens/bytes). Aggregations are
named in the results JSON, so `eval compare` can rebuild them from two runs' items alone.
"""

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from lmforge.eval.metrics import CorpusMetric
from lmforge.eval.stats import Interval, bootstrap_ci

Aggregate = Callable[[np.ndarray], float]


def _perplexity(rows: np.ndarray) -> float:  # rows: (logprob, tokens, bytes)
    return float(math.exp(-rows[:, 0].sum() / max(rows[:, 1].sum(), 1)))


def _bits_per_byte(rows: np.ndarray) -> float:
    return float(-rows[:, 0].sum() / max(rows[:, 2].sum(), 1) / math.log(2))


def aggregate_fn(kind: str) -> Aggregate | None:
    """None means the plain mean (bootstrap's vectorised fast path)."""
    if kind == "mean":
        return None
    if kind == "sum":  # counts (e.g. claims a judge never answered): reported, not averaged
        return lambda rows: float(rows.sum())
    if kind in ("bleu", "chrf"):
        metric = CorpusMetric(kind)
        return metric.score
    if kind == "perplexity":
        return _perplexity
    if kind == "bits_per_byte":
        return _bits_per_byte
    raise ValueError(f"unknown aggregation {kind!r}")


def item_values(items: list[dict[str, Any]], metric: str) -> np.ndarray:
    """Per-item values (or statistic rows) of `metric`, in item order."""
    return np.asarray([it["scores"][metric] for it in items], dtype=np.float64)


def summarize(
    items: list[dict[str, Any]],
    aggregations: dict[str, str],
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, dict[str, float]]:
    """Every metric's point estimate with its percentile-bootstrap interval."""
    out = {}
    for metric, kind in aggregations.items():
        fn = aggregate_fn(kind)
        values = item_values(items, metric)
        ci: Interval = (
            bootstrap_ci(values, n_boot=n_boot, confidence=confidence, seed=seed)
            if fn is None
            else bootstrap_ci(values, fn, n_boot=n_boot, confidence=confidence, seed=seed)
        )
        out[metric] = ci.to_dict()
    return out
