"""The benchmark's own maths on synthetic items, and the shipped pair set is what its builder
makes (so the jsonl cannot drift from bench/gateway_pairs.py)."""

import json
import sys
from importlib import resources
from pathlib import Path

import numpy as np

from lmforge.gateway.answer_router import answer_prob

sys.path.insert(0, str(Path(__file__).parents[2] / "bench"))

import gateway_cascade
import gateway_pairs
import gateway_signals


def test_shipped_pairs_match_the_builder() -> None:
    text = resources.files("lmforge.gateway").joinpath("data/semantic_pairs.jsonl").read_text()
    shipped = [json.loads(x) for x in text.splitlines()]
    assert shipped == gateway_pairs.build()
    near = [p for p in shipped if p["kind"] == "near_miss"]
    assert len(near) >= 200 and {p["split"] for p in shipped} == {"dev", "test"}
    dev = {p["family"] for p in shipped if p["split"] == "dev"}
    assert dev.isdisjoint({p["family"] for p in shipped if p["split"] == "test"})


def test_operating_point_and_curve_on_synthetic_items() -> None:
    rng = np.random.default_rng(0)
    items = []
    for i in range(200):
        small_ok = bool(rng.random() < 0.6)
        items.append(
            {
                "id": i,
                "small_ok": small_ok,
                "large_ok": True,
                "small_cost": 1.0,
                "large_cost": 10.0,
                "margin": float(small_ok) + rng.random() * 0.1,
            }
        )
    p = gateway_cascade.operating_point(items, "margin", 0.5, pre_call=False)
    assert p["accuracy"] == 1.0 and p["accuracy_vs_large"] == 1.0
    esc = p["escalated"]
    assert p["cost_vs_large"] == round((200 + 10 * 200 * esc) / 2000, 4)
    lo, hi = p["ci95"]["cost_vs_large"]
    assert lo <= p["cost_vs_large"] <= hi
    pts = gateway_cascade.curve(items, "margin", pre_call=False)
    assert pts[0][1] < 1.0 and max(y for _, y in pts) == 1.0


def test_signal_aucs_and_shot_permutations() -> None:
    prefix = gateway_cascade.HEAD + "Message: a\nInjection: yes\n\nMessage: b\nInjection: no\n\n"
    alts = gateway_signals.permuted_prefixes(prefix, 3, seed=0)
    assert all(a.startswith(gateway_cascade.HEAD) and sorted(a) == sorted(prefix) for a in alts)
    # a signal that is high exactly on the right answers ranks them perfectly; its negation, worst
    items = [
        {"ok": ok, "margin": float(ok), "p_answer": 1.0 - ok, "selfcheck": None, "agreement": 0.5}
        for ok in (True, False, True, False)
    ]
    got = gateway_signals.aucs(items)
    assert (got["margin"], got["p_answer"], got["agreement"]) == (1.0, 0.0, 0.5)
    assert got["selfcheck"] is None and got["small_accuracy"] == 0.5


def test_answer_router_learns_whether_the_answer_matches_the_text() -> None:
    """Synthetic: the label is the sign of one embedding axis, the cheap model is right on a
    random 60%; the router sees the embedding signed by the answer and ranks right answers."""
    import gateway_answer_router as ar

    rng = np.random.default_rng(0)

    def make(n: int) -> tuple[np.ndarray, list[dict]]:
        vecs = rng.normal(size=(n, 8)).astype(np.float32)
        items = []
        for v in vecs:
            gold = "yes" if v[0] > 0 else "no"
            ok = bool(rng.random() < 0.6)
            ans = gold if ok else ("no" if gold == "yes" else "yes")
            items.append({"text": "", "small_answer": f" {ans}", "small_ok": ok, "margin": 0.1})
        return vecs, items

    vecs, train = make(400)
    fake_embed = lambda texts: vecs  # noqa: E731
    fake_embed.id = "fake"  # type: ignore[attr-defined]
    router = ar.train_answer_router(fake_embed, train)
    tv, test = make(200)
    p = answer_prob(router, tv, [it["small_answer"] for it in test])
    assert router.kind == "answer"
    ok = np.array([it["small_ok"] for it in test])
    assert p[ok].mean() > p[~ok].mean() + 0.3


def test_answer_cascade_split_keeps_test_fixed_as_dev_grows() -> None:
    import gateway_answer_cascade as ac

    items = [{"id": i} for i in range(500)]
    dev, test = ac.split(items, range(100, 200))
    assert [it["id"] for it in test] == list(range(100, 200))
    assert len(dev) == 400 and {it["id"] for it in dev}.isdisjoint(range(100, 200))


def test_answer_cascade_fresh_test_split_keeps_the_same_dev() -> None:
    import gateway_answer_cascade as ac

    items = [{"id": i} for i in range(1000)]
    dev_ids = ac.ranges("0:100,200:500")
    dev, test = ac.split(items, ac.ranges("500:1000"), dev_ids)
    old_dev, _ = ac.split(items[:500], ac.ranges("100:200"))
    assert [it["id"] for it in test] == list(range(500, 1000))
    assert dev == old_dev and len(dev) == 400


def test_perfect_signal_bound() -> None:
    import gateway_answer_cascade as ac

    s_ok = np.array([1, 1, 0, 0], bool)
    l_ok = np.array([1, 0, 1, 0], bool)
    b = ac.perfect_bound(s_ok, l_ok, np.full(4, 1.0), np.full(4, 10.0))
    # escalates item 2 only: accuracy 3/4 vs large 2/4, cost (4 + 10) / 40; the small model
    # alone already has 0.95 x the large accuracy, so the target costs 4 / 40
    assert b == {
        "accuracy_vs_large": 1.5,
        "cost_vs_large": 0.35,
        "escalated": 0.25,
        "min_cost_vs_large_for_target": 0.1,
    }
    hard = ac.perfect_bound(
        np.array([1, 0, 0, 0], bool), np.ones(4, bool), np.ones(4), np.full(4, 10.0)
    )
    # 0.95 x 4 right needs 3 escalations of the 3 wrong items: (4 + 30) / 40
    assert hard["min_cost_vs_large_for_target"] == 0.85
