"""One call to a model's backends: retries on each, then fallback to the next, with billing.

`Caller.call` walks the backends in the policy's order. On each it makes up to `attempts`
tries; a timeout, a connection error, a 429 or a 5xx is retried after a jittered backoff that
honours Retry-After, then counts against the backend's circuit breaker; a 4xx is the client's
fault and is returned as is. The first answer wins; when every backend failed the client gets
one 503 naming each backend and why. Nothing is billed for attempts that produced no answer.
"""

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from lmforge.gateway.backends import Backend
from lmforge.gateway.config import ReliabilityConfig
from lmforge.gateway.metrics import GatewayMetrics
from lmforge.gateway.reliability import RETRY_STATUSES, backoff_s, retry_after_s
from lmforge.serve.errors import APIError


@dataclass(slots=True)
class Answer:
    """An upstream response that is ours to read (and close) and the backend that gave it."""

    backend: Backend
    resp: httpx.Response
    t0: float


@dataclass(slots=True)
class Caller:
    rel: ReliabilityConfig
    metrics: GatewayMetrics
    sleep: Any = field(default=asyncio.sleep)  # tests pass a fake clock

    async def attempt(
        self, b: Backend, path: str, body: dict[str, Any], stream: bool
    ) -> httpx.Response:
        """Up to `attempts` tries on one backend; raises _Failed with the last reason."""
        reason = "no attempt"
        for n in range(1, self.rel.attempts + 1):
            retry_after = None
            try:
                resp = await b.send(path, body, stream)
            except httpx.TimeoutException:
                reason = f"timed out after {b.cfg.timeout_s:g} s"
            except httpx.HTTPError as e:
                reason = f"{type(e).__name__}: {e}"[:200]
            else:
                if resp.status_code not in RETRY_STATUSES:
                    b.breaker.success()
                    return resp
                retry_after = retry_after_s(resp.headers.get("retry-after"))
                reason = f"HTTP {resp.status_code}"
                await resp.aclose()
            b.breaker.failure()
            if n < self.rel.attempts and b.breaker.state == "closed":
                self.metrics.retries.labels(b.name).inc()
                await self.sleep(
                    backoff_s(n, self.rel.backoff_s, self.rel.max_backoff_s, retry_after)
                )
            else:
                break
        raise _Failed(reason)

    async def call(
        self,
        backends: list[Backend],
        path: str,
        body: dict[str, Any],
        stream: bool,
        prompt_tokens: int,
    ) -> Answer:
        failed: list[str] = []
        want = int(body.get("max_tokens") or body.get("max_completion_tokens") or 16)
        for i, b in enumerate(backends):
            if prompt_tokens + want > b.cfg.context:
                failed.append(f"{b.name} (context {b.cfg.context} < ~{prompt_tokens + want})")
                continue
            if not b.breaker.allow():
                failed.append(f"{b.name} (circuit open)")
                continue
            t0 = time.perf_counter()
            try:
                resp = await self.attempt(b, path, body, stream)
            except _Failed as e:
                failed.append(f"{b.name} ({e})")
                if i + 1 < len(backends):
                    self.metrics.fallbacks.labels(b.name).inc()
                continue
            return Answer(b, resp, t0)
        raise APIError(
            503,
            f"all backends failed for model {body.get('model')!r}: {'; '.join(failed)}",
            code="backends_unavailable",
            headers={"Retry-After": "5"},
        )


class _Failed(Exception):
    pass
