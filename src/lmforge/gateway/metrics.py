"""Prometheus metrics of the gateway (`lmforge_gateway:*`), one registry per app.

Labels are backend, route (the model name clients sent) and key *name* (never the key itself).
The latency buckets reuse `lmforge serve`'s end-to-end ones plus sub-millisecond ones, since a
cache hit or a fast upstream answers in well under a millisecond.
"""

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from lmforge.serve.metrics import E2E_BUCKETS

BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, *E2E_BUCKETS)


class GatewayMetrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.requests = Counter(
            "lmforge_gateway:requests",
            "Requests answered, by status.",
            ["route", "backend", "key", "status"],
            registry=r,
        )
        self.tokens = Counter(
            "lmforge_gateway:tokens",
            "Tokens billed.",
            ["backend", "key", "direction"],
            registry=r,
        )
        self.cost = Counter("lmforge_gateway:cost", "Cost billed.", ["backend", "key"], registry=r)
        self.latency = Histogram(
            "lmforge_gateway:upstream_latency_seconds",
            "Upstream call latency.",
            ["backend"],
            buckets=BUCKETS,
            registry=r,
        )
        self.cache = Counter(
            "lmforge_gateway:cache_hits", "Answers served from a cache.", ["kind"], registry=r
        )
        self.retries = Counter(
            "lmforge_gateway:retries", "Upstream attempts retried.", ["backend"], registry=r
        )
        self.fallbacks = Counter(
            "lmforge_gateway:fallbacks",
            "Requests moved to the next backend.",
            ["backend"],
            registry=r,
        )
        self.escalations = Counter(
            "lmforge_gateway:cascade_escalations", "Cascade escalations.", ["route"], registry=r
        )

        self.judge = Counter(
            "lmforge_gateway:cache_judge_calls",
            "Grey-zone cache candidates put to the judge, by verdict.",
            ["verdict"],
            registry=r,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
