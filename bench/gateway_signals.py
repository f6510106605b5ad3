"""How well do the cheap model's own signals rank its errors? (AUC of "cheap answer right".)

The cascade can only beat the cost target if some signal puts most of the cheap model's errors
below a threshold. This measures the candidates on the cascade bench's task (s-labs injection
detection, `gateway_cascade.load_task`) with SmolLM2 alone, through an in-process gateway:

- margin: top-1 - top-2 logprob of the answer token (free);
- p_answer: the answer's probability among {yes, no} (free);
- selfcheck: P(yes) of the constrained one-token verdict on the cheap answer (`SELF_CHECK`);
- agreement: share of `k` re-asks with the few-shot examples in another order that give the
  same answer (self-consistency over prompt permutations; greedy, so no sampling noise).

The large model is not needed for an AUC, so this runs in minutes where the full cascade does not.
"""

import argparse
import asyncio
import json
import random
import time
from typing import Any

import httpx
import numpy as np
from sklearn.metrics import roc_auc_score

from gateway_cascade import HEAD, correct, load_task
from lmforge.gateway import cascade
from lmforge.gateway.app import create_gateway_app
from lmforge.gateway.config import GatewayConfig
from lmforge.gateway.server import open_gateway


def permuted_prefixes(prefix: str, k: int, seed: int) -> list[str]:
    """The same few-shot block with its examples in `k` other orders."""
    shots = prefix[len(HEAD) :].strip().split("\n\n")
    rng = random.Random(seed)
    out = []
    for _ in range(k):
        s = shots[:]
        rng.shuffle(s)
        out.append(HEAD + "\n\n".join(s) + "\n\n")
    return out


async def complete(c: httpx.AsyncClient, prompt: str) -> dict[str, Any]:
    body = {"model": "small", "prompt": prompt, "max_tokens": 1, "temperature": 0, "logprobs": 5}
    r = await c.post("/v1/completions", json=body, timeout=3600)
    r.raise_for_status()
    return r.json()


def p_answer(out: dict[str, Any]) -> float | None:
    p = cascade.yes_probability(out)
    if p is None:
        return None
    return p if cascade.answer_text(out).strip().lower().startswith("yes") else 1 - p


async def measure(n: int, k: int, seed: int) -> list[dict[str, Any]]:
    prefix, items = load_task(n, seed)
    alts = permuted_prefixes(prefix, k, seed + 1)
    cfg = GatewayConfig(
        backends=[
            {
                "kind": "engine",
                "threads": 1,
                "max_model_len": 1024,
                "name": "small",
                "model": "default",
                "context": 1024,
            }
        ],
        models=[],
        cache={"exact": False},
    )
    async with open_gateway(cfg) as gw:
        app = create_gateway_app(gw)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://gw") as c:
            for it in items:
                q = f"Message: {it['text']}\nInjection:"
                base = await complete(c, prefix + q)
                ans = cascade.answer_text(base).strip().lower()
                check = cascade.SELF_CHECK.format(question=prefix + q, answer=ans)
                verdict = await complete(c, check + "\nAnswer:")
                others = [
                    cascade.answer_text(await complete(c, a + q)).strip().lower() for a in alts
                ]
                it.update(
                    ok=correct(base, it["gold"]),
                    answer=ans,
                    margin=cascade.margin(base),
                    p_answer=p_answer(base),
                    selfcheck=cascade.yes_probability(verdict),
                    agreement=float(np.mean([o == ans for o in others])),
                )
    return items


def aucs(items: list[dict[str, Any]]) -> dict[str, Any]:
    ok = np.array([it["ok"] for it in items])
    out: dict[str, Any] = {"n": len(items), "small_accuracy": round(float(ok.mean()), 4)}
    for sig in ("margin", "p_answer", "selfcheck", "agreement"):
        v = np.array([np.nan if it[sig] is None else it[sig] for it in items], dtype=float)
        m = ~np.isnan(v)
        both = len(set(ok[m])) == 2
        out[sig] = round(float(roc_auc_score(ok[m], v[m])), 4) if both else None
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=60)
    ap.add_argument("--k", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="")
    a = ap.parse_args()
    t0 = time.perf_counter()
    its = asyncio.run(measure(a.items, a.k, a.seed))
    res = {"auc": aucs(its), "wall_s": round(time.perf_counter() - t0, 1)}
    if a.out:
        with open(a.out, "w") as f:
            json.dump({**res, "items": its}, f, indent=1)
    print(json.dumps(res, indent=1))
