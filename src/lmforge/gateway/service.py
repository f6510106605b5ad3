"""The gateway's request flow: auth -> budget -> model -> cache -> route -> call -> bill.

One `Gateway` per app. Non-streamed answers are read whole, billed from their `usage`,
cached and returned with `lmforge` fields (backend, cache, cost). Streams are passed through
line by line as they arrive; the upstream is always asked for usage in its final chunk, which
is dropped again when the client did not ask for it, and the call is billed when the stream
ends, whether it completed or the client left (closing our side closes the upstream's, so the
upstream stops generating).
"""

import asyncio
import hmac
import random
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
import orjson

from lmforge.gateway import cascade, judge
from lmforge.gateway.accounting import ANON, Ledger
from lmforge.gateway.answer_router import answer_prob, query_text
from lmforge.gateway.backends import Backend, load_tokenizer
from lmforge.gateway.cache import ResponseCache, bucket_key, cacheable, exact_key, prompt_text
from lmforge.gateway.config import GatewayConfig, ModelRoute
from lmforge.gateway.metrics import GatewayMetrics
from lmforge.gateway.router_model import Router
from lmforge.gateway.routing import order
from lmforge.gateway.sse import replay
from lmforge.gateway.upstream import Answer, Caller
from lmforge.gateway.usage import StreamTally, local_usage
from lmforge.serve.errors import APIError


class Gateway:
    def __init__(
        self,
        cfg: GatewayConfig,
        backends: dict[str, Backend],
        keys: dict[str, str],
        embed: Any = None,
        routers: dict[str, Router] | None = None,
        seed: int = 0,
    ) -> None:
        """`keys`: secret -> key name (read from env by the caller); `embed`: texts -> unit
        vectors (MiniLM), needed by the semantic cache and router cascades."""
        self.cfg, self.backends, self.keys = cfg, backends, keys
        self.routes = cfg.routes()
        self.ledger = Ledger({k.name: k for k in cfg.keys})
        self.metrics = GatewayMetrics()
        self.caller = Caller(cfg.reliability, self.metrics)
        c = cfg.cache
        self.cache = ResponseCache(c.max_entries, c.ttl_s, c.semantic_threshold)
        self.embed, self.routers = embed, routers or {}
        self.rng = random.Random(seed)
        self._default_tok: Any = None

    # ---- the front door ----------------------------------------------------------------------
    def key_name(self, bearer: str | None) -> str:
        if not self.keys:
            return ANON
        if bearer is None:
            raise APIError(
                401, "missing API key: send 'Authorization: Bearer <key>'", code="invalid_api_key"
            )
        for secret, name in self.keys.items():
            if hmac.compare_digest(bearer.encode(), secret.encode()):
                return name
        raise APIError(401, "incorrect API key provided", code="invalid_api_key")

    def route(self, body: dict[str, Any]) -> ModelRoute:
        model = body.get("model")
        r = self.routes.get(model) if isinstance(model, str) else None
        if r is None:
            raise APIError(
                404,
                f"model {model!r} does not exist; available: {', '.join(sorted(self.routes))}",
                param="model",
                code="model_not_found",
            )
        return r

    async def handle(self, path: str, body: dict[str, Any], bearer: str | None) -> Any:
        """A JSON body (dict) with headers, or an async byte iterator for a stream."""
        if not isinstance(body, dict):
            raise APIError(400, "request body must be a JSON object")
        key = self.key_name(bearer)
        self.ledger.check_budget(key)
        route = self.route(body)
        stream = bool(body.get("stream"))
        want_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        hit = await self.cached(path, body, key) if cacheable(body) else None
        if hit is not None:
            kind, cached, judged = hit
            self.ledger.cache_hit(key)
            self.metrics.cache.labels(kind).inc()
            self.metrics.requests.labels(route.name, "cache", key, "200").inc()
            out = {**cached, "lmforge": {"cache": kind, "backend": None, "cost": 0.0, **judged}}
            return _Streamed(replay(out, want_usage), {"x-lmforge-cache": kind}) if stream else out
        if route.policy == "cascade":
            return await self.run_cascade(path, body, route, key, stream, want_usage)
        bs = order(route, self.backends, self.rng)
        return await self.forward(path, body, route, key, bs, stream, want_usage)

    # ---- caches --------------------------------------------------------------------------------
    async def cached(
        self, path: str, body: dict[str, Any], key: str
    ) -> tuple[str, dict, dict] | None:
        """(kind, cached body, the judge's P(yes) and cost when it admitted the hit)."""
        if self.cfg.cache.exact and (b := self.cache.get(exact_key(path, body))) is not None:
            return "exact", b, {}
        c = self.cfg.cache
        if c.semantic and self.embed is not None:
            text = prompt_text(body)
            vec = (await asyncio.to_thread(self.embed, [text]))[0]
            m = self.cache.match(bucket_key(path, body), text, vec)
            if m.hit is not None:
                return "semantic", m.hit, {}
            spent = 0.0
            for e in m.grey[: c.judge_candidates] if c.judge else []:
                p_yes, cost, _ = await self.judge_same(e.text, text, key)
                spent += cost
                admitted = p_yes is not None and p_yes >= c.judge_threshold
                self.metrics.judge.labels("yes" if admitted else "no").inc()
                if admitted:
                    return "semantic", e.body, {"judge_p_yes": p_yes, "cost": spent}
        return None

    async def judge_same(
        self, a: str, b: str, key: str
    ) -> tuple[float | None, float, list[float | None]]:
        """The cache judge's P(yes) that `a` and `b` ask the same thing (the lower of both
        orders, asked concurrently), what its calls cost, and each order's P(yes); the calls
        are billed to `key` under the judge backend, with their latency, like any call."""
        jb = self.backends[self.cfg.cache.judge]  # type: ignore[index]
        route = ModelRoute(name="cache-judge", backends=[jb.name])

        async def ask(x: str, y: str) -> dict[str, Any]:
            req = judge.judge_request(x, y)
            ans = await self.caller.call([jb], "/chat/completions", req, False, _approx_tokens(req))
            return await self.read(ans, req, route, key)

        outs = await asyncio.gather(ask(a, b), ask(b, a))
        ps = [cascade.yes_probability(o) for o in outs]
        cost = sum(o["lmforge"]["cost"] for o in outs)
        return (None if None in ps else min(ps)), cost, ps  # type: ignore[type-var]

    async def store(self, path: str, body: dict[str, Any], answer: dict[str, Any]) -> None:
        if not (cacheable(body) and (self.cfg.cache.exact or self.cfg.cache.semantic)):
            return
        vec, text = None, ""
        if self.cfg.cache.semantic and self.embed is not None:
            text = prompt_text(body)
            vec = (await asyncio.to_thread(self.embed, [text]))[0]
        self.cache.put(exact_key(path, body), answer, bucket_key(path, body), text, vec)

    # ---- calling and billing ------------------------------------------------------------------
    async def forward(
        self,
        path: str,
        body: dict[str, Any],
        route: ModelRoute,
        key: str,
        backends: list[Backend],
        stream: bool,
        want_usage: bool,
    ) -> Any:
        up = dict(body)
        if stream:
            up["stream_options"] = {**(body.get("stream_options") or {}), "include_usage": True}
        ans = await self.caller.call(backends, path, up, stream, _approx_tokens(body))
        if stream and ans.resp.status_code == 200:
            return _Streamed(
                self.pass_stream(ans, body, route, key, want_usage),
                {"x-lmforge-cache": "miss", "x-lmforge-backend": ans.backend.name},
            )
        out = await self.read(ans, body, route, key)
        if stream:  # an upstream error answered a stream request: return it as JSON
            return out
        await self.store(path, body, {k: v for k, v in out.items() if k != "lmforge"})
        return out

    async def read(self, ans: Answer, body: dict[str, Any], route: ModelRoute, key: str) -> dict:
        b, resp = ans.backend, ans.resp
        try:
            raw = await resp.aread()
        finally:
            await resp.aclose()
        latency = time.perf_counter() - ans.t0
        try:
            out = orjson.loads(raw) if raw else {}
        except orjson.JSONDecodeError:
            out = {}
        status = resp.status_code
        self.metrics.requests.labels(route.name, b.name, key, str(status)).inc()
        if status >= 400:
            self.ledger.error(key, b.name)
            err = out.get("error") if isinstance(out, dict) else None
            msg = (
                err.get("message") if isinstance(err, dict) else raw[:200].decode(errors="replace")
            )
            raise APIError(status, f"backend {b.name}: {msg}", param=(err or {}).get("param"))
        usage = out.get("usage") or {}
        cost = self.bill(key, b, usage, latency, local=False)
        out["lmforge"] = {"cache": "miss", "backend": b.name, "cost": cost}
        return out

    def bill(self, key: str, b: Backend, usage: dict, latency: float, local: bool) -> float:
        t_in, t_out = int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))
        cost = b.cost(t_in, t_out)
        self.ledger.bill(key, b.name, t_in, t_out, cost, latency, local)
        b.observe_latency(latency)
        m = self.metrics
        m.latency.labels(b.name).observe(latency)
        m.tokens.labels(b.name, key, "in").inc(t_in)
        m.tokens.labels(b.name, key, "out").inc(t_out)
        m.cost.labels(b.name, key).inc(cost)
        return cost

    async def pass_stream(
        self, ans: Answer, body: dict[str, Any], route: ModelRoute, key: str, want_usage: bool
    ) -> AsyncIterator[bytes]:
        b, resp, tally = ans.backend, ans.resp, StreamTally()
        try:
            async for line in resp.aiter_lines():
                raw = line.encode()
                if tally.feed(raw) or want_usage:
                    yield raw + b"\n"
        finally:
            with anyio.CancelScope(shield=True):  # the client may have left: still close+bill
                await resp.aclose()
                local = tally.usage is None
                usage = tally.usage or local_usage(await self.tokenizer(b), body, tally)
                self.bill(key, b, usage, time.perf_counter() - ans.t0, local)
                status = "200" if tally.finished else "499"
                self.metrics.requests.labels(route.name, b.name, key, status).inc()

    async def tokenizer(self, b: Backend) -> Any:
        """The backend's tokenizer; without one configured, the default model's (loaded once,
        off the event loop)."""
        if b.tokenizer is not None:
            return b.tokenizer
        if self._default_tok is None:
            self._default_tok = await asyncio.to_thread(load_tokenizer, "default")
        return self._default_tok

    # ---- cascade ------------------------------------------------------------------------------
    async def run_cascade(
        self,
        path: str,
        body: dict[str, Any],
        route: ModelRoute,
        key: str,
        stream: bool,
        want_usage: bool,
    ) -> Any:
        bs = [self.backends[n] for n in route.backends]
        threshold = self.threshold(route)
        if route.signal == "router":
            router = self.routers[route.name]
            vec = (await asyncio.to_thread(self.embed, [prompt_text(body)]))[0]
            conf = float(router.prob(vec[None])[0])
            if conf < threshold:
                self.metrics.escalations.labels(route.name).inc()
                bs = bs[1:]
            return await self.forward(path, body, route, key, bs, stream, want_usage)
        for b in bs[:-1]:
            try:
                out, conf = await self.try_cheap(path, body, route, key, b)
            except APIError as e:
                if e.status < 500:
                    raise
                continue  # this level is down: next level
            if conf is not None and conf >= threshold:
                out["lmforge"].update(confidence=conf, escalated=False)
                return (
                    _Streamed(replay(out, want_usage), {"x-lmforge-backend": b.name})
                    if stream
                    else out
                )
            self.metrics.escalations.labels(route.name).inc()
        return await self.forward(path, body, route, key, bs[-1:], stream, want_usage)

    def threshold(self, route: ModelRoute) -> float:
        """The route's threshold; for a router signal without one in the config, the one
        chosen on dev when the router was trained (kept in its file)."""
        router = self.routers.get(route.name)
        if router is None or "threshold" in route.model_fields_set:
            return route.threshold
        return float(router.meta.get("threshold", route.threshold))

    async def try_cheap(
        self, path: str, body: dict[str, Any], route: ModelRoute, key: str, b: Backend
    ) -> tuple[dict[str, Any], float | None]:
        """The cheap answer (never streamed) and its confidence under the route's signal."""
        up = {**body, "stream": False}
        up.pop("stream_options", None)
        asked = bool(body.get("logprobs"))
        if route.signal == "margin":
            if "messages" in body:
                up.update(logprobs=True, top_logprobs=max(2, body.get("top_logprobs") or 0))
            else:
                up["logprobs"] = max(2, body.get("logprobs") or 0)
        ans = await self.caller.call([b], path, up, False, _approx_tokens(body))
        out = await self.read(ans, body, route, key)
        if route.signal == "answer_router":
            vec = await asyncio.to_thread(self.embed, [query_text(body)])
            conf = answer_prob(self.routers[route.name], vec, [cascade.answer_text(out)])
            return out, float(conf[0])
        if route.signal == "margin":
            conf = cascade.margin(out)
            if not asked:
                for c in out.get("choices", []):
                    c["logprobs"] = None
            return out, conf
        q = "\n".join(
            m.get("content") or ""
            for m in body.get("messages", [])
            if isinstance(m.get("content"), str)
        ) or str(body.get("prompt", ""))
        check = {
            "model": body.get("model"),
            "messages": [
                {
                    "role": "user",
                    "content": cascade.SELF_CHECK.format(
                        question=q, answer=cascade.answer_text(out)
                    ),
                }
            ],
            "max_tokens": 1,
            "temperature": 0,
            "logprobs": True,
            "top_logprobs": 10,
        }
        ans = await self.caller.call([b], "/chat/completions", check, False, _approx_tokens(check))
        verdict = await self.read(ans, check, route, key)
        out["lmforge"]["cost"] += verdict["lmforge"]["cost"]
        return out, cascade.yes_probability(verdict)


class _Streamed:
    """What `handle` returns for a stream: the byte iterator and extra response headers."""

    __slots__ = ("chunks", "headers")

    def __init__(self, chunks: Any, headers: dict[str, str]) -> None:
        self.chunks, self.headers = chunks, headers


def _approx_tokens(body: dict[str, Any]) -> int:
    """A cheap prompt-size estimate for context checks (~4 characters per token)."""
    return len(prompt_text(body)) // 4
