import json

import pytest

from lmforge.rag.factory import make_retriever, open_store
from lmforge.rag.generate import TransformersGenerator
from lmforge.rag.index import build_index
from lmforge.rag.rerank import CrossEncoderReranker, LLMReranker
from lmforge.rag.reranker_train import mine_triples, split_cloze, train_reranker

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


def test_mined_triples_train_a_cross_encoder_reproducibly(cfg, embedder, corpus, tmp_path):
    (corpus / "nature.md").write_text(STORY)
    cfg.chunk_size = 24
    build_index(cfg, embedder)
    retriever = make_retriever(cfg, open_store(cfg, embedder), embedder)
    triples = mine_triples(retriever, n=8, seed=0)
    assert triples == mine_triples(retriever, n=8, seed=0)
    assert len(triples) >= 3
    assert all(t.query not in t.positive and t.negative != t.positive for t in triples)
    info = train_reranker(triples, tmp_path / "ce", embedder.path, batch_size=8, max_length=64)
    assert info["triples"] == len(triples)
    assert (tmp_path / "ce" / "lmforge-reranker.json").is_file()
    lines = (tmp_path / "ce" / "triples.jsonl").read_text().splitlines()
    assert json.loads(lines[0])["query"] == triples[0].query
    ce = CrossEncoderReranker(tmp_path / "ce")
    hits = retriever.retrieve("Which animal hunts at night?", 3).hits
    scores = ce.score("Which animal hunts at night?", [h.chunk for h in hits])
    assert len(scores) == 3 and len(set(scores)) == 3


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
