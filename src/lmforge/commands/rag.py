"""`lmforge rag index|query|ask|eval|train-reranker|train-verifier`: thin wrappers over
lmforge.rag (the two training commands live in commands/rag_train.py, shared options in
commands/rag_options.py)."""

import json
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.progress import track
from rich.table import Table

from lmforge.commands.common import console, err_console
from lmforge.commands.rag_options import CONFIG, EMBEDDER, INDEX, RUNS, STORE, config_of
from lmforge.commands.rag_train import train_reranker_cmd, train_verifier_cmd
from lmforge.files import atomic_write_json

app = typer.Typer(
    help="Retrieval: ingest, chunk, embed, index, hybrid search, rerank, answer with citations.",
    no_args_is_help=True,
)


@app.command()
def index(
    docs: list[Path] = typer.Argument(None, help="Files or folders (else `docs` from --config)."),
    config: Path | None = CONFIG,
    index: Path | None = INDEX,
    store: str | None = STORE,
    embedder: str | None = EMBEDDER,
    chunker: str | None = typer.Option(None, help="token | recursive | semantic."),
    chunk_size: int | None = typer.Option(None, help="Max chunk tokens (embedder tokens)."),
    chunk_overlap: int | None = typer.Option(None, help="Token overlap (token chunker)."),
    batch_size: int | None = typer.Option(None, help="Embedding batch size."),
    runs_dir: Path | None = RUNS,
) -> None:
    """Index files/folders incrementally: add new, re-embed changed, drop removed files."""
    from lmforge.errors import ConfigError
    from lmforge.rag.embed import Embedder
    from lmforge.rag.index import build_index
    from lmforge.runs import start_run

    cfg = config_of(
        config,
        docs=[str(d) for d in docs] if docs else None,
        index=index,
        store=store,
        embedder=embedder,
        chunker=chunker,
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        batch_size=batch_size,
    )
    if not cfg.docs:
        raise ConfigError("docs: nothing to index; give files/folders or `docs:` in the YAML")
    with start_run("rag", cfg, runs_dir) as run:
        for d in cfg.docs:
            run.add_input(d, "docs")
        emb = Embedder(cfg.embedder, cfg.batch_size)
        if cfg.store == "milvus":
            from lmforge.rag.milvus import build_milvus_index

            report = build_milvus_index(cfg, emb, lambda it, label: track(it, label))
        else:
            report = build_index(cfg, emb, lambda it, label: track(it, label, console=err_console))
        run.add_output(cfg.index, "index")
        run.log_metrics(
            files=report.files,
            chunks=report.chunks,
            embedded=report.embedded,
            reused=report.reused,
            added=len(report.added),
            changed=len(report.changed),
            removed=len(report.removed),
            failures=len(report.failures),
        )
    for path, reason in report.failures:
        err_console.print(f"[yellow]skipped[/] {escape(path)}: {escape(reason)}")
    console.print(
        f"indexed {report.files - len(report.failures)}/{report.files} files into "
        f"{report.chunks} chunks ({len(report.added)} added, {len(report.changed)} changed, "
        f"{len(report.removed)} removed, {report.unchanged} unchanged); embedded "
        f"{report.embedded}, reused {report.reused}; {cfg.index} {report.generation}; run {run.id}"
    )


@app.command()
def query(
    question: str = typer.Argument(..., help="The query."),
    config: Path | None = CONFIG,
    index: Path | None = INDEX,
    store: str | None = STORE,
    embedder: str | None = EMBEDDER,
    retriever: str | None = typer.Option(None, help="dense | bm25 | hybrid."),
    fusion: str | None = typer.Option(None, help="rrf | weighted."),
    top_k: int | None = typer.Option(None, help="Results to show."),
    reranker: str | None = typer.Option(None, help="none | cross-encoder | llm."),
    reranker_path: Path | None = typer.Option(None, help="Local CrossEncoder directory."),
    transform: str | None = typer.Option(None, help="none | multi-query | hyde."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    runs_dir: Path | None = RUNS,
) -> None:
    """Retrieve the top chunks for a query (no generation)."""
    from lmforge.rag.embed import Embedder
    from lmforge.rag.factory import make_retriever, open_store
    from lmforge.runs import start_run

    cfg = config_of(
        config,
        index=index,
        store=store,
        embedder=embedder,
        retriever=retriever,
        fusion=fusion,
        top_k=top_k,
        reranker=reranker,
        reranker_path=reranker_path,
        transform=transform,
    )
    with start_run("rag", cfg, runs_dir) as run:
        run.add_input(cfg.index, "index")
        emb = Embedder(cfg.embedder, cfg.batch_size)
        found = make_retriever(cfg, open_store(cfg, emb), emb).retrieve(question, cfg.top_k)
        run.log_metrics(hits=len(found.hits), best_dense=round(found.best_dense, 4))
    rows = [
        {
            "rank": n,
            "score": round(h.score, 4),
            "source": h.chunk.source,
            "headings": h.chunk.heading_path,
            "text": h.chunk.text,
        }
        for n, h in enumerate(found.hits, 1)
    ]
    if as_json:
        console.print_json(json.dumps(rows))
        return
    table = Table(title=f"{cfg.retriever} top {cfg.top_k}")
    for col in ("rank", "score", "source", "headings", "text"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            *(escape(str(r[c]))[:300] for c in ("rank", "score", "source", "headings", "text"))
        )
    console.print(table)


@app.command()
def ask(
    question: str = typer.Argument(..., help="The question."),
    config: Path | None = CONFIG,
    index: Path | None = INDEX,
    store: str | None = STORE,
    embedder: str | None = EMBEDDER,
    retriever: str | None = typer.Option(None, help="dense | bm25 | hybrid."),
    top_k: int | None = typer.Option(None, help="Chunks in the prompt."),
    reranker: str | None = typer.Option(None, help="none | cross-encoder | llm."),
    reranker_path: Path | None = typer.Option(None, help="Local CrossEncoder directory."),
    transform: str | None = typer.Option(None, help="none | multi-query | hyde."),
    model: str | None = typer.Option(None, help="LLM: 'default', an HF dir or a .gguf."),
    max_new_tokens: int | None = typer.Option(None, help="Answer tokens at most."),
    min_score: float | None = typer.Option(None, help="Relevance floor (dense cosine)."),
    guard_policy: Path | None = typer.Option(
        None, help="Guard policy YAML: scan question, retrieved chunks and answer (no streaming)."
    ),
    self_check: str | None = typer.Option(
        None, help="off | drop | regenerate | refuse: verify each claim (no streaming)."
    ),
    verifier: str | None = typer.Option(
        None, help="Self-check judge: nli | generator | generator-json."
    ),
    verifier_path: Path | None = typer.Option(None, help="Trained verifier (train-verifier)."),
    verifier_threshold: float | None = typer.Option(
        None, help="P(supported) to accept a claim (default: the verifier's dev-chosen one)."
    ),
    runs_dir: Path | None = RUNS,
) -> None:
    """Answer from the index with numbered, checked citations; streams the answer."""
    from lmforge.rag.answer import Answer
    from lmforge.rag.factory import make_pipeline
    from lmforge.runs import start_run

    cfg = config_of(
        config,
        index=index,
        store=store,
        embedder=embedder,
        retriever=retriever,
        top_k=top_k,
        reranker=reranker,
        reranker_path=reranker_path,
        transform=transform,
        model=model,
        max_new_tokens=max_new_tokens,
        min_score=min_score,
        self_check=self_check,
        verifier=verifier,
        verifier_path=verifier_path,
        verifier_threshold=verifier_threshold,
    )
    refusal = None
    with start_run("rag", cfg, runs_dir) as run:
        run.add_input(cfg.index, "index")
        if guard_policy is not None:
            answer, refusal = _guarded_ask(question, guard_policy, lambda: make_pipeline(cfg), run)
        elif cfg.self_check != "off":  # not streamed: unsupported claims must not be shown
            answer = make_pipeline(cfg).ask(question)
        else:
            answer = None
            for piece in make_pipeline(cfg).stream(question):
                if isinstance(piece, Answer):
                    answer = piece
                else:
                    console.print(piece, end="", markup=False, highlight=False)
            console.print()
        if answer is not None:
            run.log_metrics(
                grounded=answer.grounded,
                citations=answer.citations,
                invalid_citations=answer.invalid_citations,
                answer=answer.text,
            )
            if answer.self_check is not None:
                atomic_write_json(run.dir / "self_check.json", answer.self_check)
                run.add_output(run.dir / "self_check.json", "self_check")
                run.log_metrics(
                    **{f"self_check_{k}": answer.self_check[k] for k in SELF_CHECK_METRICS}
                )
    if refusal is not None:
        err_console.print(refusal, markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1)
    assert answer is not None
    if answer.invalid_citations:
        err_console.print(f"[yellow]removed invented citations:[/] {answer.invalid_citations}")
    if answer.self_check is not None:
        _print_self_check(answer.self_check)
    console.print(f"[bold]answer:[/] {escape(answer.text)}")
    for s in answer.sources:
        used = "*" if s["n"] in answer.citations else " "
        where = " > ".join(s["headings"])
        console.print(f"{used}[{s['n']}] {escape(s['source'])} {escape(where)}", highlight=False)
    console.print(f"run {run.id}")


SELF_CHECK_METRICS = ("claims", "unsupported", "refused", "regenerated", "verify_s")


def _print_self_check(report: dict[str, Any]) -> None:
    for i, r in enumerate(report["rounds"]):
        for v in r["verdicts"]:
            mark = "[green]supported[/]" if v["supported"] else "[red]unsupported[/]"
            where = f"[{v['chunk']}] {v['evidence'][:120]}" if v["chunk"] else "no evidence"
            err_console.print(
                f"round {i + 1} {mark} {v['score']:.2f}: {escape(v['claim'])}  <- {escape(where)}",
                highlight=False,
            )
    if report["dropped"]:
        err_console.print(f"[yellow]self-check dropped {len(report['dropped'])} claim(s)[/]")
    if report["refused"]:
        err_console.print("[yellow]self-check refused: the answer was not supported[/]")


def _guarded_ask(question: str, policy: Path, build: Any, run: Any) -> tuple[Any, str | None]:
    """`ask` under a guard policy: (answer or None, one-line refusal or None).

    Not streamed: the answer is scanned (canary, PII, citations) before anyone sees it.
    """
    from lmforge.guard.guard import Guard
    from lmforge.guard.guarded_rag import guarded_ask

    run.add_input(policy, "guard_policy")
    g = guarded_ask(Guard.from_policy(policy), question, build)
    run.log_metrics(**g.metrics())
    if g.dropped_sources:
        dropped = escape(", ".join(g.dropped_sources))
        err_console.print(f"[yellow]guard dropped retrieved chunks from:[/] {dropped}")
    if g.output is not None and g.output.action == "flag":
        err_console.print(f"[yellow]guard flagged the answer:[/] {escape(g.output.reason)}")
    return (None, g.refusal) if g.refusal else (g.answer, None)


@app.command("eval")
def eval_cmd(
    benchmark: str = typer.Option("gsm8k", help="gsm8k | humaneval."),
    methods: str = typer.Option("bm25,dense,hybrid", help="Comma list (see docs/rag.md)."),
    config: Path | None = CONFIG,
    embedder: str | None = EMBEDDER,
    reranker_path: Path | None = typer.Option(None, help="CrossEncoder for hybrid+ce."),
    model: str | None = typer.Option(None, help="LLM for hyde, multi-query, hybrid+llm."),
    candidates: int | None = typer.Option(None, help="Candidates fused/reranked per query."),
    limit: int | None = typer.Option(None, help="Queries for non-LLM methods (default all)."),
    rerank_limit: int | None = typer.Option(None, help="Queries for cross-encoder methods."),
    llm_limit: int = typer.Option(20, help="Queries for methods that call the LLM per query."),
    runs_dir: Path | None = RUNS,
) -> None:
    """Retrieval metrics (recall@1/5/10, MRR, nDCG@10) per method on a packaged benchmark."""
    from lmforge.errors import ConfigError
    from lmforge.rag.benchmarks import BENCHMARKS
    from lmforge.rag.embed import Embedder
    from lmforge.rag.evaluate import index_benchmark, temp_index_dir
    from lmforge.rag.suite import run_suite
    from lmforge.runs import start_run

    if benchmark not in BENCHMARKS:
        raise ConfigError(f"benchmark: {benchmark!r} is not one of {', '.join(BENCHMARKS)}")
    cfg = config_of(
        config, embedder=embedder, reranker_path=reranker_path, model=model, candidates=candidates
    )
    names = [m.strip() for m in methods.split(",") if m.strip()]
    with start_run(
        "rag", {**cfg.model_dump(mode="json"), "benchmark": benchmark, "methods": names}, runs_dir
    ) as run:
        bench = BENCHMARKS[benchmark]()
        emb = Embedder(cfg.embedder, cfg.batch_size)
        store, build_s = index_benchmark(bench, emb, temp_index_dir())
        run.time("index_build", build_s)
        results = run_suite(
            bench,
            store,
            emb,
            cfg,
            names,
            limit,
            llm_limit,
            rerank_limit,
            lambda it, label: track(it, label, console=err_console),
        )
        run.log_metrics(**{m: s.row() for m, s in results.items()})
    table = Table(title=f"{benchmark}: {len(bench.queries)} queries, {len(bench.docs)} documents")
    cols = ["method", "recall@1", "recall@5", "recall@10", "mrr", "ndcg@10", "queries"]
    for col in cols:
        table.add_column(col)
    for m, s in results.items():
        row = s.row()
        table.add_row(m, *(str(row[c]) for c in cols[1:]))
    console.print(table)
    console.print(f"run {run.id}")


app.command("train-reranker")(train_reranker_cmd)
app.command("train-verifier")(train_verifier_cmd)
