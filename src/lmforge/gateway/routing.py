"""Routing policies: the order in which a model's backends are tried.

Every policy returns a full ordering, so fallback is the same mechanism everywhere: the first
backend is the policy's choice, the rest are tried in turn when it fails. Backends whose
circuit breaker is open are skipped (they come back half-open after `breaker_reset_s`).

- fixed: the configured order.
- weighted: one backend drawn by weight first, the rest by weight of what remains.
- latency: lowest EWMA latency first; a backend never measured goes first (to get measured).
- cheapest: among backends whose measured `quality` meets `min_quality`, lowest price first.
- cascade: the configured order (cheap first); escalation is `cascade.py`'s decision.
"""

import random

from lmforge.gateway.backends import Backend
from lmforge.gateway.config import ModelRoute


def price(b: Backend) -> float:
    return b.cfg.price_in + b.cfg.price_out


def order(route: ModelRoute, backends: dict[str, Backend], rng: random.Random) -> list[Backend]:
    bs = [backends[n] for n in route.backends]
    if route.policy == "weighted":
        weights = list(route.weights or [1.0] * len(bs))
        picked: list[Backend] = []
        while bs:
            i = rng.choices(range(len(bs)), weights=weights)[0] if sum(weights) > 0 else 0
            picked.append(bs.pop(i))
            weights.pop(i)
        bs = picked
    elif route.policy == "latency":
        bs.sort(key=lambda b: -1.0 if b.ewma_s is None else b.ewma_s)
    elif route.policy == "cheapest":
        bs = sorted((b for b in bs if b.cfg.quality >= route.min_quality), key=price)
    return bs
