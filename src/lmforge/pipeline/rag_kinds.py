"""RAG stages as pipeline kinds: build an index over documents, score retrieval methods, and
answer questions from an index with checked citations."""

from pathlib import Path
from typing import Any

from pydantic import Field

from lmforge.config import StageConfig
from lmforge.pipeline.kinds import RUN_DIR
from lmforge.runs import Run


def index_fill(inputs: dict[str, Path]) -> dict[str, Any]:
    fill: dict[str, Any] = {"index": RUN_DIR}
    if "documents" in inputs:
        fill["docs"] = [str(inputs["documents"])]
    return fill


def rag_index(cfg: Any, inputs: dict[str, Path], run: Run) -> dict[str, Path]:
    """`lmforge rag index` into the stage's run directory."""
    from rich.progress import track

    from lmforge.rag.embed import Embedder
    from lmforge.rag.index import build_index

    cfg.index = run.dir / "index"
    report = build_index(
        cfg,
        Embedder(cfg.embedder, cfg.batch_size),
        lambda it, label: track(it, label, transient=True),
    )
    run.log_metrics(
        files=report.files,
        chunks=report.chunks,
        embedded=report.embedded,
        failures=len(report.failures),
    )
    return {"index": cfg.index}


class RagEvalConfig(StageConfig):
    """`lmforge rag eval` as a stage: retrieval metrics per method on a packaged benchmark."""

    benchmark: str = Field("gsm8k", description="gsm8k | humaneval.")
    methods: list[str] = Field(default_factory=lambda: ["bm25", "dense", "hybrid"])
    limit: int | None = Field(None, ge=1, description="Queries for non-LLM methods (default all).")
    embedder: str = "default"
    batch_size: int = Field(64, ge=1)


def rag_eval(cfg: RagEvalConfig, inputs: dict[str, Path], run: Run) -> dict[str, Path]:
    """Index the benchmark's documents, score each method, log `retrieval` for the report."""
    import json

    from lmforge.errors import ConfigError
    from lmforge.files import atomic_write_text
    from lmforge.rag.benchmarks import BENCHMARKS
    from lmforge.rag.config import RagConfig
    from lmforge.rag.embed import Embedder
    from lmforge.rag.evaluate import index_benchmark
    from lmforge.rag.suite import run_suite

    if cfg.benchmark not in BENCHMARKS:
        raise ConfigError(f"benchmark: {cfg.benchmark!r} is not one of {', '.join(BENCHMARKS)}")
    bench = BENCHMARKS[cfg.benchmark]()
    emb = Embedder(cfg.embedder, cfg.batch_size)
    store, build_s = index_benchmark(bench, emb, run.dir / "bench-index")
    run.time("index_build", build_s)
    rag = RagConfig(embedder=cfg.embedder, batch_size=cfg.batch_size)
    scores = run_suite(bench, store, emb, rag, cfg.methods, cfg.limit)
    rows = {m: s.row() for m, s in scores.items()}
    run.log_metrics(retrieval={cfg.benchmark: rows})
    out = atomic_write_text(run.dir / "retrieval.json", json.dumps(rows, indent=2))
    return {"results": out}


class RagAskConfig(StageConfig):
    """`lmforge rag ask` as a stage: questions answered from the `index` input, with citations."""

    questions: list[str] = Field(min_length=1)
    model: str = Field("default", description="Answering LLM (or the pipeline's `model` input).")
    retriever: str = "hybrid"
    top_k: int = Field(3, ge=1)
    max_new_tokens: int = Field(96, ge=1)
    embedder: str = "default"


def ask_fill(inputs: dict[str, Path]) -> dict[str, Any]:
    return {"model": str(inputs["model"])} if "model" in inputs else {}


def rag_ask(cfg: RagAskConfig, inputs: dict[str, Path], run: Run) -> dict[str, Path]:
    """Logs `answers`: [{question, answer, grounded, citations, sources}] for the report."""
    import json

    from lmforge.files import atomic_write_text
    from lmforge.rag.config import RagConfig
    from lmforge.rag.factory import make_pipeline

    rag = RagConfig(
        index=inputs["index"],
        embedder=cfg.embedder,
        retriever=cfg.retriever,
        top_k=cfg.top_k,
        model=cfg.model,
        max_new_tokens=cfg.max_new_tokens,
    )
    pipe = make_pipeline(rag)
    answers = []
    for q in cfg.questions:
        a = pipe.ask(q)
        answers.append(
            {
                "question": q,
                "answer": a.text,
                "grounded": a.grounded,
                "citations": a.citations,
                "invalid_citations": a.invalid_citations,
                "sources": [
                    {**src, "text": hit.chunk.text[:300]}
                    for src, hit in zip(a.sources, a.hits, strict=True)
                ],
            }
        )
    run.log_metrics(answers=answers)
    return {"answers": atomic_write_text(run.dir / "answers.json", json.dumps(answers, indent=2))}
