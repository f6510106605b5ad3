"""The cascade with the post-answer router (bench/gateway_answer_router.py), in three phases
so the large model's part fits in short runs under the bench lock (it holds ~8 GB):

    cd bench
    PYTHONPATH=../src:. nice -n 19 python gateway_answer_cascade.py small --out DIR   # no lock
    flock /tmp/lmforge-bench.lock timeout 360 env PYTHONPATH=../src:. \
        python gateway_answer_cascade.py large --out DIR --budget-s 300               # repeat
    PYTHONPATH=../src:. python gateway_answer_cascade.py report --out DIR

`small`: SmolLM2 on the router's train split and on the cascade items (billed by the gateway at
PRICE_SMALL); `large`: Qwen2.5-Coder-1.5B int8 on the cascade items not yet answered, appending
to large.jsonl until the budget is spent; `report`: router trained on train (saved with its
threshold as DIR/router, the file a gateway `signal: answer_router` route loads), threshold
chosen on dev (every item outside the --test id range) by `cascade.choose_threshold` with
`ci`: the cheapest whose bootstrap lower bound of the dev accuracy ratio is >= 0.95; the whole
test curve (curve_test.json, cascade.png) and the operating point on test with paired
bootstrap CIs, the perfect-signal bound. Same task, prompt and prices as
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

from gateway_answer_router import add_router_signal, load_train, query, train_answer_router
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
                prompts = [query(it, prefix) for it in batch]
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


def cascade_config(router: Path, threads: int) -> GatewayConfig:
    """Both engine backends and a `signal: answer_router` route on the bench's router file
    (no threshold in the config: the router's dev-chosen one)."""
    base = gateway_config()
    route = {
        "name": "cascade",
        "policy": "cascade",
        "backends": ["small", "large"],
        "signal": "answer_router",
        "router": str(router),
    }
    backends = [b.model_copy(update={"threads": threads}) for b in base.backends]
    return GatewayConfig(backends=backends, models=[route], cache={"exact": False})


async def live(out: Path, prefix: str, test: list[dict], threads: int) -> dict[str, Any]:
    """The test items through the gateway's live cascade; its decisions against the offline
    simulation of the same router and threshold on the recorded answers."""
    from lmforge.gateway.answer_router import answer_prob, query_text
    from lmforge.gateway.router_model import load_router

    router = load_router(out / "router")
    async with open_gateway(cascade_config(out / "router", threads)) as gw:
        embed = gw.embed
        app = create_gateway_app(gw)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://gw") as c:
            sem = asyncio.Semaphore(8)
            t0 = time.perf_counter()
            outs = await asyncio.gather(*(ask(c, "cascade", query(it, prefix), sem) for it in test))
            wall = time.perf_counter() - t0
        lines = gw.ledger.to_json()["lines"]
    vecs = embed([query_text({"prompt": query(it, prefix)}) for it in test])
    sim_esc = (
        answer_prob(router, vecs, [it["small_answer"] for it in test]) < router.meta["threshold"]
    )
    live_esc = np.array([o["lmforge"]["backend"] == "large" for o in outs])
    ok = np.array([correct(o, it["gold"]) for o, it in zip(outs, test, strict=True)])
    l_ok = np.array([it["large_ok"] for it in test])
    return {
        "n": len(test),
        "threshold": router.meta["threshold"],
        "accuracy": round(float(ok.mean()), 4),
        "accuracy_vs_large": round(float(ok.mean() / l_ok.mean()), 4),
        "cost_vs_large": round(
            sum(x["cost"] for x in lines) / sum(it["large_cost"] for it in test), 4
        ),
        "escalated": round(float(live_esc.mean()), 4),
        "same_decision_as_simulation": round(float((live_esc == sim_esc).mean()), 4),
        "wall_s": round(wall, 1),
        "ledger": lines,
    }


def ranges(spec: str) -> set[int]:
    """Item ids from "lo:hi,lo:hi" (half-open ranges)."""
    out: set[int] = set()
    for part in spec.split(","):
        lo, hi = (int(x) for x in part.split(":"))
        out.update(range(lo, hi))
    return out


def split(
    items: list[dict], test_ids: set[int], dev_ids: set[int] | None = None
) -> tuple[list[dict], list[dict]]:
    """(dev, test): test is the fixed id set (ids 100-199 of the 200 items judged first, or a
    fresh range); dev is `dev_ids`, or every other item, so a larger --items grows dev and
    leaves test as it was. A fresh test range keeps dev fixed with --dev."""
    dev = [it for it in items if it["id"] not in test_ids]
    if dev_ids is not None:
        dev = [it for it in dev if it["id"] in dev_ids]
    return dev, [it for it in items if it["id"] in test_ids]


def report(
    out: Path, n: int, seed: int, test_ids: set[int], ci: float, dev_ids: set[int] | None = None
) -> dict[str, Any]:
    from gateway_cascade import plot

    prefix, items = load_task(n, seed)
    small = {r["id"]: r for r in jsonl(out / "small_items.jsonl")}
    large = {r["id"]: r for r in jsonl(out / "large.jsonl")}
    items = [{**it, **small[it["id"]], **large[it["id"]]} for it in items if it["id"] in large]
    for it in items:
        it["margin"] = it["small_margin"]
    done = {r["id"]: r for r in jsonl(out / "small_train.jsonl")}
    train = [{**t, **done[t["id"]]} for t in load_train(len(done), seed, prefix)]
    embed = make_embedder()
    router = train_answer_router(embed, train)
    add_router_signal(embed, router, items)
    dev, test = split(items, test_ids, dev_ids)
    signals = ("answer_router", "margin")
    thr = {s: cascade.choose_threshold(*arrays(dev, s), ci=ci) for s in signals}
    point_rule = cascade.choose_threshold(*arrays(dev, "answer_router"))
    _, d_s, d_l, _, _ = arrays(dev, "margin")
    router.meta.update(
        threshold=thr["answer_router"], target=0.95, ci=ci, n_dev=len(dev), task="s-labs injection"
    )
    router.save(out / "router")
    points = {s: operating_point(test, s, thr[s], pre_call=False) for s in signals}
    curves = {s: curve(test, s, False) for s in signals}
    _, s_ok, l_ok, s_cost, l_cost = arrays(test, "margin")
    t_ok = np.array([it["small_ok"] for it in test])
    res = {
        "n_train": len(train),
        "n_dev": len(dev),
        "n_test": len(test),
        "dev_small_accuracy": round(float(d_s.mean()), 4),
        "dev_large_accuracy": round(float(d_l.mean()), 4),
        "small_accuracy": round(float(s_ok.mean()), 4),
        "large_accuracy": round(float(l_ok.mean()), 4),
        "small_cost_vs_large": round(float(s_cost.sum() / l_cost.sum()), 4),
        "auc_dev": {s: round(float(roc_auc_score(d_s, [it[s] for it in dev])), 4) for s in signals},
        "auc_test": {
            s: round(float(roc_auc_score(t_ok, [it[s] for it in test])), 4) for s in signals
        },
        "perfect_signal_bound_test": perfect_bound(s_ok, l_ok, s_cost, l_cost),
        "rule": f"cheapest dev threshold whose {ci:.0%} bootstrap lower bound of dev accuracy "
        "ratio >= 0.95",
        "dev_points": {s: operating_point(dev, s, thr[s], pre_call=False) for s in signals},
        "points": points,
        "point_rule_answer_router": {
            "dev": operating_point(dev, "answer_router", point_rule, pre_call=False),
            "test": operating_point(test, "answer_router", point_rule, pre_call=False),
        },
        "router": str(out / "router"),
    }
    res["plot"] = str(plot(curves, points, out / "cascade.png"))
    (out / "curve_test.json").write_text(json.dumps(curves), encoding="utf-8")
    return res


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("phase", choices=["small", "large", "report", "live"])
    ap.add_argument("--out", required=True)
    ap.add_argument("--items", type=int, default=200)
    ap.add_argument("--train", type=int, default=1500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--budget-s", type=float, default=300.0)
    ap.add_argument("--test", default="100:200", help="held-out id range (the rest is dev)")
    ap.add_argument("--dev", default=None, help="dev id ranges lo:hi,lo:hi (default: the rest)")
    ap.add_argument("--ci", type=float, default=0.95, help="the threshold rule's interval")
    a = ap.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    prefix, items = load_task(a.items, a.seed)
    if a.phase == "small":
        train = load_train(a.train, a.seed, prefix)
        for name, group in (("small_items.jsonl", items), ("small_train.jsonl", train)):
            seen = {r["id"] for r in jsonl(out / name)}  # resumable: a larger --items adds dev
            todo = [it for it in group if it["id"] not in seen]
            asyncio.run(
                answer("small", a.threads, prefix, todo, float("inf"), appender(out / name))
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
    elif a.phase == "live":
        lo, hi = (int(x) for x in a.test.split(":"))
        small = {r["id"]: r for r in jsonl(out / "small_items.jsonl")}
        large = {r["id"]: r for r in jsonl(out / "large.jsonl")}
        test = [{**it, **small[it["id"]], **large[it["id"]]} for it in items if lo <= it["id"] < hi]
        res = asyncio.run(live(out, prefix, test, a.threads))
        (out / "live.json").write_text(json.dumps(res, indent=1), encoding="utf-8")
        print(json.dumps({k: v for k, v in res.items() if k != "ledger"}, indent=1))
    else:
        dev_ids = ranges(a.dev) if a.dev else None
        res = report(out, a.items, a.seed, ranges(a.test), a.ci, dev_ids)
        print(json.dumps(res, indent=1))
