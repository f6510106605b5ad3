"""RAG benchmark: retrieval quality per method and store latency vs numpy and raw FAISS.

    .venv/bin/python bench/rag.py [--benchmarks gsm8k,humaneval] [--limit N] [--llm-limit 20]

Per benchmark (built from packaged data, see lmforge.rag.benchmarks): recall@1/5/10, MRR and
nDCG@10 for bm25, dense, hybrid (RRF k=60), hybrid-weighted, hybrid + a cross-encoder fine-tuned
by `train_reranker` on triples mined from the same index (no query labels used), hybrid + the
LLM yes-logprob reranker, HyDE and multi-query. Then index build time, queries/s and p50/p99
single-query latency of the default store vs brute-force numpy and FAISS used directly, run in
alternating rounds on the same query vectors. Other processes share the CPU: compare ratios.
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from lmforge.rag.benchmarks import BENCHMARKS
from lmforge.rag.config import RagConfig
from lmforge.rag.embed import Embedder
from lmforge.rag.evaluate import index_benchmark, latency
from lmforge.rag.factory import make_retriever
from lmforge.rag.reranker_train import mine_triples, train_reranker
from lmforge.rag.suite import run_suite


def store_latency(store, vectors: np.ndarray, queries: np.ndarray, rounds: int) -> dict:
    import faiss

    flat = faiss.IndexFlatIP(vectors.shape[1])
    t0 = time.perf_counter()
    flat.add(vectors)
    faiss_build = time.perf_counter() - t0

    def numpy_search(q: np.ndarray) -> np.ndarray:
        s = vectors @ q[0]
        top = np.argpartition(-s, 10)[:10]
        return top[np.argsort(-s[top])]

    runs: dict[str, list[dict]] = {"default store": [], "faiss direct": [], "numpy brute": []}
    fns = {
        "default store": lambda q: store.search(q, 10),
        "faiss direct": lambda q: flat.search(q, 10),
        "numpy brute": numpy_search,
    }
    for _ in range(rounds):  # alternate so load changes hit every contender alike
        for name, fn in fns.items():
            runs[name].append(latency(fn, queries))
    out = {n: {k: float(np.median([r[k] for r in rs])) for k in rs[0]} for n, rs in runs.items()}
    out["faiss direct"]["build_s"] = round(faiss_build, 4)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--benchmarks", default="gsm8k,humaneval")
    ap.add_argument(
        "--methods",
        default="bm25,dense,hybrid,hybrid-weighted,hybrid+ce,hybrid+llm,hyde,multi-query",
    )
    ap.add_argument("--limit", type=int, default=None, help="queries for non-LLM methods")
    ap.add_argument("--rerank-limit", type=int, default=300)
    ap.add_argument("--llm-limit", type=int, default=20)
    ap.add_argument("--triples", type=int, default=256)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", type=Path, default=None, help="write results JSON here")
    args = ap.parse_args()
    import faiss
    import torch

    print(f"threads: torch {torch.get_num_threads()}, faiss {faiss.omp_get_max_threads()}")
    emb = Embedder()
    results = {}
    for name in args.benchmarks.split(","):
        bench = BENCHMARKS[name]()
        root = Path(tempfile.mkdtemp(prefix=f"bench-rag-{name}-"))
        store, build_s = index_benchmark(bench, emb, root / "index")
        print(
            f"\n## {name}: {len(bench.queries)} queries, {len(bench.docs)} docs; "
            f"default store build {build_s:.1f} s (embedding included)"
        )
        cfg = RagConfig(index=root / "index", candidates=20)
        methods = args.methods.split(",")
        if "hybrid+ce" in methods:
            t0 = time.perf_counter()
            triples = mine_triples(make_retriever(cfg, store, emb), args.triples, seed=0)
            info = train_reranker(triples, root / "reranker", emb.path, max_length=128)
            cfg.reranker_path = root / "reranker"
            print(
                f"reranker: {info['triples']} mined triples, loss {info['train_loss']}, "
                f"{time.perf_counter() - t0:.0f} s"
            )
        scores = run_suite(
            bench, store, emb, cfg, methods, args.limit, args.llm_limit, args.rerank_limit
        )
        print("| method | recall@1 | recall@5 | recall@10 | MRR | nDCG@10 | queries |")
        print("|---|---|---|---|---|---|---|")
        for m, s in scores.items():
            r = s.row()
            print(
                f"| {m} | {r['recall@1']} | {r['recall@5']} | {r['recall@10']} | {r['mrr']} "
                f"| {r['ndcg@10']} | {r['queries']} |"
            )
        vectors = np.load(store.gen / "vectors.npy")
        queries = emb.encode(bench.queries[:300])
        lat = store_latency(store, vectors, queries, args.rounds)
        print("| store | p50 ms | p99 ms | queries/s |")
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
