import pytest

from lmforge.rag.fusion import rrf, weighted


def test_rrf_matches_the_formula():
    fused = dict(rrf([[(1, 9.0), (2, 5.0)], [(2, 0.9), (3, 0.1)]], k=60))
    assert fused[2] == pytest.approx(1 / 62 + 1 / 61)
    assert fused[1] == pytest.approx(1 / 61)
    assert fused[3] == pytest.approx(1 / 62)
    assert [d for d, _ in rrf([[(1, 9.0), (2, 5.0)], [(2, 0.9), (3, 0.1)]])] == [2, 1, 3]


def test_weighted_normalises_each_list_before_weighting():
    bm25 = [(1, 30.0), (2, 10.0)]  # unbounded scores
    dense = [(2, 0.80), (1, 0.70)]
    fused = dict(weighted([dense, bm25], [0.8, 0.2]))
    assert fused[2] == pytest.approx(0.8) and fused[1] == pytest.approx(0.2)
    assert weighted([dense, bm25], [0.2, 0.8])[0][0] == 1
