import json

import pytest
from typer.testing import CliRunner

from lmforge.cli import app
from lmforge.rag.factory import make_retriever, open_store
from lmforge.rag.generate import TransformersGenerator
from lmforge.rag.index import build_index
from lmforge.rag.rerank import CrossEncoderReranker, LLMReranker
from lmforge.rag.reranker_train import (
    Triple,
    load_pairs,
    mine_pair_triples,
    mine_triples,
    ranking_rows,
    split_cloze,
)

STORY = (
    "Owls hunt small rodents at night using silent flight. Their feathers muffle every sound.\n\n"
    "Bees collect nectar from flowers in the spring. They turn the nectar into honey.\n\n"
    "Glaciers carve deep valleys over many thousands of years. The ice moves slowly downhill.\n\n"
    "Volcanoes erupt molten rock from deep inside the planet. Lava cools into new land.\n"
)


def test_split_cloze():
    assert split_cloze("Owls hunt small rodents at night. Their feathers are soft and quiet.") == (
        "Owls hunt small rodents at night.",
        "Their feathers are soft and quiet.",
    )
    assert split_cloze("Too short. Nothing else here at all.") is None


def test_ranking_rows_group_a_querys_negatives_in_one_row():
    triples = [Triple("q1", "p1", "a"), Triple("q2", "p2", "b"), Triple("q1", "p1", "c")]
    assert ranking_rows(triples) == {
        "query": ["q1", "q2"],
        "positive": ["p1", "p2"],
        "negative_0": ["a", "b"],
        "negative_1": ["c", "b"],  # q2 has one negative: it repeats, the width stays fixed
    }


def test_cloze_triples_are_mined_reproducibly(cfg, embedder, corpus):
    (corpus / "nature.md").write_text(STORY)
    cfg.chunk_size = 24
    build_index(cfg, embedder)
    retriever = make_retriever(cfg, open_store(cfg, embedder), embedder)
    triples = mine_triples(retriever, n=8, seed=0)
    assert triples == mine_triples(retriever, n=8, seed=0)
    assert len(triples) >= 3
    assert all(t.query not in t.positive and t.negative != t.positive for t in triples)


def test_cli_trains_a_cross_encoder_on_labelled_pairs(cfg, embedder, corpus, tmp_path):
    (corpus / "nature.md").write_text(STORY)
    cfg.chunk_size = 24
    build_index(cfg, embedder)
    store = open_store(cfg, embedder)
    texts = store.all_texts()
    owls = next(t for t in texts if "Owls" in t)
    bees = next(t for t in texts if "Bees" in t)
    pairs = tmp_path / "pairs.jsonl"
    rows = [("Which bird hunts in silence?", owls), ("Who makes honey?", bees)]
    pairs.write_text("".join(json.dumps({"query": q, "positive": p}) + "\n" for q, p in rows))
    retriever = make_retriever(cfg, store, embedder)
    mined = mine_pair_triples(retriever, load_pairs(pairs), n=8, negatives=2)
    assert len(mined) == 4 and mined == mine_pair_triples(retriever, load_pairs(pairs), 8, 2)
    assert {t.positive for t in mined} == {owls, bees}
    assert all(t.negative in texts and t.negative != t.positive for t in mined)

    out = tmp_path / "ce"
    args = ["rag", "train-reranker", str(out), "--index", str(cfg.index), "--pairs", str(pairs)]
    r = CliRunner().invoke(app, [*args, "--epochs", "8", "--lr", "1e-4", "--max-length", "64"])
    assert r.exit_code == 0, r.output
    info = json.loads((out / "lmforge-reranker.json").read_text())
    assert info["triples"] == 4 and info["seed"] == 0 and info["loss"] == "ranking"
    lines = (out / "triples.jsonl").read_text().splitlines()
    assert {json.loads(x)["query"] for x in lines} == {q for q, _ in rows}
    ce = CrossEncoderReranker(out)
    chunks = store.chunks([0, 1, 2])
    scores = ce.score("Which animal hunts at night?", chunks)
    assert len(scores) == 3 and len(set(scores)) == 3
    # the listwise loss has learnt its two training queries: each ranks its own passage first
    by_text = {c.text: c for c in store.chunks(list(range(len(store))))}
    for query, positive in rows:
        ranked = dict(zip(texts, ce.score(query, [by_text[t] for t in texts]), strict=True))
        assert max(ranked, key=ranked.get) == positive, (query, ranked)

    r = CliRunner().invoke(app, [*args, "--loss", "bce", "--batch-size", "4", "--max-length", "64"])
    assert r.exit_code == 0, r.output
    assert json.loads((out / "lmforge-reranker.json").read_text())["loss"] == "bce"
    bad = CliRunner().invoke(app, [*args, "--loss", "listwise"])
    assert bad.exit_code != 0 and "listwise" in bad.output


class ByLength:
    """A reranker that prefers longer chunks: easy to predict, so the mixing can be pinned."""

    def __init__(self):
        self.calls = []

    def score(self, query, chunks):
        self.calls.append(len(chunks))
        return [float(len(c.text)) for c in chunks]


def test_rerank_mixes_scores_on_the_top_candidates_only(cfg, embedder):
    build_index(cfg, embedder)
    store = open_store(cfg, embedder)
    base = make_retriever(cfg, store, embedder)
    ranked = base.candidates_many(base.queries(["What do cats eat?"]))[0][0]
    chunks = store.chunks([i for i, _ in ranked])
    assert len(ranked) >= 4
    length = {i: len(c.text) for (i, _), c in zip(ranked, chunks, strict=True)}

    base.reranker, base.rerank_top, base.rerank_weight = ByLength(), 3, 1.0
    only = base.rerank("q", ranked, chunks)
    assert [i for i, _ in only[:3]] == sorted((i for i, _ in ranked[:3]), key=lambda i: -length[i])
    assert only[3:] == ranked[3:] and base.reranker.calls == [3]
    base.rerank_weight = 0.0
    assert [i for i, _ in base.rerank("q", ranked, chunks)] == [i for i, _ in ranked]
    base.rerank_weight = 0.5  # min-max halves: the top fused candidate keeps 0.5 at least
    mixed = dict(base.rerank("q", ranked, chunks)[:3])
    assert mixed[ranked[0][0]] >= 0.5

    hits = base.finish("q", ranked, 0.9, k=len(ranked)).hits
    assert [h.id for h in hits][:3] == [i for i, _ in base.rerank("q", ranked, chunks)][:3]
    assert all(h.chunk.text == store.chunks([h.id])[0].text for h in hits)


def test_llm_reranker_scores_with_a_tiny_model(tiny_llama_dir, cfg, embedder):
    build_index(cfg, embedder)
    gen = TransformersGenerator(str(tiny_llama_dir))
    chunks = open_store(cfg, embedder).chunks([0, 1, 2])
    scores = LLMReranker(gen, batch_size=2).score("What do cats eat?", chunks)
    assert len(scores) == 3 and all(isinstance(s, float) for s in scores)
    # batching with left padding must not change a passage's score
    alone = LLMReranker(gen, batch_size=1).score("What do cats eat?", chunks)
    assert scores == pytest.approx(alone, abs=1e-4)


@pytest.mark.integration
def test_default_llm_prefers_the_passage_that_answers(cfg, embedder, default_model_dir):
    build_index(cfg, embedder)
    store = open_store(cfg, embedder)
    texts = {c.text: c for c in store.chunks(list(range(len(store))))}
    eiffel = next(c for t, c in texts.items() if "Eiffel" in t)
    dogs = next(c for t, c in texts.items() if "bark" in t)
    gen = TransformersGenerator(str(default_model_dir))
    yes_eiffel, yes_dogs = LLMReranker(gen).score("How tall is the Eiffel Tower?", [eiffel, dogs])
    assert yes_eiffel > yes_dogs
