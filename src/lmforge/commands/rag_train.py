"""`lmforge rag train-reranker|train-verifier`: thin wrappers over lmforge.rag's trainers."""

from dataclasses import asdict
from pathlib import Path
from typing import Literal

import typer
from rich.markup import escape

from lmforge.commands.common import console
from lmforge.commands.rag_options import CONFIG, EMBEDDER, INDEX, RUNS, config_of


def train_reranker_cmd(
    out: Path = typer.Argument(..., help="Directory to write the fine-tuned CrossEncoder to."),
    config: Path | None = CONFIG,
    index: Path | None = INDEX,
    embedder: str | None = EMBEDDER,
    triples: int = typer.Option(256, help="Triples to mine from the index (at most)."),
    pairs: Path | None = typer.Option(
        None, help="JSONL of {query, positive} training pairs (else inverse cloze from the index)."
    ),
    negatives: int = typer.Option(2, help="Hard negatives mined per --pairs query."),
    epochs: int = typer.Option(2, help="Training epochs."),
    lr: float = typer.Option(1e-4, help="Peak learning rate (the head starts from scratch)."),
    loss: Literal["ranking", "bce"] = typer.Option(
        "ranking", help="ranking (softmax over a query's candidates) | bce (pointwise 0/1)."
    ),
    in_batch: int = typer.Option(2, help="Other queries' passages added as negatives (ranking)."),
    batch_size: int = typer.Option(8, help="Per step: queries (ranking) or pairs (bce)."),
    max_length: int = typer.Option(192, help="Max tokens per (query, passage) pair."),
    seed: int = typer.Option(0, help="Seed for mining and training."),
    runs_dir: Path | None = RUNS,
) -> None:
    """Fine-tune a cross-encoder from the shipped MiniLM on triples mined from an index."""
    from lmforge.rag.embed import Embedder
    from lmforge.rag.factory import make_retriever, open_store
    from lmforge.rag.reranker_train import (
        load_pairs,
        mine_pair_triples,
        mine_triples,
        train_reranker,
    )
    from lmforge.runs import start_run

    cfg = config_of(
        config,
        index=index,
        embedder=embedder,
        retriever="hybrid",
        reranker="none",
        transform="none",
    )
    with start_run(
        "rag",
        {
            **cfg.model_dump(mode="json"),
            "triples": triples,
            "pairs": str(pairs) if pairs else None,
            "negatives": negatives,
            "epochs": epochs,
            "lr": lr,
            "loss": loss,
            "in_batch": in_batch,
            "batch_size": batch_size,
            "max_length": max_length,
            "seed": seed,
            "out": str(out),
        },
        runs_dir,
    ) as run:
        run.add_input(cfg.index, "index")
        emb = Embedder(cfg.embedder, cfg.batch_size)
        retriever = make_retriever(cfg, open_store(cfg, emb), emb)
        if pairs is not None:
            run.add_input(pairs, "pairs")
            mined = mine_pair_triples(retriever, load_pairs(pairs), triples, negatives, seed)
        else:
            mined = mine_triples(retriever, triples, seed)
        info = train_reranker(
            mined, out, emb.path, epochs, batch_size, lr, max_length, seed, loss, in_batch
        )
        run.add_output(out, "reranker")
        run.log_metrics(**{k: v for k, v in info.items() if k != "base"})
    console.print(
        f"trained reranker on {info['triples']} triples (loss {info['train_loss']}) "
        f"-> {out}; use --reranker cross-encoder --reranker-path {out}; run {run.id}"
    )


def train_verifier_cmd(
    out: Path | None = typer.Argument(None, help="Output directory (default: lmforge's cache)."),
    data: str = typer.Option(
        "two-stage",
        help="two-stage (verbatim pairs, then paraphrased hard pairs from those weights: the "
        "measured recipe) | verbatim | paraphrased (one stage only).",
    ),
    init: Path | None = typer.Option(
        None, help="Start the first stage from this trained verifier instead of the shipped MiniLM."
    ),
    pairs: int | None = typer.Option(
        None, help="Pairs per stage (default: 2,560 verbatim, 4,800 paraphrased)."
    ),
    lr: float | None = typer.Option(
        None, help="Peak learning rate of every stage (default: 5e-5 verbatim, 1e-4 paraphrased)."
    ),
    epochs: int | None = typer.Option(None, help="Epochs per stage (default 1)."),
    batch_size: int = typer.Option(16, help="Pairs per step."),
    seed: int = typer.Option(1, help="Seed for the planted claims and training."),
    runs_dir: Path | None = RUNS,
) -> None:
    """Train the self-check claim verifier from the shipped MiniLM on planted GSM8K claims, and
    write the threshold chosen on the labelled set's dev half next to it. An interrupted run
    resumes at the first unfinished stage."""
    from lmforge.rag.embed import Embedder
    from lmforge.rag.verifier_train import (
        RECIPES,
        default_verifier_path,
        recipe_stages,
        train_verifier,
    )
    from lmforge.runs import start_run

    if data not in RECIPES:
        raise typer.BadParameter(f"--data must be one of {', '.join(RECIPES)}")
    out = out or default_verifier_path()
    stages = recipe_stages(data, pairs, lr, epochs)
    params = {"out": str(out), "data": data, "init": str(init) if init else None, "seed": seed}
    params |= {"batch_size": batch_size, "stages": [asdict(s) for s in stages]}
    with start_run("rag", params, runs_dir) as run:
        base = init or Embedder("default").path
        info = train_verifier(
            out, base, stages, batch_size, seed=seed, log=lambda m: console.print(escape(m))
        )
        run.add_output(out, "verifier")
        keep = ("pairs", "train_loss", "threshold", "threshold_no_checks", "dev_f1")
        run.log_metrics(**{k: info[k] for k in keep if k in info})
    console.print(
        f"trained verifier ({data}, last stage {info['pairs']} pairs, loss {info['train_loss']}, "
        f"dev threshold {info['threshold']}) -> {out}; `rag ask --self-check drop` reads it from "
        f"there (or --verifier-path {out}); run {run.id}"
    )
