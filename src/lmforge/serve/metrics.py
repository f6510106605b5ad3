"""Prometheus metrics named after vLLM's (`vllm:` -> `lmforge:`), so existing dashboards fit.

Histograms are observed per request by the app; gauges and counters that the engine already
keeps (running/waiting, KV usage, prefix cache, token totals) are read from its latest stats
snapshot at scrape time by a custom collector, so the step loop pays nothing for them. Note:
our prefix-cache counters count KV *blocks* (the engine's unit), vLLM's count tokens.
"""

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from lmforge.engine import EngineStats

TTFT_BUCKETS = (
    0.001,
    0.005,
    0.01,
    0.02,
    0.04,
    0.06,
    0.08,
    0.1,
    0.25,
    0.5,
    0.75,
    1,
    2.5,
    5,
    7.5,
    10,
    20,
    40,
    80,
)
ITL_BUCKETS = (
    0.001,
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.15,
    0.2,
    0.3,
    0.4,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
)
E2E_BUCKETS = (0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240)


class _EngineCollector(Collector):
    def __init__(
        self, model: str, stats: Callable[[], EngineStats | None], queued: Callable[[], int]
    ):
        self.model, self.stats, self.queued = model, stats, queued

    def collect(self) -> Iterator[Metric]:
        s = self.stats()
        if s is None:  # still loading
            return
        labels = [self.model]

        def gauge(name: str, doc: str, value: float) -> Metric:
            g = GaugeMetricFamily(f"lmforge:{name}", doc, labels=["model_name"])
            g.add_metric(labels, value)
            return g

        def counter(name: str, doc: str, value: float) -> Metric:
            c = CounterMetricFamily(f"lmforge:{name}", doc, labels=["model_name"])
            c.add_metric(labels, value)
            return c

        yield gauge("num_requests_running", "Sequences running in the engine.", s.num_running)
        yield gauge(
            "num_requests_waiting",
            "Sequences waiting: in the server queue plus the engine's.",
            s.num_waiting + self.queued(),
        )
        yield gauge("kv_cache_usage_perc", "KV cache usage (1 = 100%).", s.kv_usage)
        # In blocks, exactly: a soak checks that an idle server holds none (no leak).
        used = round(s.kv_usage * s.num_blocks)
        yield gauge("kv_cache_used_blocks", "KV blocks held by live requests.", used)
        yield gauge("kv_cache_total_blocks", "KV blocks in the pool.", s.num_blocks)
        yield counter(
            "prefix_cache_queries", "Prefix cache blocks looked up.", s.prefix_cache_queries
        )
        yield counter("prefix_cache_hits", "Prefix cache blocks hit.", s.prefix_cache_hits)
        yield counter(
            "prompt_tokens", "Prompt tokens computed (cache hits excluded).", s.prompt_tokens
        )
        yield counter("generation_tokens", "Tokens generated.", s.generation_tokens)
        yield counter("num_preemptions", "Sequences preempted.", s.num_preemptions)
        gpu = _gpu_memory()
        if gpu is not None:
            yield gauge("gpu_memory_used_bytes", "CUDA memory allocated by torch.", gpu)


def _gpu_memory() -> float | None:
    import torch

    return float(torch.cuda.memory_allocated()) if torch.cuda.is_available() else None


class Metrics:
    """One registry per server (tests start several in one process)."""

    def __init__(
        self, model: str, stats: Callable[[], EngineStats | None], queued: Callable[[], int]
    ) -> None:
        self.model = model
        r = self.registry = CollectorRegistry()
        ProcessCollector(registry=r)  # process_resident_memory_bytes, cpu, fds
        kw: dict[str, Any] = {"labelnames": ["model_name"], "registry": r}
        self.ttft = Histogram(
            "lmforge:time_to_first_token_seconds",
            "Time to first token.",
            buckets=TTFT_BUCKETS,
            **kw,
        )
        self.itl = Histogram(
            "lmforge:inter_token_latency_seconds", "Time between tokens.", buckets=ITL_BUCKETS, **kw
        )
        self.e2e = Histogram(
            "lmforge:e2e_request_latency_seconds", "Request latency.", buckets=E2E_BUCKETS, **kw
        )
        self.queue = Histogram(
            "lmforge:request_queue_time_seconds",
            "Time queued for a slot.",
            buckets=E2E_BUCKETS,
            **kw,
        )
        self.success = Counter(
            "lmforge:request_success",
            "Finished requests by finish reason.",
            labelnames=["model_name", "finished_reason"],
            registry=r,
        )
        self.errors = Counter(
            "lmforge:request_errors",
            "Requests answered with an error, by status.",
            labelnames=["model_name", "status"],
            registry=r,
        )
        r.register(_EngineCollector(model, stats, queued))

    def observe(
        self, ttft: float | None, itl: list[float], e2e: float, queue: float, reasons: list[str]
    ) -> None:
        m = self.model
        if ttft is not None:
            self.ttft.labels(m).observe(ttft)
        h = self.itl.labels(m)
        for x in itl:
            h.observe(x)
        self.e2e.labels(m).observe(e2e)
        self.queue.labels(m).observe(queue)
        for r in reasons:
            self.success.labels(m, r).inc()

    def error(self, status: int) -> None:
        self.errors.labels(self.model, str(status)).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
