"""Retrieval evaluation: recall@k, MRR and nDCG@10 of any retriever on a `Benchmark`.

Each benchmark document becomes one chunk in a real local index (the default store), so the
numbers measure what `lmforge rag query` does, not a special evaluation path.
"""

import math
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lmforge.rag.benchmarks import Benchmark
from lmforge.rag.chunking import Chunk
from lmforge.rag.embed import Embedder, text_hash
from lmforge.rag.retrieve import Retriever
from lmforge.rag.store import IndexContents, LocalStore, write_generation

KS = (1, 5, 10)


@dataclass(slots=True)
class Scores:
    recall: dict[int, float]
    mrr: float
    ndcg10: float
    queries: int

    def row(self) -> dict[str, float]:
        out = {f"recall@{k}": round(v, 4) for k, v in self.recall.items()}
        return {
            **out,
            "mrr": round(self.mrr, 4),
            "ndcg@10": round(self.ndcg10, 4),
            "queries": self.queries,
        }


def score_ranks(ranks: list[int | None]) -> Scores:
    """Metrics from the 1-based rank of the single relevant document (None: not retrieved)."""
    n = len(ranks)
    assert n > 0
    recall = {k: sum(1 for r in ranks if r is not None and r <= k) / n for k in KS}
    mrr = sum(1 / r for r in ranks if r is not None) / n
    ndcg = sum(1 / math.log2(r + 1) for r in ranks if r is not None and r <= 10) / n
    return Scores(recall, mrr, ndcg, n)


def index_benchmark(bench: Benchmark, embedder: Embedder, root: Path) -> tuple[LocalStore, float]:
    """One chunk per document in a fresh local index; returns the store and build seconds."""
    t0 = time.perf_counter()
    vectors = embedder.encode(bench.docs)
    chunks = [Chunk(d, f"{bench.name}/{i}", 0, ()) for i, d in enumerate(bench.docs)]
    meta = {"embedder": embedder.describe(), "chunking": {"chunker": "one-per-document"}}
    contents = IndexContents(meta, {}, chunks, [text_hash(d) for d in bench.docs], vectors)
    write_generation(root, contents, ann_threshold=10**9)
    return LocalStore(root), time.perf_counter() - t0


def evaluate(
    retriever: Retriever,
    bench: Benchmark,
    limit: int | None = None,
    progress: Callable[..., Any] | None = None,
) -> Scores:
    """Rank of each query's relevant document among the retriever's top 10."""
    n = min(limit or len(bench.queries), len(bench.queries))
    ranks: list[int | None] = []
    step = 64 if retriever.transform is None and retriever.reranker is None else 4
    batches = range(0, n, step)
    for start in progress(batches, "queries") if progress else batches:
        qs = bench.queries[start : min(start + step, n)]
        for r, rel in zip(retriever.retrieve_many(qs, 10), bench.relevant[start:], strict=False):
            ids = [h.id for h in r.hits]
            ranks.append(ids.index(rel) + 1 if rel in ids else None)
    return score_ranks(ranks)


class MemoEmbedder:
    """An embedder that remembers vectors by text: every method embeds the same queries."""

    def __init__(self, embedder: Embedder) -> None:
        self.inner = embedder
        self.memo: dict[str, np.ndarray] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        todo = list(dict.fromkeys(t for t in texts if t not in self.memo))
        for t, v in zip(todo, self.inner.encode(todo, progress), strict=True):
            self.memo[t] = v
        if not texts:
            return np.zeros((0, self.inner.dim), np.float32)
        return np.stack([self.memo[t] for t in texts])


def temp_index_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="lmforge-rag-eval-"))


def latency(search: Callable[[np.ndarray], Any], queries: np.ndarray) -> dict[str, float]:
    """Single-query latency (p50/p99 ms) and queries/s over `queries`, one at a time."""
    times = []
    for q in queries:
        t0 = time.perf_counter()
        search(q[None, :])
        times.append(time.perf_counter() - t0)
    arr = np.array(times) * 1000
    return {
        "p50_ms": round(float(np.percentile(arr, 50)), 4),
        "p99_ms": round(float(np.percentile(arr, 99)), 4),
        "qps": round(len(arr) / (arr.sum() / 1000), 1),
    }
