"""Retrieval: dense, BM25 or hybrid candidates, fused, optionally reranked and transformed.

One `Retriever` serves `query`, `ask`, `eval` and the server. Batch methods exist because an
evaluation runs a thousand queries, and embedding them one at a time costs 10x more.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from lmforge.rag import fusion
from lmforge.rag.chunking import Chunk
from lmforge.rag.config import RagConfig
from lmforge.rag.embed import Embedder
from lmforge.rag.rerank import Reranker
from lmforge.rag.store import VectorStore

Ranked = fusion.Ranked


@dataclass(slots=True)
class Hit:
    id: int
    score: float
    chunk: Chunk


@dataclass(slots=True)
class Retrieval:
    """Final hits plus the best dense cosine seen (how relevant the best candidate is)."""

    hits: list[Hit]
    best_dense: float


@dataclass(slots=True)
class Query:
    """What a query transform hands the retriever: the dense vector(s) and lexical text."""

    text: str
    dense: np.ndarray  # (dim,) unit vector
    lexical: str


class Retriever:
    def __init__(
        self,
        store: VectorStore,
        embedder: Embedder,
        cfg: RagConfig,
        reranker: Reranker | None = None,
        transform: Callable[[str], list[Query]] | None = None,
    ) -> None:
        """Retrieval settings come from `cfg` (retriever, fusion, rrf_k, dense_weight,
        candidates, rerank_top, rerank_weight); the models are built by the factory."""
        self.store, self.embedder = store, embedder
        self.mode, self.fusion_kind = cfg.retriever, cfg.fusion
        self.rrf_k, self.dense_weight, self.candidates = cfg.rrf_k, cfg.dense_weight, cfg.candidates
        self.rerank_top, self.rerank_weight = cfg.rerank_top, cfg.rerank_weight
        self.reranker, self.transform = reranker, transform
        self.bm25: Any = store.bm25  # type: ignore[attr-defined]

    def queries(self, texts: list[str]) -> list[Query]:
        vecs = self.embedder.encode(texts)
        return [Query(t, v, t) for t, v in zip(texts, vecs, strict=True)]

    def fuse(self, dense: Ranked, lexical: Ranked) -> Ranked:
        if self.mode == "dense":
            return dense
        if self.mode == "bm25":
            return lexical
        if self.fusion_kind == "rrf":
            return fusion.rrf([dense, lexical], self.rrf_k)
        return fusion.weighted([dense, lexical], [self.dense_weight, 1 - self.dense_weight])

    def candidates_many(self, queries: list[Query]) -> list[tuple[Ranked, float]]:
        """Fused candidate lists (and best dense cosine) for many queries at once.

        BM25-only retrieval still runs a top-1 dense search: the best cosine is what decides
        "nothing relevant enough", and FAISS answers it for a fraction of a millisecond.
        """
        n = self.candidates
        lexical: list[Ranked] = [[] for _ in queries]
        dense = self.store.search(
            np.stack([q.dense for q in queries]), 1 if self.mode == "bm25" else n
        )
        if self.mode != "dense":
            lexical = self.bm25.search([q.lexical for q in queries], n)
        out = []
        for d, lex in zip(dense, lexical, strict=True):
            best = d[0][1] if d else -1.0
            out.append((self.fuse(d, lex)[:n], best))
        return out

    def rerank(self, query: str, ranked: Ranked, chunks: list[Chunk]) -> Ranked:
        """Rescore the top `rerank_top` candidates; the rest keep their fused order below them.

        The final score mixes the reranker's and the retriever's, each min-max normalised
        (weight `rerank_weight` on the reranker): a small cross-encoder is a strong second
        opinion but a weak sole judge, and the mix keeps what the first stage already got right.
        """
        assert self.reranker is not None and len(ranked) == len(chunks)
        head = ranked[: self.rerank_top]
        second = self.reranker.score(query, chunks[: len(head)])
        rescored = [(doc, s) for (doc, _), s in zip(head, second, strict=True)]
        w = self.rerank_weight
        return fusion.weighted([head, rescored], [1 - w, w]) + ranked[len(head) :]

    def finish(self, query: str, ranked: Ranked, best: float, k: int) -> Retrieval:
        # Text is fetched only for what is returned, and for what the reranker reads.
        ranked = ranked[: max(k, self.rerank_top) if self.reranker is not None else k]
        chunks = self.store.chunks([i for i, _ in ranked])
        if self.reranker is not None and chunks:
            by_id = dict(zip((i for i, _ in ranked), chunks, strict=True))
            ranked = self.rerank(query, ranked, chunks)
            chunks = [by_id[i] for i, _ in ranked]
        hits = [Hit(i, s, c) for (i, s), c in zip(ranked[:k], chunks[:k], strict=True)]
        return Retrieval(hits, best)

    def retrieve(self, query: str, k: int) -> Retrieval:
        qs = self.transform(query) if self.transform else self.queries([query])
        found = self.candidates_many(qs)
        if len(found) == 1:
            ranked, best = found[0]
        else:  # several query variants: fuse their lists by rank
            ranked = fusion.rrf([r for r, _ in found], self.rrf_k)[: self.candidates]
            best = max(b for _, b in found)
        return self.finish(query, ranked, best, k)

    def retrieve_many(self, queries: list[str], k: int) -> list[Retrieval]:
        if self.transform is not None:
            return [self.retrieve(q, k) for q in queries]
        found = self.candidates_many(self.queries(queries))
        return [self.finish(q, r, b, k) for q, (r, b) in zip(queries, found, strict=True)]
