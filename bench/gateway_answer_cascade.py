"""The cascade with the post-answer router (bench/gateway_answer_router.py), in three phases
so the large model's part fits in short runs under the bench lock (it holds ~8 GB):

    cd bench
    PYTHONPATH=../src:. nice -n 19 python gateway_answer_cascade.py small --out DIR   # no lock
    flock /tmp/lmforge-bench.lock timeout 360 env PYTHONPATH=../src:. \
        python gateway_answer_cascade.py large --out DIR --budget-s 300               # repeat
    PYTHONPATH=../src:. python gateway_answer_cascade.py report --out DIR

`small`: SmolLM2 on the router's train split and on the cascade items (billed by the gateway at
PRICE_SMALL); `large`: Qwen2.5-Coder-1.5B int8 on the cascade items not yet answered, appending
to large.jsonl until the budget is spent; `report`: router trained on train, threshold chosen
on dev (first half of the items), the curve and the operating point on test with paired
bootstrap CIs, the perfect-signal bound, cascade.png. Same task, prompt and prices as
bench/gateway_cascade.py.
"""

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from sklearn.metrics import roc_auc_score

from gateway_answer_router import add_router_signal, load_train, train_answer_router
from gateway_cascade import arrays, ask, correct, curve, gateway_config, load_task, operating_point
from lmforge.gateway import cascade
from lmforge.gateway.app import create_gateway_app
from lmforge.gateway.config import GatewayConfig
from lmforge.gateway.server import make_embedder, open_gateway


def one_backend(name: str, threads: int) -> GatewayConfig:
    base = gateway_config()
    b = next(x for x in base.backends if x.name == name).model_copy(update={"threads": threads})
    return GatewayConfig(backends=[b], models=[], cache={"exact": False})


async def answer(
    name: str, threads: int, prefix: str, items: list[dict], budget_s: float, sink: Any
) -> int:
    """`name`'s answer, correctness, margin and billed cost per item, to `sink` as each lands."""
    t0, done = time.perf_counter(), 0
    async with open_gateway(one_backend(name, threads)) as gw:
        app = create_gateway_app(gw)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://gw") as c:
            sem = asyncio.Semaphore(8)
            for i in range(0, len(items), 8):  # batches of 8, so a budget stop loses little
                if time.perf_counter() - t0 > budget_s:
                    break
                batch = items[i : i + 8]
                prompts = [f"{prefix}Message: {it['text']}\nInjection:" for it in batch]
                outs = await asyncio.gather(*(ask(c, name, p, sem) for p in prompts))
                for it, o in zip(batch, outs, strict=True):
                    sink(
                        {
                            "id": it["id"],
                            f"{name}_answer": cascade.answer_text(o),
                            f"{name}_ok": correct(o, it["gold"]),
                            f"{name}_cost": o["lmforge"]["cost"],
                            f"{name}_margin": cascade.margin(o),
                        }
                    )
                    done += 1
    return done


def jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def appender(path: Path) -> Any:
    f = path.open("a", encoding="utf-8")

    def sink(row: dict) -> None:
        f.write(json.dumps(row) + "\n")
        f.flush()

    return sink


def perfect_bound(
    s_ok: np.ndarray, l_ok: np.ndarray, s_cost: np.ndarray, l_cost: np.ndarray, target: float = 0.95
) -> dict:
    """What a perfect signal could do on these items (post-answer, so an escalated item pays
    for both calls): escalating every item the small model gets wrong and the large one right,
    and the least cost at which `target` x the large accuracy is reachable at all (escalate
    just enough of those items, the cheapest first)."""
    s_ok, l_ok = s_ok.astype(bool), l_ok.astype(bool)
    esc = ~s_ok & l_ok
    ok = np.where(esc, l_ok, s_ok)
    cost = np.where(esc, s_cost + l_cost, s_cost)
    need = max(0, int(np.ceil(target * l_ok.sum() - s_ok.sum() - 1e-9)))
    extra = np.sort(l_cost[esc])[:need].sum() if need <= esc.sum() else np.inf
    return {
        "accuracy_vs_large": round(float(ok.mean() / l_ok.mean()), 4),
        "cost_vs_large": round(float(cost.sum() / l_cost.sum()), 4),
        "escalated": round(float(esc.mean()), 4),
        "min_cost_vs_large_for_target": round(float((s_cost.sum() + extra) / l_cost.sum()), 4),
    }


def report(out: Path, n: int, seed: int) -> dict[str, Any]:
    from gateway_cascade import plot

    prefix, items = load_task(n, seed)
    small = {r["id"]: r for r in jsonl(out / "small_items.jsonl")}
    large = {r["id"]: r for r in jsonl(out / "large.jsonl")}
    items = [{**it, **small[it["id"]], **large[it["id"]]} for it in items if it["id"] in large]
    for it in items:
        it["margin"] = it["small_margin"]
    done = {r["id"]: r for r in jsonl(out / "small_train.jsonl")}
    train = [{**t, **done[t["id"]]} for t in load_train(len(done), seed, prefix)]
    for t in train:
        t["margin"] = t["small_margin"]
    embed = make_embedder()
    router = train_answer_router(embed, train)
    add_router_signal(embed, router, items)
    half = n // 2
    dev = [it for it in items if it["id"] < half]
    test = [it for it in items if it["id"] >= half]
    thr = {s: cascade.choose_threshold(*arrays(dev, s)) for s in ("answer_router", "margin")}
    points = {s: operating_point(test, s, thr[s], pre_call=False) for s in thr}
    curves = {s: curve(test, s, False) for s in thr}
    _, s_ok, l_ok, s_cost, l_cost = arrays(test, "margin")
    t_ok = np.array([it["small_ok"] for it in test])
    res = {
        "n_train": len(train),
        "n_dev": len(dev),
        "n_test": len(test),
        "small_accuracy": round(float(s_ok.mean()), 4),
        "large_accuracy": round(float(l_ok.mean()), 4),
        "small_cost_vs_large": round(float(s_cost.sum() / l_cost.sum()), 4),
        "auc_test": {s: round(float(roc_auc_score(t_ok, [it[s] for it in test])), 4) for s in thr},
        "perfect_signal_bound_test": perfect_bound(s_ok, l_ok, s_cost, l_cost),
        "points": points,
    }
    res["plot"] = str(plot(curves, points, out / "cascade.png"))
    return res


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("phase", choices=["small", "large", "report"])
    ap.add_argument("--out", required=True)
    ap.add_argument("--items", type=int, default=200)
    ap.add_argument("--train", type=int, default=1500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--budget-s", type=float, default=300.0)
    a = ap.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    prefix, items = load_task(a.items, a.seed)
    if a.phase == "small":
        train = load_train(a.train, a.seed, prefix)
        for name, group in (("small_items.jsonl", items), ("small_train.jsonl", train)):
            (out / name).unlink(missing_ok=True)
            asyncio.run(
                answer("small", a.threads, prefix, group, float("inf"), appender(out / name))
            )
    elif a.phase == "large":
        seen = {r["id"] for r in jsonl(out / "large.jsonl")}
        # dev and test items alternate, so a run that stops early leaves both splits covered
        todo = [it for it in items if it["id"] not in seen]
        todo.sort(key=lambda it: it["id"] % (a.items // 2))
        t0 = time.perf_counter()
        got = asyncio.run(
            answer("large", a.threads, prefix, todo, a.budget_s, appender(out / "large.jsonl"))
        )
        print(
            json.dumps(
                {
                    "answered": got,
                    "left": len(todo) - got,
                    "wall_s": round(time.perf_counter() - t0, 1),
                }
            )
        )
    else:
        print(json.dumps(report(out, a.items, a.seed), indent=1))
