from pathlib import Path

import pytest

from lmforge.errors import LMForgeError
from lmforge.rag import store as store_mod
from lmforge.rag.index import build_index
from lmforge.rag.store import LocalStore


def sources(root: Path) -> set[str]:
    s = LocalStore(root)
    return {Path(c.source).name for c in s.chunks(list(range(len(s))))}


def test_incremental_reindex_adds_changes_and_removes(cfg, embedder, corpus):
    first = build_index(cfg, embedder)
    assert first.embedded == first.chunks > 0
    assert [Path(p).name for p, _ in first.failures] == ["broken.txt"]
    assert sources(cfg.index) == {"cats.md", "dogs.html", "paris.jsonl", "notes.txt"}

    again = build_index(cfg, embedder)
    assert (again.embedded, again.unchanged, again.added, again.changed) == (0, 4, [], [])

    (corpus / "notes.txt").write_text("Parrots can learn to imitate human speech.\n\nNew line.\n")
    (corpus / "paris.jsonl").unlink()
    (corpus / "owls.md").write_text("# Owls\n\nOwls hunt at night.\n")
    third = build_index(cfg, embedder)
    assert [Path(p).name for p in third.changed] == ["notes.txt"]
    assert [Path(p).name for p in third.removed] == ["paris.jsonl"]
    assert [Path(p).name for p in third.added] == ["owls.md"]
    assert third.embedded == 2  # the owls chunk and the changed notes chunk; the rest is cached
    assert sources(cfg.index) == {"cats.md", "dogs.html", "notes.txt", "owls.md"}
    assert [p.name for p in cfg.index.glob("gen-*")] == [third.generation]


def test_querying_with_another_embedder_is_an_error(cfg, embedder, monkeypatch):
    build_index(cfg, embedder)
    monkeypatch.setattr(embedder, "id", "another-model")
    with pytest.raises(LMForgeError, match="built with embedder"):
        build_index(cfg, embedder)


def test_a_crash_mid_write_leaves_the_old_index_intact(cfg, embedder, corpus, monkeypatch):
    build_index(cfg, embedder)
    before = sources(cfg.index)
    (corpus / "owls.md").write_text("# Owls\n\nOwls hunt at night.\n")

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(store_mod.BM25Index, "save", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        build_index(cfg, embedder)
    assert sources(cfg.index) == before
    assert not list(cfg.index.glob(".tmp-gen-*"))


def test_large_collections_switch_to_ann(cfg, embedder):
    cfg.ann_threshold = 2
    build_index(cfg, embedder)
    s = LocalStore(cfg.index)
    assert type(s.index).__name__ == "IndexHNSWFlat"
    q = embedder.encode(["What do cats eat?"])
    top = s.chunks([s.search(q, 1)[0][0][0]])[0]
    assert "fish" in top.text
