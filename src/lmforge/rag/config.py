"""`lmforge rag` configuration: one model, mirrored 1:1 by YAML keys and CLI flags.

Indexing, retrieval and answering share one config because an index is only meaningful with the
embedder and chunking it was built with: keeping them together lets `ask` refuse a mismatch.
"""

from pathlib import Path
from typing import Literal

from pydantic import Field

from lmforge.config import StageConfig


class RagConfig(StageConfig):
    """Everything `lmforge rag index|query|ask|eval|train-reranker` needs."""

    docs: list[Path] = Field(default_factory=list, description="Files or folders to index.")
    index: Path = Field(Path("rag-index"), description="Index directory (created if missing).")
    store: Literal["local", "milvus"] = Field("local", description="Vector store backend.")
    milvus_uri: str | None = Field(
        None,
        description="Milvus URI; a local *.db path runs milvus-lite (default <index>/milvus.db).",
    )
    embedder: str = Field("default", description="'default' (shipped MiniLM) or a local ST dir.")
    batch_size: int = Field(64, ge=1, description="Embedding batch size.")
    chunker: Literal["token", "recursive", "semantic"] = Field("recursive")
    chunk_size: int = Field(200, ge=16, description="Max chunk size in embedder tokens.")
    chunk_overlap: int = Field(32, ge=0, description="Token overlap (token chunker).")
    semantic_percentile: float = Field(
        90.0, gt=0, lt=100, description="Semantic chunker: split at distances above this."
    )
    jsonl_field: str = Field("text", description="Text field of .jsonl documents.")
    ann_threshold: int = Field(
        20000, ge=1, description="Vectors above which the local store uses HNSW instead of exact."
    )
    retriever: Literal["dense", "bm25", "hybrid"] = Field("hybrid")
    fusion: Literal["rrf", "weighted"] = Field(
        "weighted", description="Hybrid fusion: min-max weighted scores (default) or RRF."
    )
    rrf_k: int = Field(60, ge=1)
    dense_weight: float = Field(
        0.6,
        ge=0,
        le=1,
        description="Weighted fusion: dense share (0.6 chosen on benchmark dev halves).",
    )
    top_k: int = Field(5, ge=1, description="Chunks returned / put in the prompt.")
    candidates: int = Field(30, ge=1, description="Candidates per retriever before fusion/rerank.")
    reranker: Literal["none", "cross-encoder", "llm"] = Field("none")
    reranker_path: Path | None = Field(None, description="Local CrossEncoder directory.")
    rerank_top: int = Field(
        10, ge=1, description="Fused candidates the reranker rescores; the rest follow unchanged."
    )
    rerank_weight: float = Field(
        1.0,
        ge=0,
        le=1,
        description="Reranker share of the final score, both min-max normalised (1 = reranker "
        "order only; the rest is the fused retrieval score).",
    )
    transform: Literal["none", "multi-query", "hyde"] = Field("none")
    n_queries: int = Field(3, ge=1, le=10, description="Multi-query: paraphrases to write.")
    model: str = Field("default", description="LLM for answers, transforms and the LLM reranker.")
    generator: Literal["auto", "engine", "transformers"] = Field(
        "auto", description="Who runs the LLM: lmforge's engine if importable (auto), or forced."
    )
    max_new_tokens: int = Field(128, ge=1, le=4096)
    min_score: float = Field(
        0.3, description="Dense cosine below which retrieval counts as 'nothing relevant'."
    )
    self_check: Literal["off", "drop", "regenerate", "refuse"] = Field(
        "off",
        description="Verify each answer claim against its cited chunks, then drop unsupported "
        "claims, regenerate once naming them, or refuse (docs/grounding.md).",
    )
    verifier: Literal["nli", "generator", "generator-json"] = Field(
        "nli",
        description="Self-check judge: the in-project NLI cross-encoder; the generator, asked "
        "each claim as a follow-up to its answer (cached prefix, one-token yes/no choice); or "
        "the generator asked per claim and premise for a JSON-schema verdict.",
    )
    verifier_path: Path | None = Field(
        None, description="Trained verifier (`lmforge rag train-verifier`); default: the cache."
    )
    verifier_checks: bool = Field(
        True,
        description="Also mark unsupported any claim with a number or name its evidence lacks.",
    )
    verifier_threshold: float | None = Field(
        None,
        ge=0,
        le=1,
        description="P(supported) at or above which a claim is supported (nli); default: the "
        "threshold train-verifier chose on dev, in the verifier's lmforge-verifier.json.",
    )
    threads: int | None = Field(None, ge=1, description="torch CPU threads.")
