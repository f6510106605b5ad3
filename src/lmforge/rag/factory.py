"""Build stores, retrievers and the answering pipeline from a `RagConfig`.

The LLM is loaded only when something needs it (ask, HyDE, multi-query, the LLM reranker), and
once: all of those share one generator.
"""

from pathlib import Path
from typing import Any

from lmforge.rag.config import RagConfig
from lmforge.rag.embed import Embedder
from lmforge.rag.index import check_embedder
from lmforge.rag.store import LocalStore, VectorStore


def open_store(cfg: RagConfig, embedder: Embedder) -> VectorStore:
    """The store at `cfg.index`, after checking it was built with `embedder`."""
    store: Any
    if cfg.store == "milvus":
        from lmforge.rag.milvus import MilvusStore

        store = MilvusStore.open(cfg)
    else:
        store = LocalStore(Path(cfg.index))
    check_embedder(store.meta, embedder, Path(cfg.index))
    return store


def needs_llm(cfg: RagConfig) -> bool:
    return cfg.reranker == "llm" or cfg.transform != "none"


def make_retriever(cfg: RagConfig, store: VectorStore, embedder: Embedder, generator: Any = None):
    from lmforge.rag.rerank import CrossEncoderReranker, LLMReranker
    from lmforge.rag.retrieve import Retriever
    from lmforge.rag.transforms import HyDE, MultiQuery

    if needs_llm(cfg) and generator is None:
        from lmforge.rag.generate import load_generator

        generator = load_generator(cfg.model, cfg.generator)
    reranker: Any = None
    if cfg.reranker == "cross-encoder":
        if cfg.reranker_path is None:
            from lmforge.errors import ConfigError

            raise ConfigError("reranker: 'cross-encoder' needs reranker_path (a local directory)")
        reranker = CrossEncoderReranker(cfg.reranker_path)
    elif cfg.reranker == "llm":  # needs logits: a transformers model, not a text generator
        from lmforge.rag.generate import TransformersGenerator

        scorer = generator if hasattr(generator, "model") else TransformersGenerator(cfg.model)
        reranker = LLMReranker(scorer)
    transform: Any = None
    if cfg.transform == "multi-query":
        transform = MultiQuery(generator, embedder, cfg.n_queries)
    elif cfg.transform == "hyde":
        transform = HyDE(generator, embedder)
    return Retriever(store, embedder, cfg, reranker, transform)


def make_pipeline(cfg: RagConfig, embedder: Embedder | None = None, generator: Any = None):
    """The full ask pipeline (the server can wrap this as a RAG-backed model)."""
    from lmforge.rag.answer import RagPipeline
    from lmforge.rag.generate import load_generator

    embedder = embedder or Embedder(cfg.embedder, cfg.batch_size)
    generator = generator or load_generator(cfg.model, cfg.generator)
    retriever = make_retriever(cfg, open_store(cfg, embedder), embedder, generator)
    check = make_self_check(cfg, generator) if cfg.self_check != "off" else None
    return RagPipeline(
        retriever, generator, cfg.top_k, cfg.min_score, cfg.max_new_tokens, self_check=check
    )


def make_verifier(cfg: RagConfig, generator: Any):
    """The configured claim verifier (loaded once; `SelfCheck`s under any policy share it)."""
    from lmforge.rag.verifier_train import default_verifier_path
    from lmforge.rag.verify import ConsistencyVerifier, GeneratorVerifier, NLIVerifier

    if cfg.verifier in ("generator", "generator-json"):
        in_answer = cfg.verifier == "generator"
        verifier: Any = GeneratorVerifier(generator, constrained=True, in_answer=in_answer)
    else:
        path = cfg.verifier_path or default_verifier_path()
        verifier = NLIVerifier(path, cfg.verifier_threshold, checks=cfg.verifier_checks)
    return ConsistencyVerifier(verifier) if cfg.verifier_checks else verifier


def make_self_check(cfg: RagConfig, generator: Any):
    """The configured claim verifier under the configured policy."""
    from lmforge.rag.selfcheck import SelfCheck

    return SelfCheck(make_verifier(cfg, generator), cfg.self_check)
