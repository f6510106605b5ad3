"""Lexical retrieval with `bm25s` (sparse BM25, scipy-backed, far faster than rank_bm25).

Tokens are lower-cased words with English stop words removed and a light suffix stem, so
"indexes"/"indexing" meet "index". The index is saved next to the vectors and reloaded on open.
"""

import re
from pathlib import Path

import numpy as np

from lmforge.extras import require

_SUFFIX = re.compile(r"(ing|ed|es|s)$")


def _stem(word: str) -> str:
    return _SUFFIX.sub("", word) if len(word) > 4 else word


class BM25Index:
    def __init__(self, retriever, size: int) -> None:
        self.retriever = retriever
        self.size = size

    @staticmethod
    def _tokens(texts: list[str]) -> list[list[str]]:
        bm25s = require("rag", "bm25s")
        toks = bm25s.tokenize(texts, stopwords="en", return_ids=False, show_progress=False)
        return [[_stem(t) for t in doc] for doc in toks]

    @classmethod
    def build(cls, texts: list[str]) -> "BM25Index":
        bm25s = require("rag", "bm25s")
        retriever = bm25s.BM25()
        if texts:
            retriever.index(cls._tokens(texts), show_progress=False)
        return cls(retriever, len(texts))

    def save(self, path: Path) -> None:
        if self.size:
            self.retriever.save(str(path), show_progress=False)

    @classmethod
    def load(cls, path: Path, size: int) -> "BM25Index":
        bm25s = require("rag", "bm25s")
        if not size:
            return cls(bm25s.BM25(), 0)
        return cls(bm25s.BM25.load(str(path), show_progress=False), size)

    def search(self, queries: list[str], k: int) -> list[list[tuple[int, float]]]:
        """Top-k (chunk id, score) per query; documents with score 0 are dropped."""
        if not self.size:
            return [[] for _ in queries]
        k = min(k, self.size)
        docs, scores = self.retriever.retrieve(
            self._tokens(queries), k=k, show_progress=False, n_threads=1
        )
        out = []
        for row_d, row_s in zip(np.asarray(docs), np.asarray(scores), strict=True):
            out.append([(int(d), float(s)) for d, s in zip(row_d, row_s, strict=True) if s > 0])
        return out
