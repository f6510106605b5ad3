"""Semantic cache on the shipped paraphrase / near-miss set: the bar chosen on dev families,
judged on test families, through the real cache (`ResponseCache.nearest`), not a formula."""

import json
from importlib import resources
from typing import Any

import numpy as np

from lmforge.gateway.cache import ResponseCache, choose_threshold
from lmforge.gateway.server import make_embedder
from lmforge.gateway.verify import compatible


def load_pairs() -> list[dict[str, Any]]:
    text = resources.files("lmforge.gateway").joinpath("data/semantic_pairs.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def run_cache_bench() -> dict[str, Any]:
    pairs = load_pairs()
    embed = make_embedder()
    va = embed([p["a"] for p in pairs])
    vb = embed([p["b"] for p in pairs])
    sims = (va * vb).sum(1)
    guard = np.array([compatible(p["a"], p["b"]) for p in pairs])
    kind = np.array([p["kind"] for p in pairs])
    split = np.array([p["split"] for p in pairs])
    d = split == "dev"
    para, near = kind == "paraphrase", kind == "near_miss"
    thr = choose_threshold(sims[d & para], sims[d & near], guard[d & para], guard[d & near])
    out: dict[str, Any] = {"threshold": round(thr, 4), "splits": {}}
    for s in ("dev", "test", "all"):
        m = np.ones(len(pairs), bool) if s == "all" else split == s
        hits = []
        for i in np.flatnonzero(m):  # each pair through a fresh cache holding only `a`
            cache = ResponseCache(max_entries=4, ttl_s=60, threshold=thr)
            cache.put("a", {"answer": "a"}, "bucket", pairs[i]["a"], va[i])
            hits.append(cache.nearest("bucket", pairs[i]["b"], vb[i]) is not None)
        h = np.array(hits)
        pm, nm = para[m], near[m]
        by_type = {}
        for t in sorted({p["type"] for p in pairs if p["kind"] == "near_miss"}):
            tm = np.array([pairs[i]["type"] == t for i in np.flatnonzero(m)])
            by_type[t] = {
                "pairs": int(tm.sum()),
                "false_hits": int(h[tm].sum()),
                "caught_by_guard": int((~guard[m][tm]).sum()),
            }
        out["splits"][s] = {
            "paraphrase_pairs": int(pm.sum()),
            "paraphrase_hit_rate": round(float(h[pm].mean()), 4),
            "near_miss_pairs": int(nm.sum()),
            "near_miss_false_hits": int(h[nm].sum()),
            "near_miss_by_type": by_type,
            "cosine_only_false_hits": int((sims[m][nm] >= thr).sum()),
        }
    return out


if __name__ == "__main__":
    print(json.dumps(run_cache_bench(), indent=1))
