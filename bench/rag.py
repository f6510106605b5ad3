"""RAG benchmark: retrieval quality per method and store latency vs numpy and raw FAISS.

    .venv/bin/python bench/rag.py [--benchmarks gsm8k,humaneval] [--rerank-limit N]
                                  [--llm-limit 20] [--out results.json]

Per benchmark (built from packaged data, see lmforge.rag.benchmarks) the queries are halved:
dev (even positions) and test (odd). Nothing is tuned or trained on test queries:

1. dev: the hybrid's dense weight is swept 0..1; the weight with the best mean dev nDCG@10 over
   the benchmarks is used for the test half (and is what RagConfig ships as its default).
2. dev: `lmforge rag train-reranker --pairs` fine-tunes a cross-encoder from the shipped MiniLM
   on (query, its document, hard negatives mined from the index) from the first `--fit` share of
   the dev queries, seeded; then the reranker's share of the final score (`rerank_weight`,
   0 = hybrid, 1 = reranker order) is swept on the remaining dev queries, which the reranker
   never saw (choosing it on its own training queries would favour the reranker), each (query,
   candidate) scored once.
3. test: recall@1/5/10, MRR, nDCG@10 for every method (hybrid+ce at the dev-chosen weight);
   reranking and LLM methods on the first `--rerank-limit` (default all) / `--llm-limit` test
   queries, next to plain hybrid on the same queries.
4. index build time, then p50/p99 single-query latency and queries/s of the default store vs
   FAISS used directly and brute-force numpy, in alternating rounds on the same query vectors.
"""

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from typer.testing import CliRunner

from lmforge.cli import app
from lmforge.rag.benchmarks import BENCHMARKS, Benchmark, docstring_pairs, humaneval_rows
from lmforge.rag.code_pairs import disjoint, package_pairs
from lmforge.rag.config import RagConfig
from lmforge.rag.embed import Embedder
from lmforge.rag.evaluate import MemoEmbedder, Scores, evaluate, index_benchmark, latency
from lmforge.rag.factory import make_retriever
from lmforge.rag.store import LocalStore
from lmforge.rag.suite import run_suite

WEIGHTS = [round(0.1 * i, 1) for i in range(11)]
METHODS = "bm25,dense,hybrid,hybrid-rrf,hybrid+ce,hybrid+llm,hyde,multi-query"


def sweep_dense_weight(dev: Benchmark, store: LocalStore, emb: Any, cfg: RagConfig) -> dict:
    """Dev nDCG@10 of the weighted hybrid for each dense weight (0 = BM25, 1 = dense)."""
    out = {}
    for w in WEIGHTS:
        c = cfg.model_copy(update={"retriever": "hybrid", "fusion": "weighted", "dense_weight": w})
        out[w] = evaluate(make_retriever(c, store, emb), dev).ndcg10
    return out


def code_pairs(source: str, n: int) -> list[tuple[str, str]]:
    """Extra (docstring, code) training pairs: stdlib modules, or installed libraries (site-
    packages, minus anything that touches HumanEval: rag/code_pairs.py)."""
    assert source in ("stdlib", "library"), source
    if source == "stdlib":
        return docstring_pairs(n)
    rows = humaneval_rows()
    kept, _ = disjoint(
        package_pairs(), [r["prompt"] for r in rows], [r["entry_point"] for r in rows]
    )
    return [(p.query, p.positive) for p in kept[:n]]


class MemoReranker:
    """Scores each (query, chunk text) once, so a weight sweep costs one pass of the model."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.memo = inner, {}

    def score(self, query: str, chunks: list) -> list[float]:
        todo = [c for c in chunks if (query, c.text) not in self.memo]
        for c, s in zip(todo, self.inner.score(query, todo) if todo else [], strict=True):
            self.memo[(query, c.text)] = s
        return [self.memo[(query, c.text)] for c in chunks]


def split_dev(dev: Benchmark, fit: float) -> tuple[Benchmark, Benchmark]:
    """(reranker training queries, weight-choosing queries): the first `fit` share, the rest."""
    n = int(len(dev.queries) * fit)
    assert 0 < n < len(dev.queries), f"--fit {fit} leaves no queries on one side"
    return dev.subset("fit", slice(0, n)), dev.subset("choose", slice(n, None))


def sweep_rerank_weight(dev: Benchmark, store: LocalStore, emb: Any, cfg: RagConfig) -> dict:
    """nDCG@10 on `dev` of hybrid + cross-encoder for each reranker weight (0 = hybrid alone)."""
    from lmforge.rag.rerank import CrossEncoderReranker

    assert cfg.reranker_path is not None
    retriever = make_retriever(cfg.model_copy(update={"reranker": "none"}), store, emb)
    retriever.reranker = MemoReranker(CrossEncoderReranker(cfg.reranker_path))
    out = {}
    for w in WEIGHTS:
        retriever.rerank_weight = w
        out[w] = evaluate(retriever, dev).ndcg10
    return out


def train_ce(
    dev: Benchmark, index: Path, out: Path, args: argparse.Namespace, extra: list[tuple[str, str]]
) -> str:
    """Train the reranker through the CLI command itself, on dev (query, document) pairs.

    `extra` pairs come from outside the benchmark (HumanEval with `--code-pairs N`: stdlib
    docstring -> code pairs, since 54 dev problems are few to train on; 400 did not help).
    """
    pairs = out.parent / "dev-pairs.jsonl"
    rows = [
        {"query": q, "positive": dev.docs[r]}
        for q, r in zip(dev.queries, dev.relevant, strict=True)
    ] + [{"query": q, "positive": p} for q, p in extra]
    pairs.write_text("".join(json.dumps(r) + "\n" for r in rows))
    knobs = ["--triples", str(args.triples), "--negatives", str(args.negatives), "--seed", "0"]
    knobs += ["--epochs", str(args.epochs), "--lr", str(args.lr), "--loss", args.loss]
    knobs += ["--in-batch", str(args.in_batch), "--batch-size", str(args.batch_size)]
    knobs += ["--max-length", str(args.max_length)]
    cli = ["rag", "train-reranker", str(out), "--index", str(index), "--pairs", str(pairs)]
    cli += [*knobs, "--runs-dir", str(out.parent / "runs")]
    t0 = time.perf_counter()
    r = CliRunner().invoke(app, cli)
    if r.exit_code != 0:
        raise RuntimeError(f"train-reranker failed: {r.output}") from r.exception
    info = json.loads((out / "lmforge-reranker.json").read_text())
    return (
        f"lmforge rag train-reranker --pairs <{len(rows) - len(extra)} dev + {len(extra)} "
        f"extra pairs> {' '.join(knobs)}: "
        f"{info['triples']} triples, loss {info['train_loss']}, {time.perf_counter() - t0:.0f} s"
    )


def store_latency(store: LocalStore, queries: np.ndarray, rounds: int) -> dict:
    """Same work for every contender: top-10 (scores, ids) arrays for one query vector.

    Rows marked "+ lists" and "+ text" add what `lmforge rag query` also does: Python
    (id, score) lists, and fetching the 10 chunk texts from SQLite.
    """
    import faiss

    vectors = np.load(store.gen / "vectors.npy")
    flat = faiss.IndexFlatIP(vectors.shape[1])
    t0 = time.perf_counter()
    flat.add(vectors)
    faiss_build = time.perf_counter() - t0

    def numpy_search(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        s = vectors @ q[0]
        top = np.argpartition(-s, 10)[:10]
        top = top[np.argsort(-s[top])]
        return s[top], top

    def with_text(q: np.ndarray) -> list:
        return store.chunks([i for i, _ in store.search(q, 10)[0]])

    fns = {
        "default store": lambda q: store.search_ids(q, 10),
        "faiss direct": lambda q: flat.search(q, 10),
        "numpy brute": numpy_search,
        "default store + lists": lambda q: store.search(q, 10),
        "default store + text": with_text,
    }
    runs: dict[str, list[dict]] = {n: [] for n in fns}
    for _ in range(rounds):  # alternate so load changes hit every contender alike
        for name, fn in fns.items():
            runs[name].append(latency(fn, queries))
    out = {n: {k: float(np.median([r[k] for r in rs])) for k in rs[0]} for n, rs in runs.items()}
    out["faiss direct"]["build_s"] = round(faiss_build, 4)
    return out


def table(scores: dict[str, Scores]) -> None:
    print("| method | recall@1 | recall@5 | recall@10 | MRR | nDCG@10 | queries |")
    print("|---|---|---|---|---|---|---|")
    for m, s in scores.items():
        r = s.row()
        print(
            f"| {m} | {r['recall@1']} | {r['recall@5']} | {r['recall@10']} | {r['mrr']} "
            f"| {r['ndcg@10']} | {r['queries']} |"
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--benchmarks", default="gsm8k,humaneval")
    ap.add_argument("--methods", default=METHODS)
    ap.add_argument("--limit", type=int, default=None, help="test queries for non-LLM methods")
    ap.add_argument("--rerank-limit", type=int, default=None, help="test queries, cross-encoder")
    ap.add_argument("--llm-limit", type=int, default=20, help="test queries, LLM methods")
    ap.add_argument("--triples", type=int, default=2000, help="reranker training triples")
    ap.add_argument("--negatives", type=int, default=3, help="hard negatives per dev query")
    ap.add_argument("--epochs", type=int, default=2, help="reranker training epochs")
    ap.add_argument("--lr", type=float, default=1e-4, help="reranker peak learning rate")
    ap.add_argument("--loss", default="ranking", help="reranker loss: ranking | bce")
    ap.add_argument("--in-batch", type=int, default=2, help="in-batch negatives (ranking)")
    ap.add_argument("--batch-size", type=int, default=8, help="reranker queries per step")
    ap.add_argument("--max-length", type=int, default=128, help="reranker pair length")
    ap.add_argument("--code-pairs", type=int, default=0, help="code pairs (humaneval)")
    ap.add_argument(
        "--code-source", default="stdlib", help="code pairs from: stdlib | library (site-packages)"
    )
    ap.add_argument("--fit", type=float, default=0.67, help="dev share the reranker trains on")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", type=Path, default=None, help="write results JSON here")
    args = ap.parse_args()
    import faiss
    import torch

    print(f"threads: torch {torch.get_num_threads()}, faiss {faiss.omp_get_max_threads()}")
    emb = MemoEmbedder(Embedder())
    methods = args.methods.split(",")
    setups, sweeps = {}, {}
    for name in args.benchmarks.split(","):
        bench = BENCHMARKS[name]()
        root = Path(tempfile.mkdtemp(prefix=f"bench-rag-{name}-"))
        store, build_s = index_benchmark(bench, emb.inner, root / "index")
        dev, test = bench.split()
        print(
            f"{name}: {len(bench.docs)} docs, {len(dev.queries)} dev + {len(test.queries)} test "
            f"queries; default store build {build_s:.1f} s (embedding included)"
        )
        sweeps[name] = sweep_dense_weight(dev, store, emb, RagConfig(index=root / "index"))
        setups[name] = (bench, root, store, build_s, dev, test)
    mean = {w: float(np.mean([s[w] for s in sweeps.values()])) for w in WEIGHTS}
    chosen = max(WEIGHTS, key=lambda w: (mean[w], -abs(w - 0.5)))
    print("\n## dev: hybrid (weighted) nDCG@10 by dense weight\n")
    print("| dense weight | " + " | ".join(sweeps) + " | mean |")
    print("|---|" + "---|" * (len(sweeps) + 1))
    for w in WEIGHTS:
        cells = " | ".join(f"{s[w]:.4f}" for s in sweeps.values())
        print(f"| {w} | {cells} | {mean[w]:.4f} |")
    print(f"chosen on dev: dense_weight {chosen} (RagConfig default {RagConfig().dense_weight})")

    results: dict[str, Any] = {"dev_sweep": sweeps, "dense_weight": chosen}
    for name, (bench, root, store, build_s, dev, test) in setups.items():
        cfg = RagConfig(index=root / "index", dense_weight=chosen)
        print(f"\n## {name} test: {len(test.queries)} queries, {len(bench.docs)} docs\n")
        if "hybrid+ce" in methods:
            cfg.reranker_path = root / "reranker"
            fit, choose = split_dev(dev, args.fit)
            extra = (
                code_pairs(args.code_source, args.code_pairs)
                if name == "humaneval" and args.code_pairs
                else []
            )
            print(train_ce(fit, root / "index", cfg.reranker_path, args, extra))
            sweep = sweep_rerank_weight(choose, store, emb, cfg)
            cfg.rerank_weight = max(WEIGHTS, key=lambda w: (sweep[w], -w))
            cells = ", ".join(f"{w}: {v:.4f}" for w, v in sweep.items())
            print(f"held-out dev ({len(choose.queries)} queries) nDCG@10 by rerank_weight: {cells}")
            print(f"chosen on dev: rerank_weight {cfg.rerank_weight} (top {cfg.rerank_top})")
            results.setdefault("rerank_sweep", {})[name] = sweep
        scores = run_suite(
            test, store, emb, cfg, methods, args.limit, args.llm_limit, args.rerank_limit
        )
        limits = {args.rerank_limit} if "hybrid+ce" in methods and args.rerank_limit else set()
        if {"hybrid+llm", "hyde", "multi-query"} & set(methods):
            limits.add(args.llm_limit)
        for n in sorted(limits):  # the same queries as the reranking/LLM methods, plain hybrid
            same = run_suite(test, store, emb, cfg, ["hybrid"], n)
            scores[f"hybrid (first {n})"] = same["hybrid"]
        table(scores)
        lat = store_latency(store, emb.encode(test.queries[:300]), args.rounds)
        print("\n| store (top-10, one query at a time) | p50 ms | p99 ms | queries/s |")
        print("|---|---|---|---|")
        for n, v in lat.items():
            print(f"| {n} | {v['p50_ms']:.4f} | {v['p99_ms']:.4f} | {v['qps']:.0f} |")
        ratio = lat["default store"]["p50_ms"] / lat["faiss direct"]["p50_ms"]
        print(f"default store / faiss direct p50 latency: {ratio:.2f}x (target <= 1.2x)")
        results[name] = {
            "build_s": build_s,
            "scores": {m: s.row() for m, s in scores.items()},
            "latency": lat,
            "latency_ratio_vs_faiss": ratio,
        }
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
