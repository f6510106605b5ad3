import pytest

from lmforge.rag.chunking import RecursiveChunker, SemanticChunker, TokenChunker, make_chunker
from lmforge.rag.documents import Document, Section

LONG = " ".join(f"Sentence number {i} talks about topic {i % 7}." for i in range(120))


def doc(text: str, headings: tuple[str, ...] = ("H",)) -> Document:
    return Document("x.md", [Section(headings, text)])


@pytest.mark.parametrize("kind", ["token", "recursive", "semantic"])
def test_chunks_never_exceed_the_embedder_window(embedder, kind):
    chunker = make_chunker(kind, embedder, size=10_000, overlap=16, percentile=80)
    assert chunker.size == embedder.max_tokens - 2
    chunks = chunker.chunk(doc(LONG))
    assert len(chunks) > 1
    assert all(chunker.count(c.text) <= embedder.max_tokens - 2 for c in chunks)
    assert [c.position for c in chunks] == list(range(len(chunks)))
    assert all(c.headings == ("H",) and c.source == "x.md" for c in chunks)


def test_token_chunker_windows_overlap(embedder):
    chunker = TokenChunker(embedder.tokenizer, 254, size=40, overlap=10)
    chunks = chunker.chunk(doc(LONG))
    ids = [embedder.tokenizer.encode(c.text, add_special_tokens=False) for c in chunks]
    assert all(len(i) <= 40 for i in ids)
    assert ids[0][-10:] == ids[1][:10]  # the overlap is exactly the last 10 tokens


def test_recursive_prefers_paragraph_then_sentence_boundaries(embedder):
    paras = ["Alpha one. Alpha two.", "Beta one. Beta two.", "Gamma " * 60 + "end. Tail here."]
    chunker = RecursiveChunker(embedder.tokenizer, 254, size=20)
    texts = [c.text for c in chunker.chunk(doc("\n\n".join(paras)))]
    assert texts[0] == "Alpha one. Alpha two.\n\nBeta one. Beta two."
    assert texts[-1] == "Tail here."
    assert all(chunker.count(t) <= 20 for t in texts)


def test_semantic_splits_where_the_topic_changes(embedder):
    cooking = [
        "Boil the pasta in salted water.",
        "Drain the pasta and add the tomato sauce.",
        "Sprinkle grated parmesan cheese on the pasta.",
    ]
    space = [
        "The rocket engine ignited on the launch pad.",
        "The spacecraft reached orbit around the Earth.",
        "Astronauts docked with the space station.",
    ]
    chunker = SemanticChunker(embedder.tokenizer, 254, 200, embedder.encode, percentile=80)
    texts = [c.text for c in chunker.chunk(doc(" ".join(cooking + space)))]
    assert texts == [" ".join(cooking), " ".join(space)]
