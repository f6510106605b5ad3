"""`lmforge gateway train-router`: a router from two eval runs, its threshold on a dev split.

The items both runs scored are split (seeded) into train and dev. The router is fitted on the
train part; on dev it predicts P(cheap right), and the threshold is the cheapest one that keeps
the cascade's dev accuracy >= `target` x the strong model's (with `ci`, the lower end of the
dev ratio's bootstrap interval must clear it: see `cascade.choose_threshold`), where an item
costs 1 on the cheap model and `price_ratio` on the strong one. Two kinds:

- `prompt`: over the prompt's embedding, decided before any call, so an escalated item pays
  only the strong price (`signal: router`);
- `answer`: over (prompt, the cheap run's output), `answer_router.py`, decided after the cheap
  call, so an escalated item pays both (`signal: answer_router`); needs `positive`, the label
  the answer is signed by.

The final router is refitted on all items and carries the threshold in its meta, which a
cascade route uses when its config gives none.
"""

from typing import Any, Literal

import numpy as np

from lmforge.errors import LMForgeError
from lmforge.gateway import cascade
from lmforge.gateway.answer_router import answer_features, fit_answer_router
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
    kind: Literal["prompt", "answer"] = "prompt",
    positive: str | None = None,
    ci: float | None = 0.95,
) -> tuple[Router, dict[str, Any]]:
    prompts, outputs, cheap_ok, strong_ok, task, metric = pairs_from_runs(
        cheap, strong, task, metric
    )
    if kind == "answer" and not positive:
        raise LMForgeError("train-router: an answer router needs --positive (e.g. yes)")
    if embed is None:
        from lmforge.gateway.server import make_embedder

        embed = make_embedder()
    vecs = embed(prompts)

    def fit(rows: np.ndarray) -> Router:
        if kind == "answer":
            answers = [outputs[i] for i in rows]
            return fit_answer_router(vecs[rows], answers, cheap_ok[rows], str(positive), embed.id)
        return fit_router(vecs[rows], cheap_ok[rows], embed.id)

    def feats(rows: np.ndarray) -> np.ndarray:
        if kind == "answer":
            return answer_features(vecs[rows], [outputs[i] for i in rows], str(positive))
        return vecs[rows]

    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(prompts))
    n_dev = max(5, int(len(prompts) * dev_fraction))
    dev, tr = perm[:n_dev], perm[n_dev:]
    conf = fit(tr).prob(feats(dev))
    ones = np.ones(len(dev))
    pre_call = kind == "prompt"
    args = (conf, cheap_ok[dev], strong_ok[dev], ones, ones * price_ratio)
    thr = cascade.choose_threshold(*args, target, pre_call, ci=ci)
    o = cascade.simulate(*args, thr, pre_call)
    final = fit(np.arange(len(prompts)))
    final.meta.update(
        task=task,
        metric=metric,
        threshold=thr,
        price_ratio=price_ratio,
        target=target,
        ci=ci,
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
