"""The paraphrased verifier training pairs: disjoint from the evaluation rows, labelled by
construction, and hard (reworded positives, negatives from the passage's own words)."""

import pytest

from lmforge.rag import grounding_set as gs
from lmforge.rag import verifier_data as vd
from lmforge.rag.paraphrase import paraphrase


@pytest.fixture(scope="module")
def rows_and_pairs():
    rows = gs.gsm8k_rows()[:120]  # a slice keeps the test fast; the rules are the same
    mp = pytest.MonkeyPatch()
    mp.setattr(gs, "gsm8k_rows", lambda: rows)  # train_passages reads it there
    try:
        yield rows, vd.paraphrased_pairs(seed=1)
    finally:
        mp.undo()


def test_pairs_never_touch_an_evaluation_passage(rows_and_pairs) -> None:
    rows, pairs = rows_and_pairs
    held_out = [" ".join(gs.passage(rows[i])) for i in gs.eval_positions(len(rows))]
    for _, context, _ in pairs:
        assert not any(p in context for p in held_out)


def test_labels_come_from_the_construction(rows_and_pairs) -> None:
    rows, pairs = rows_and_pairs
    passages = [gs.passage(rows[i]) for i in gs.train_positions(len(rows))]
    by_start = {" ".join(p): p for p in passages}
    reworded = 0
    for claim, context, label in pairs:
        own = next(p for start, p in by_start.items() if context.startswith(start))
        sources = set(own) | {paraphrase(s) for s in own}
        assert (claim in sources) == bool(label), claim
        reworded += label and claim not in own
    positives = sum(y for _, _, y in pairs)
    assert reworded > positives / 2  # most supported claims are not verbatim copies
    assert len(pairs) - positives > positives  # the hard negatives outnumber the positives


def test_wrong_numbers_reuse_the_passage_numbers(rows_and_pairs) -> None:
    """A planted number is one the passage states elsewhere, so "the number is in the text"
    does not give the label away."""
    _, pairs = rows_and_pairs
    negatives = [(c, ctx) for c, ctx, y in pairs if y == 0]
    numbers = [set(gs._NUM.findall(c)) for c, _ in negatives]
    in_context = sum(
        bool(n) and n <= set(gs._NUM.findall(ctx))
        for n, (_, ctx) in zip(numbers, negatives, strict=True)
    )
    assert in_context > len(negatives) / 4
