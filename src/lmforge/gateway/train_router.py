"""`lmforge gateway train-router`: a router from two eval runs, its threshold on a dev split.

The items both runs scored are split (seeded) into train and dev. The router is fitted on the
train part; on dev it predicts P(cheap right), and the threshold is the cheapest one that keeps
the cascade's dev accuracy >= `target` x the strong model's, where an item costs 1 on the cheap
model and `price_ratio` on the strong one (a router decides before any call, so an escalated
item pays only the strong price). The final router is refitted on all items.
"""

from typing import Any

import numpy as np

from lmforge.gateway import cascade
from lmforge.gateway.router_model import Router, fit_router, pairs_from_runs


def train_router(
    cheap: dict[str, Any],
    strong: dict[str, Any],
    task: str | None = None,
    metric: str | None = None,
    price_ratio: float = 10.0,
    target: float = 0.95,
    dev_fraction: float = 0.3,
    seed: int = 0,
    embed: Any = None,
) -> tuple[Router, dict[str, Any]]:
    prompts, cheap_ok, strong_ok, task, metric = pairs_from_runs(cheap, strong, task, metric)
    if embed is None:
        from lmforge.gateway.server import make_embedder

        embed = make_embedder()
    vecs = embed(prompts)
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(prompts))
    n_dev = max(5, int(len(prompts) * dev_fraction))
    dev, tr = perm[:n_dev], perm[n_dev:]
    r = fit_router(vecs[tr], cheap_ok[tr], embed.id)
    conf = r.prob(vecs[dev])
    ones = np.ones(len(dev))
    thr = cascade.choose_threshold(
        conf, cheap_ok[dev], strong_ok[dev], ones, ones * price_ratio, target, pre_call=True
    )
    o = cascade.simulate(conf, cheap_ok[dev], strong_ok[dev], ones, ones * price_ratio, thr, True)
    final = fit_router(vecs, cheap_ok, embed.id)
    final.meta.update(
        task=task,
        metric=metric,
        threshold=thr,
        price_ratio=price_ratio,
        target=target,
        dev={
            "n": len(dev),
            "accuracy": o.accuracy,
            "escalated": o.escalated,
            "cost_vs_strong": o.cost / (len(dev) * price_ratio),
            "strong_accuracy": float(strong_ok[dev].mean()),
            "cheap_accuracy": float(cheap_ok[dev].mean()),
        },
    )
    return final, final.meta
