import random

import numpy as np

from lmforge.data.dedup import (
    EXACT,
    KEEP,
    NEAR,
    NearDedupParams,
    components,
    plan_dedup,
    signature_arrays,
)
from lmforge.data.minhash import MinHasher, candidate_pairs, collision_probability, lsh_threshold


def _text(rng: random.Random, n: int = 200) -> list[str]:
    return [f"w{rng.randrange(20000)}" for _ in range(n)]


def _jaccard(a: list[str], b: list[str], k: int = 5) -> float:
    sa = {tuple(a[i : i + k]) for i in range(len(a) - k + 1)}
    sb = {tuple(b[i : i + k]) for i in range(len(b) - k + 1)}
    return len(sa & sb) / len(sa | sb)


def test_signature_estimates_jaccard_unbiased() -> None:
    rng = random.Random(0)
    m = MinHasher(num_perm=256)
    errors = []
    for _ in range(60):
        a = _text(rng)
        b = list(a)
        for i in rng.sample(range(len(b)), rng.randrange(2, 25)):
            b[i] = "x" + b[i]
        sig = m.signatures([" ".join(a), " ".join(b)])
        errors.append((sig[0] == sig[1]).mean() - _jaccard(a, b))
    assert abs(np.mean(errors)) < 0.02  # unbiased
    assert np.std(errors) < 0.06  # ~ sqrt(J(1-J)/256)


def test_signatures_deterministic_and_empty() -> None:
    texts = ["one two three four five six", "", "!!!"]
    s1 = MinHasher(64).signatures(texts)
    s2 = MinHasher(64).signatures(list(reversed(texts)))[::-1]
    assert np.array_equal(s1, s2)  # a document's signature ignores its batch neighbours
    assert (s1[1] == 0xFFFFFFFF).all() and (s1[2] == 0xFFFFFFFF).all()


def test_lsh_threshold_math() -> None:
    assert abs(lsh_threshold(14, 8) - 0.719) < 1e-3
    assert collision_probability(0.9, 14, 8) > 0.99
    assert collision_probability(0.5, 14, 8) < 0.06


def test_candidate_pairs_anchor_first() -> None:
    sig = np.array([[1, 2], [3, 4], [1, 2], [1, 2]], dtype=np.uint32)
    assert candidate_pairs(sig, bands=1, rows=2).tolist() == [[0, 2], [0, 3]]


def test_components_min_label() -> None:
    pairs = np.array([[3, 4], [1, 3], [5, 6]])
    assert components(7, pairs).tolist() == [0, 1, 2, 1, 1, 5, 5]


def test_plan_exact_then_near_keeps_first() -> None:
    rng = random.Random(1)
    base = " ".join(_text(rng))
    near = base.rsplit(" ", 1)[0] + " changed"
    other = " ".join(_text(rng))
    texts = [other, base, "  " + base.upper() + " ", near, ""]
    p = NearDedupParams()
    exact, sig = signature_arrays(texts, p)
    plan = plan_dedup(exact, sig, p)
    assert plan.reason.tolist() == [KEEP, KEEP, EXACT, NEAR, KEEP]
    assert plan.dup_of.tolist() == [0, 1, 1, 1, 4]
    assert plan.group.tolist() == [0, 1, 1, 1, 4]
