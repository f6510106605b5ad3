"""The semantic cache with its grey-zone LLM judge (gateway/judge.py) on the shipped set.

Two phases, so the large judge (Qwen2.5-Coder-1.5B, ~9 GB while loading) fits in short runs
under the bench lock:

    PYTHONPATH=src:bench python bench/gateway_cache_judge.py score --judge smollm2 --out DIR
    PYTHONPATH=src:bench python bench/gateway_cache_judge.py report --judge smollm2 --out DIR

`score`: every pair goes through the real `ResponseCache.match` holding only its `a` (the cosine
bar chosen on dev as in bench/gateway_cache.py); for each pair in the grey zone (above the bar,
same structure, refused for its words) the gateway's own `Gateway.judge_same` asks the judge
backend, and its P(yes), cost and wall time are appended to DIR/judge_<name>.jsonl (resumable,
stops after --budget-s). Once none is left, `--latency N` grey pairs are judged one at a time,
as a lone request would be, for the judge's latency (DIR/latency_<name>.json). `report`: the
P(yes) bar chosen on DEV only (the lowest that admits no dev near miss, at the lowest dev
paraphrase above it, the same rule as the cosine bar), then hits and false hits on dev and
test with that bar: a pair is a hit when `match` verifies it, or when it is in the grey zone
and its judged P(yes) clears the bar (the decision `Gateway.cached` makes;
tests/gateway/test_cache_judge.py runs that path).
"""

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from gateway_cache import load_pairs
from gateway_cascade import PRICE_LARGE, PRICE_SMALL
from lmforge.gateway.cache import ResponseCache, choose_threshold
from lmforge.gateway.config import GatewayConfig
from lmforge.gateway.server import make_embedder, open_gateway
from lmforge.gateway.verify import compatible
from lmforge.models.loader import resolve_model_dir
from lmforge.models.parts import qwen_coder_gguf

JUDGES = {  # name -> (model ref, quantize, price per 1M tokens)
    "smollm2": ("default", "none", PRICE_SMALL),
    "qwen-int8": (None, "int8", PRICE_LARGE),
    "qwen-int4": (None, "int4", PRICE_LARGE),
}


def judge_config(
    name: str, threads: int, upstream: str | None = None, cosine_bar: float = 1.0, bar: float = 0.5
) -> GatewayConfig:
    """The judge as an engine backend; with `upstream` (a mock answering every request), also
    the route `auto` on it and the semantic cache with its bars, as a deployment would run."""
    ref, quant, price = JUDGES[name]
    model = ref or str(resolve_model_dir(qwen_coder_gguf()))
    backend = {
        "name": "judge",
        "kind": "engine",
        "model": model,
        "quantize": quant,
        "threads": threads,
        "max_model_len": 1024,
        "kv_cache_gb": 0.5,
        "price_in": price,
        "price_out": price,
        "context": 1024,
    }
    if upstream is None:
        return GatewayConfig(backends=[backend], cache={"exact": False, "judge": "judge"})
    cache = {"exact": False, "semantic": True, "semantic_threshold": cosine_bar}
    cache.update(judge="judge", judge_threshold=bar)
    return GatewayConfig(
        backends=[backend, {"name": "m", "kind": "openai", "url": upstream}],
        models=[{"name": "auto", "backends": ["m"]}],
        cache=cache,
    )


def zones(pairs: list[dict], embed: Any) -> tuple[float, list[str]]:
    """The dev-chosen cosine bar and each pair's zone through the real cache: hit, grey, miss."""
    va, vb = embed([p["a"] for p in pairs]), embed([p["b"] for p in pairs])
    sims = (va * vb).sum(1)
    guard = np.array([compatible(p["a"], p["b"]) for p in pairs])
    kind, split = np.array([p["kind"] for p in pairs]), np.array([p["split"] for p in pairs])
    d, para = split == "dev", kind == "paraphrase"
    thr = choose_threshold(sims[d & para], sims[d & ~para], guard[d & para], guard[d & ~para])
    out = []
    for i, p in enumerate(pairs):
        cache = ResponseCache(max_entries=4, ttl_s=60, threshold=thr)
        cache.put("a", {"answer": "a"}, "bucket", p["a"], va[i])
        m = cache.match("bucket", p["b"], vb[i])
        out.append("hit" if m.hit is not None else "grey" if m.grey else "miss")
    return thr, out


def jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


async def score(name: str, out: Path, threads: int, budget_s: float, latency_n: int) -> dict:
    pairs = load_pairs()
    embed = make_embedder()
    _, zone = zones(pairs, embed)
    path = out / f"judge_{name}.jsonl"
    seen = {r["pair"] for r in jsonl(path)}
    todo = [i for i, z in enumerate(zone) if z == "grey" and i not in seen]
    t0 = time.perf_counter()
    async with open_gateway(judge_config(name, threads), embed) as gw:
        load_s = time.perf_counter() - t0
        sem = asyncio.Semaphore(8)

        async def one(i: int) -> dict:
            async with sem:
                s = time.perf_counter()
                p_yes, cost, ps = await gw.judge_same(pairs[i]["a"], pairs[i]["b"], "bench")
                wall = time.perf_counter() - s
                return {"pair": i, "p_yes": p_yes, "orders": ps, "cost": cost, "wall_s": wall}

        done = 0
        with path.open("a", encoding="utf-8") as f:
            for k in range(0, len(todo), 16):
                if time.perf_counter() - t0 > budget_s:
                    break
                for row in await asyncio.gather(*(one(i) for i in todo[k : k + 16])):
                    f.write(json.dumps(row) + "\n")
                    done += 1
                f.flush()
        lat = []  # only once every pair is judged, so a resumed run measures it once
        grey = [i for i, z in enumerate(zone) if z == "grey"] if done == len(todo) else []
        for i in grey[:: max(1, len(grey) // latency_n)][:latency_n] if latency_n else []:
            s = time.perf_counter()
            await gw.judge_same(pairs[i]["a"], pairs[i]["b"], "bench")
            lat.append(time.perf_counter() - s)
        tokens = gw.ledger.to_json()["lines"]
    res = {
        "judge": name,
        "threads": threads,
        "load_s": round(load_s, 1),
        "judged": done,
        "left": len(todo) - done,
        "lone_latency_s": {
            "n": len(lat),
            "p50": round(float(np.median(lat)), 3) if lat else None,
            "p90": round(float(np.quantile(lat, 0.9)), 3) if lat else None,
        },
        "ledger": tokens,
    }
    if lat:
        (out / f"latency_{name}.json").write_text(json.dumps(res, indent=1), encoding="utf-8")
    return res


def choose_bar(p_para: np.ndarray, p_near: np.ndarray) -> float:
    """The lowest P(yes) bar that admits no near miss: just above the highest near miss, at
    the lowest paraphrase that clears it (1.01, i.e. nothing, when none does)."""
    floor = float(p_near.max()) + 1e-6 if p_near.size else 0.0
    cands = np.sort(p_para[p_para >= floor])
    return float(cands[0]) if cands.size else 1.01


def report(name: str, out: Path, splits: tuple[str, ...] = ("dev", "test")) -> dict[str, Any]:
    pairs = load_pairs()
    thr, zone = zones(pairs, make_embedder())
    rows = {r["pair"]: r for r in jsonl(out / f"judge_{name}.jsonl")}
    grey = [i for i, z in enumerate(zone) if z == "grey"]
    missing = [i for i in grey if i not in rows]
    assert not missing, f"{len(missing)} grey pairs not judged yet: run score again"
    p = np.zeros(len(pairs))  # P(yes); a judge that gave no yes/no counts as "no"
    for i, r in rows.items():
        p[i] = r["p_yes"] or 0.0
    para = np.array([x["kind"] == "paraphrase" for x in pairs])
    split = np.array([x["split"] for x in pairs])
    z = np.array(zone)
    dev_grey = (split == "dev") & (z == "grey")
    bar = choose_bar(p[dev_grey & para], p[dev_grey & ~para])
    hit = (z == "hit") | ((z == "grey") & (p >= bar))
    res: dict[str, Any] = {"judge": name, "cosine_bar": round(thr, 4), "p_yes_bar": bar}
    for s in splits:  # "dev" alone while a judge or prompt is being chosen; test once
        m = split == s
        g = m & (z == "grey")
        res[s] = {
            "paraphrase_pairs": int((m & para).sum()),
            "hits_without_judge": int((m & para & (z == "hit")).sum()),
            "hits": int((m & para & hit).sum()),
            "hit_rate": round(float(hit[m & para].mean()), 4),
            "near_miss_pairs": int((m & ~para).sum()),
            "false_hits": int((m & ~para & hit).sum()),
            "grey_paraphrases": int((g & para).sum()),
            "grey_near_misses": int((g & ~para).sum()),
            "judge_admitted_paraphrases": int((g & para & hit).sum()),
            "top_near_miss_p_yes": round(float(p[g & ~para].max(initial=0.0)), 4),
            "grey_auc": round(float(roc_auc_score(para[g], p[g])), 4),
        }
    judged = [rows[i] for i in grey if split[i] in splits]
    res["judge_calls"] = 2 * len(judged)
    res["cost_per_judgement"] = float(np.mean([r["cost"] for r in judged]))
    res["batched_wall_s_per_judgement_p50"] = float(np.median([r["wall_s"] for r in judged]))
    lat = out / f"latency_{name}.json"
    if lat.exists():
        res["lone_latency_s"] = json.loads(lat.read_text())["lone_latency_s"]
    return res


async def live(name: str, out: Path, threads: int, split: str) -> dict[str, Any]:
    """Every `split` pair through the live gateway: `a` asked (a miss, cached), then `b`; the
    judge is the real engine, the upstream a mock. Each pair has its own `seed`, so its own
    cache bucket, and pairs run 8 at a time. Compared with `report`'s decision per pair."""
    import httpx

    from lmforge.gateway.app import create_gateway_app
    from lmforge.gateway.testing import MockState, mock_app, serve_in_thread

    pairs = load_pairs()
    sim = report(name, out, ("dev",))
    thr, zone = zones(pairs, make_embedder())
    rows = {r["pair"]: r for r in jsonl(out / f"judge_{name}.jsonl")}
    bar = min(sim["p_yes_bar"], 1.0)  # 1.01 (admit nothing) is not a valid config value
    mock = serve_in_thread(mock_app(MockState()))
    cfg = judge_config(name, threads, mock.url + "/v1", thr, bar)
    idx = [i for i, p in enumerate(pairs) if p["split"] == split]
    async with open_gateway(cfg) as gw:
        app = create_gateway_app(gw)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://gw") as c:
            sem = asyncio.Semaphore(8)

            async def one(i: int) -> dict:
                async with sem:
                    got = []
                    for text in (pairs[i]["a"], pairs[i]["b"]):
                        body = {"model": "auto", "messages": [{"role": "user", "content": text}]}
                        body.update(temperature=0, seed=i, max_tokens=8)
                        r = await c.post("/v1/chat/completions", json=body, timeout=3600)
                        got.append(r.json()["lmforge"])
                    return got[1]

            t0 = time.perf_counter()
            outs = await asyncio.gather(*(one(i) for i in idx))
            wall = time.perf_counter() - t0
        lines = gw.ledger.to_json()["lines"]
    mock.stop()
    live_hit = np.array([o["cache"] == "semantic" for o in outs])
    p = np.array([(rows.get(i) or {}).get("p_yes") or 0.0 for i in idx])
    z = np.array([zone[i] for i in idx])
    sim_hit = (z == "hit") | ((z == "grey") & (p >= bar))
    para = np.array([pairs[i]["kind"] == "paraphrase" for i in idx])
    return {
        "judge": name,
        "split": split,
        "p_yes_bar": bar,
        "pairs": len(idx),
        "paraphrase_hit_rate": round(float(live_hit[para].mean()), 4),
        "false_hits": int(live_hit[~para].sum()),
        "same_decision_as_report": round(float((live_hit == sim_hit).mean()), 4),
        "differing_pairs": [
            int(i) for i, x, y in zip(idx, live_hit, sim_hit, strict=True) if x != y
        ],
        "wall_s": round(wall, 1),
        "ledger": lines,
    }


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("phase", choices=["score", "report", "live"])
    ap.add_argument("--judge", choices=sorted(JUDGES), default="smollm2")
    ap.add_argument("--out", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--budget-s", type=float, default=float("inf"))
    ap.add_argument("--splits", default="dev,test", help="report: dev alone until test is due")
    ap.add_argument("--latency", type=int, default=0, help="grey pairs judged one at a time")
    a = ap.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    if a.phase == "score":
        res = asyncio.run(score(a.judge, out, a.threads, a.budget_s, a.latency))
        print(json.dumps({k: v for k, v in res.items() if k != "ledger"}, indent=1))
    elif a.phase == "live":
        for split in a.splits.split(","):
            res = asyncio.run(live(a.judge, out, a.threads, split))
            (out / f"live_{a.judge}_{split}.json").write_text(json.dumps(res, indent=1))
            print(json.dumps({k: v for k, v in res.items() if k != "ledger"}, indent=1))
    else:
        print(json.dumps(report(a.judge, out, tuple(a.splits.split(","))), indent=1))
