"""The Milvus store through pymilvus + milvus-lite: same results and incremental behaviour."""

from pathlib import Path

import pytest

from lmforge.errors import LMForgeError
from lmforge.rag.factory import make_retriever, open_store

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")


def test_milvus_store_indexes_incrementally_and_answers_like_local(cfg, embedder, corpus):
    from lmforge.rag.milvus import build_milvus_index

    cfg.store = "milvus"
    first = build_milvus_index(cfg, embedder)
    assert first.embedded == first.chunks > 0
    store = open_store(cfg, embedder)
    assert len(store) == first.chunks
    hit = make_retriever(cfg, store, embedder).retrieve("What do cats eat?", 1).hits[0]
    assert "fish" in hit.chunk.text and hit.chunk.headings == ("Cats", "Food")

    (corpus / "paris.jsonl").unlink()
    (corpus / "owls.md").write_text("# Owls\n\nOwls hunt at night.\n")
    second = build_milvus_index(cfg, embedder)
    assert (second.embedded, len(second.added), len(second.removed)) == (1, 1, 1)
    store = open_store(cfg, embedder)
    texts = " ".join(store.all_texts())
    assert "Owls" in texts and "Eiffel" not in texts and len(store) == second.chunks

    embedder_id = embedder.id
    try:
        embedder.id = "other"
        with pytest.raises(LMForgeError, match="built with embedder"):
            build_milvus_index(cfg, embedder)
    finally:
        embedder.id = embedder_id
    assert Path(cfg.index, "milvus.db").exists()
