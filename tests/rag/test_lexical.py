"""BM25 tokenisation for prose and code, and what the default store does with older indexes."""

import json
import sqlite3

import numpy as np

from lmforge.rag.benchmarks import Benchmark
from lmforge.rag.index import build_index
from lmforge.rag.lexical import TOKENIZER_VERSION, BM25Index, tokenize
from lmforge.rag.store import LocalStore
from lmforge.rag.suite import method_config


def test_tokenize_splits_identifiers_and_keeps_them_whole():
    assert tokenize("def sortEven(max_items): the Indexes") == [
        "def",
        "sort",
        "even",
        "sorteven",
        "max",
        "item",
        "max_item",
        "index",
    ]


def test_bm25_finds_code_from_words_and_ignores_unknown_queries():
    index = BM25Index.build(["def sort_even(xs): pass", "cats eat fish", "dogs bark"])
    found = index.search(["sort the even numbers", "zebra quokka", "do dogs bark"], 2)
    assert [d for d, _ in found[0]] == [0]
    assert found[1] == []
    assert found[2][0][0] == 2


def test_an_index_from_an_older_tokenizer_is_retokenised_on_open(cfg, embedder):
    build_index(cfg, embedder)
    store = LocalStore(cfg.index)
    assert store.meta["bm25_tokenizer"] == TOKENIZER_VERSION
    with sqlite3.connect(store.gen / "chunks.sqlite") as db:
        db.execute("UPDATE meta SET value = ? WHERE key = 'bm25_tokenizer'", (json.dumps(1),))
    (store.gen / "bm25").rename(store.gen / "bm25-old")  # a rebuild must not read it
    old = LocalStore(cfg.index)
    top = old.bm25.search(["What do cats eat?"], 1)[0][0][0]
    assert "fish" in old.chunks([top])[0].text


def test_search_ids_is_the_array_form_of_search(cfg, embedder):
    build_index(cfg, embedder)
    store = LocalStore(cfg.index)
    q = embedder.encode(["What do cats eat?", "How tall is the Eiffel Tower?"])
    scores, ids = store.search_ids(q, 3)
    assert ids.shape == (2, 3)
    assert store.search(q, 3) == [
        [(int(i), float(s)) for i, s in zip(ri, rs, strict=True)]
        for ri, rs in zip(ids, scores, strict=True)
    ]
    assert np.all(np.diff(scores, axis=1) <= 0)


def test_split_halves_queries_over_the_same_documents():
    bench = Benchmark(
        "b", ["q0", "q1", "q2", "q3", "q4"], ["d0", "d1", "d2", "d3", "d4"], [0, 1, 2, 3, 4]
    )
    dev, test = bench.split()
    assert (dev.queries, dev.relevant) == (["q0", "q2", "q4"], [0, 2, 4])
    assert (test.queries, test.relevant) == (["q1", "q3"], [1, 3])
    assert dev.docs == test.docs == bench.docs and test.name == "b-test"


def test_hybrid_method_uses_the_configured_fusion(cfg):
    assert (cfg.fusion, cfg.dense_weight) == ("weighted", 0.6)
    assert method_config(cfg, "hybrid").fusion == "weighted"
    assert method_config(cfg, "hybrid-rrf").fusion == "rrf"
    assert method_config(cfg, "hybrid+ce").reranker == "cross-encoder"
