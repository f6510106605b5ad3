"""The retrieval methods compared by `lmforge rag eval` and bench/rag.py, on one shared index.

Methods: bm25, dense, hybrid (the config's fusion: weighted min-max by default), hybrid-rrf (RRF
k=60), hybrid+ce (cross-encoder rerank), hybrid+llm (LLM yes-logprob rerank), hyde, multi-query.
Reranking methods are evaluated on the first `rerank_limit` queries and methods that call the LLM
per query on the first `llm_limit` (their own, clearly labelled, query counts).
"""

from collections.abc import Callable
from typing import Any

from lmforge.errors import ConfigError
from lmforge.rag.benchmarks import Benchmark
from lmforge.rag.config import RagConfig
from lmforge.rag.evaluate import MemoEmbedder, Scores, evaluate
from lmforge.rag.factory import make_retriever
from lmforge.rag.store import VectorStore

METHODS = (
    "bm25",
    "dense",
    "hybrid",
    "hybrid-rrf",
    "hybrid+ce",
    "hybrid+llm",
    "hyde",
    "multi-query",
)
LLM_METHODS = frozenset({"hybrid+llm", "hyde", "multi-query"})


def method_config(cfg: RagConfig, method: str) -> RagConfig:
    """`cfg` with the retriever/fusion/reranker/transform that `method` names."""
    if method not in METHODS:
        raise ConfigError(f"methods: unknown method {method!r} (known: {', '.join(METHODS)})")
    c = cfg.model_copy()
    c.retriever = "hybrid" if method.startswith("hybrid") or method in LLM_METHODS else method
    c.fusion = "rrf" if method == "hybrid-rrf" else cfg.fusion
    c.reranker = {"hybrid+ce": "cross-encoder", "hybrid+llm": "llm"}.get(method, "none")
    c.transform = method if method in ("hyde", "multi-query") else "none"
    return c


def run_suite(
    bench: Benchmark,
    store: VectorStore,
    embedder: Any,
    cfg: RagConfig,
    methods: list[str],
    limit: int | None = None,
    llm_limit: int = 20,
    rerank_limit: int | None = None,
    progress: Callable[..., Any] | None = None,
) -> dict[str, Scores]:
    generator = None
    if LLM_METHODS & set(methods):
        from lmforge.rag.generate import load_generator

        generator = load_generator(cfg.model, cfg.generator)
    out: dict[str, Scores] = {}
    embedder = MemoEmbedder(embedder)
    for method in methods:
        c = method_config(cfg, method)
        n = llm_limit if method in LLM_METHODS else rerank_limit if "+" in method else limit
        retriever = make_retriever(c, store, embedder, generator)
        out[method] = evaluate(retriever, bench, n, progress)
    return out
