"""Near/exact dedup benchmark: lmforge vs datasketch MinHashLSH vs datatrove's MinHash pipeline.

Corpus (fixed seed): base documents of 60-200 words assembled from sentences of gensim's
bundled test corpora (Lee news, Lee background, Crime and Punishment excerpt, Pang-Lee
polarity), plus injected exact duplicates (case/whitespace changed), near duplicates whose
word 5-gram Jaccard to their source is spread over 0.4-0.98 (truth: Jaccard >= threshold),
and junk. All tools see the same documents, one process each, alternating, same shingles
(word 5-grams) and the same threshold (datatrove: same 14x8 bands, no verification; see
run_datatrove). datasketch runs twice: as documented (every LSH candidate is a duplicate) and
with lmforge's check (a candidate counts only if its signature Jaccard is >= the threshold).
Usage:

    .venv/bin/python bench/data.py --docs 20000 --repeats 2

The datatrove peer is bench-only, in no lmforge extra: `pip install datatrove spacy`
(datatrove's MinHash signature step tokenises words with spaCy's blank English tokenizer,
`spacy.blank("en")`, which needs no model download). `--no-datatrove` skips it.
"""

import argparse
import os
import random
import re
import shutil
import tempfile
import time

import numpy as np

THRESHOLD = 0.75


def sentences() -> list[str]:
    from gensim.test.utils import datapath

    out = []
    for name in (
        "lee_background.cor",
        "lee.cor",
        "crime-and-punishment.txt",
        "pang_lee_polarity.cor",
    ):
        with open(datapath(name), encoding="utf-8", errors="replace") as f:
            text = f.read()
        out += [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if 6 <= len(s.split()) <= 60]
    return out


def shingle_set(words: list[str], k: int = 5) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + k]) for i in range(max(len(words) - k + 1, 1))}


def jaccard(a: str, b: str) -> float:
    from lmforge.data.minhash import words

    sa, sb = shingle_set(words(a)), shingle_set(words(b))
    return len(sa & sb) / len(sa | sb)


def make_corpus(n: int, seed: int = 0):
    """Docs, the exact-duplicate rows, and the near-duplicate rows (J >= THRESHOLD to their
    source). A near copy under the threshold is a negative: flagging it costs precision."""
    rng = random.Random(seed)
    sents = sentences()
    n_exact, n_near, n_junk = n // 20, n // 10, n // 50
    n_base = n - n_exact - n_near - n_junk
    docs = []
    for _ in range(n_base):
        text, words = [], 0
        target = rng.randint(60, 200)
        while words < target:
            s = rng.choice(sents)
            text.append(s)
            words += len(s.split())
        docs.append(" ".join(text))
    kinds = ["exact"] * n_exact + ["near"] * n_near + ["junk"] * n_junk
    rng.shuffle(kinds)
    exact_truth: set[int] = set()
    near_truth: set[int] = set()
    for kind in kinds:
        i = len(docs)
        if kind == "junk":
            docs.append(" ".join("".join(rng.choices("#$%&*@!~^", k=6)) for _ in range(30)))
        elif kind == "exact":
            docs.append("  " + rng.choice(docs[:n_base]).upper() + " ")
            exact_truth.add(i)
        else:
            k_src = rng.randrange(n_base)
            src = docs[k_src].split()
            frac = rng.uniform(0.005, 0.12)  # share of words replaced -> Jaccard ~0.4-0.98
            for k in rng.sample(range(len(src)), max(1, int(frac * len(src)))):
                src[k] = f"zq{rng.randrange(10**6)}"
            docs.append(" ".join(src))
            if jaccard(docs[k_src], docs[-1]) >= THRESHOLD:
                near_truth.add(i)
    return docs, exact_truth, near_truth


def run_lmforge(docs: list[str]) -> tuple[set[int], set[int], float]:
    from lmforge.data.dedup import EXACT, NEAR, NearDedupParams, plan_dedup, signature_arrays

    p = NearDedupParams(threshold=THRESHOLD)
    t0 = time.perf_counter()
    exact, sig = signature_arrays(docs, p)
    plan = plan_dedup(exact, sig, p)
    dt = time.perf_counter() - t0
    return set(np.flatnonzero(plan.reason == EXACT)), set(np.flatnonzero(plan.reason == NEAR)), dt


def run_datasketch(
    docs: list[str], exact_rows: set[int], verify: bool = False
) -> tuple[set[int], float]:
    """Query-then-insert in input order (the documented usage), same 5-gram shingles.

    verify=False counts every LSH candidate as a duplicate (datasketch's documented use);
    verify=True makes lmforge's two checks: a candidate counts only if its signature Jaccard
    estimate (`MinHash.jaccard`) to the query is >= the threshold, and a document without any
    word (the junk: datasketch would hash one empty shingle for each, so they all collide at
    J = 1) is never a near duplicate. Then the two differ only in code.
    """
    from datasketch import MinHash, MinHashLSH

    from lmforge.data.minhash import words

    t0 = time.perf_counter()
    lsh = MinHashLSH(threshold=THRESHOLD, num_perm=112)
    kept: dict[int, MinHash] = {}
    dups = set()
    for i, d in enumerate(docs):
        if i in exact_rows:  # exact dups are removed before near dedup in both tools
            continue
        w = words(d)
        if verify and not w:
            continue
        m = MinHash(num_perm=112)
        m.update_batch([b" ".join(w[j : j + 5]) for j in range(max(len(w) - 4, 1))])
        cands = lsh.query(m)
        if verify:
            cands = [k for k in cands if m.jaccard(kept[k]) >= THRESHOLD]
        if cands:
            dups.add(i)
        else:
            lsh.insert(i, m)
            kept[i] = m
    return dups, time.perf_counter() - t0


def _xxhash4_shim() -> None:
    """datatrove 0.10.1 hands `str` to xxhash, which xxhash >= 4 (lmforge's pin) rejects
    ("Strings must be encoded before hashing"; datatrove pins xxhash<4 in its `processing`
    extra, huggingface/datatrove#508). Encode to UTF-8 in its wrapper, as the upstream fix
    (datatrove#519) does: xxhash 3 did the same internally, so digests are unchanged."""
    import xxhash
    from datatrove.utils.hashes import xxhash as dt_xxhash

    def enc(data: str | bytes) -> bytes:
        return data.encode("utf-8") if isinstance(data, str) else data

    dt_xxhash.xxhash32 = lambda data: xxhash.xxh32_intdigest(enc(data))
    dt_xxhash.xxhash64 = lambda data: xxhash.xxh64_intdigest(enc(data))


def run_datatrove(docs: list[str], exact_rows: set[int]) -> tuple[set[int], float]:
    """datatrove's 4-stage MinHash pipeline (signature -> buckets -> cluster -> filter), one
    process, stages in order, as its own minhash example runs them. Same 14 bands x 8 rows
    (112 hashes) and word 5-grams; text normalisation = lower-case + punctuation to spaces,
    as lmforge's (number normalisation off: it would map every injected "zq<digits>" edit to
    one token). Words come from spaCy's blank English tokenizer (`spacy.blank("en")`, no
    model download). datatrove has no verification step: any band collision is a duplicate,
    so its threshold is the S-curve's, midpoint (1/14)^(1/8) ~ 0.72, not 0.75."""
    from datatrove.data import Document
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import (
        MinhashConfig,
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )
    from datatrove.utils.text import TextNormConfig

    _xxhash4_shim()
    keep = [i for i in range(len(docs)) if i not in exact_rows]
    items = [Document(text=docs[i], id=str(i)) for i in keep]
    cfg = MinhashConfig(
        n_grams=5,
        num_buckets=14,
        hashes_per_bucket=8,
        norm_config=TextNormConfig(norm_numbers=False),
    )
    kept: set[int] = set()

    def collect(data, rank: int = 0, world_size: int = 1):
        for doc in data:
            kept.add(int(doc.id))
            yield doc

    root = tempfile.mkdtemp(prefix="dt-bench-")
    t0 = time.perf_counter()
    stages: list[str] = []
    for name, steps, tasks in (
        ("sig", [items, MinhashDedupSignature(f"{root}/sig", config=cfg)], 1),
        ("buckets", [MinhashDedupBuckets(f"{root}/sig", f"{root}/buckets", config=cfg)], 14),
        ("cluster", [MinhashDedupCluster(f"{root}/buckets", f"{root}/remove", config=cfg)], 1),
        ("filter", [items, MinhashDedupFilter(f"{root}/remove"), collect], 1),
    ):
        t1 = time.perf_counter()
        LocalPipelineExecutor(steps, tasks=tasks, workers=1, logging_dir=f"{root}/log-{name}").run()
        stages.append(f"{name} {time.perf_counter() - t1:.1f}s")
    dt = time.perf_counter() - t0
    print("datatrove stages:", ", ".join(stages))
    shutil.rmtree(root, ignore_errors=True)
    return set(keep) - kept, dt


def pr(pred: set[int], truth: set[int]) -> tuple[float, float]:
    tp = len(pred & truth)
    return tp / max(len(pred), 1), tp / max(len(truth), 1)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=20000)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--no-datatrove", action="store_true")
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    docs, exact_truth, truth = make_corpus(args.docs)
    print(
        f"{len(docs)} docs: {len(exact_truth)} exact dups, "
        f"{len(truth)} near dups with J>={THRESHOLD}"
    )
    print("threads: 1 process per tool, OMP_NUM_THREADS=1; cores on box:", os.cpu_count())
    print("load average at start: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    times: dict[str, list[float]] = {
        "lmforge": [],
        "datasketch": [],
        "datasketch+verify": [],
        "datatrove": [],
    }
    res: dict[str, set[int]] = {}
    for _ in range(args.repeats):  # alternate so background load hits every tool alike
        ex, near, dt = run_lmforge(docs)
        times["lmforge"].append(dt)
        res["lmforge"] = near
        res["datasketch"], dt = run_datasketch(docs, exact_truth)
        times["datasketch"].append(dt)
        res["datasketch+verify"], dt = run_datasketch(docs, exact_truth, verify=True)
        times["datasketch+verify"].append(dt)
        if not args.no_datatrove:
            try:
                res["datatrove"], dt = run_datatrove(docs, exact_truth)
                times["datatrove"].append(dt)
            except Exception as e:  # report, do not hide: a peer that fails is a finding
                print(f"datatrove failed: {type(e).__name__}: {e}")
                args.no_datatrove = True
    p, r = pr(ex, exact_truth)
    print(f"lmforge exact dedup: precision {p:.4f} recall {r:.4f}")
    print(
        f"{'tool':<17} {'near P':>7} {'near R':>7} {'docs/s/core':>12} {'best s':>7}  vs datasketch"
    )
    base = min(times["datasketch"])
    n_base = args.docs - args.docs // 20 - args.docs // 10 - args.docs // 50
    for tool, ts in times.items():
        if not ts:
            continue
        p, r = pr(res[tool], truth)
        originals = sum(1 for i in res[tool] if i < n_base)  # a source dropped, a copy kept
        print(
            f"{tool:<17} {p:7.4f} {r:7.4f} {len(docs) / min(ts):12.0f} {min(ts):7.2f}"
            f"  {base / min(ts):5.2f}x  (originals removed: {originals})"
        )

    print("load average at end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()
