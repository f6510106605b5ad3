"""Backends: one `httpx.AsyncClient` each, over the network or into an in-process engine.

All three kinds speak the same OpenAI HTTP API, so routing, retries, streaming and accounting
have one code path. `engine` builds lmforge's own serve app (`lmforge.serve`) around an
`AsyncLLMEngine` and calls it through `InProcessTransport`: no socket, no second process, but
every feature of `lmforge serve` (logprobs, stop strings, guard...) and its exact semantics.
`serve` and `openai` are URLs; the upstream key comes from an env var and is only ever placed
in the Authorization header of upstream requests.
"""

import asyncio
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from lmforge.errors import LMForgeError
from lmforge.gateway.asgi import InProcessTransport
from lmforge.gateway.config import BackendConfig, ReliabilityConfig
from lmforge.gateway.reliability import Breaker
from lmforge.gateway.transport import LeanTransport

EWMA_ALPHA = 0.2  # weight of the newest latency sample
_JSON = {"content-type": "application/json"}


@dataclass(slots=True)
class Backend:
    cfg: BackendConfig
    breaker: Breaker
    transport: httpx.AsyncBaseTransport | None = None
    base_url: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    timeout: dict[str, float | None] = field(default_factory=dict)  # httpx's extension shape
    ewma_s: float | None = None  # measured latency; None until the first success
    tokenizer: Any = None
    served_model: str = ""
    _engine_state: Any = field(default=None, repr=False)
    _urls: dict[str, httpx.URL] = field(default_factory=dict, repr=False)

    @property
    def name(self) -> str:
        return self.cfg.name

    def cost(self, tokens_in: int, tokens_out: int) -> float:
        """USD (or whatever unit the prices are in) for one call."""
        return (tokens_in * self.cfg.price_in + tokens_out * self.cfg.price_out) / 1e6

    def observe_latency(self, seconds: float) -> None:
        e = self.ewma_s
        self.ewma_s = seconds if e is None else (1 - EWMA_ALPHA) * e + EWMA_ALPHA * seconds

    async def open(self) -> None:
        """Connect (HTTP kinds) or load the model (engine kind, in a worker thread)."""
        c = self.cfg
        self.timeout = httpx.Timeout(c.timeout_s, connect=min(5.0, c.timeout_s)).as_dict()
        self.headers = dict(_JSON)
        if c.kind == "engine":
            app, state = await asyncio.to_thread(_engine_app, c)
            self._engine_state, self.served_model = state, state.model_name
            self.tokenizer = state.engine.tokenizer
            self.transport, self.base_url = InProcessTransport(app), "http://in-process/v1"
            return
        key = c.upstream_key()
        if key:
            self.headers["Authorization"] = f"Bearer {key}"
        self.transport, self.base_url = LeanTransport(max_keepalive=64), c.url.rstrip("/")
        self.served_model = c.model
        if c.tokenizer:
            self.tokenizer = await asyncio.to_thread(load_tokenizer, c.tokenizer)

    async def aclose(self) -> None:
        if self.transport is not None:
            await self.transport.aclose()
        if self._engine_state is not None and self._engine_state.engine is not None:
            await self._engine_state.engine.aclose()

    async def send(self, path: str, body: dict[str, Any], stream: bool) -> httpx.Response:
        """One upstream attempt; the caller reads (or streams) and closes the response.

        Straight to the transport with a ready URL and headers: `AsyncClient.send` adds URL
        merging and parsing, cookie extraction and auth/redirect layers (~0.3 ms per proxied
        request, a quarter of the gateway's CPU), none of which a proxy to a fixed upstream
        uses. Timeouts travel as httpx's `timeout` extension, as the client would send them.
        """
        assert self.transport is not None, f"backend {self.name} is not open"
        body = {**body, "model": self.served_model}
        url = self._urls.get(path)
        if url is None:
            url = self._urls[path] = httpx.URL(self.base_url + path)
        req = httpx.Request(  # orjson: httpx's json= runs the stdlib encoder per request
            "POST", url, headers=self.headers, content=orjson.dumps(body),
            extensions={"timeout": self.timeout},
        )  # fmt: skip
        resp = await self.transport.handle_async_request(req)
        resp.request = req
        if not stream:  # read now, so a body that times out is this attempt's failure
            try:
                await resp.aread()
            finally:
                await resp.aclose()
        return resp


def load_tokenizer(ref: str) -> Any:
    """A tokenizer for local token counting: 'default' or a local HF directory / GGUF."""
    from transformers import AutoTokenizer

    from lmforge.models import resolve_model_dir

    return AutoTokenizer.from_pretrained(resolve_model_dir(ref))


def _engine_app(c: BackendConfig) -> tuple[Any, Any]:
    """The `lmforge serve` app around a freshly loaded engine (blocking; runs in a thread)."""
    from lmforge.serve.app import create_app
    from lmforge.serve.config import ServeConfig
    from lmforge.serve.server import build_state, loader

    scfg = ServeConfig(
        model=c.model,
        served_model_name=c.name,
        quantize=c.quantize,
        threads=c.threads,
        max_model_len=c.max_model_len,
        kv_cache_gb=c.kv_cache_gb,
    )
    state = build_state(scfg)
    try:
        state.install(loader(scfg))
    except LMForgeError as e:
        raise LMForgeError(f"backend {c.name!r}: {e}") from None
    return create_app(state), state


def make_backends(cfgs: list[BackendConfig], rel: ReliabilityConfig) -> dict[str, Backend]:
    return {c.name: Backend(c, Breaker(rel.breaker_failures, rel.breaker_reset_s)) for c in cfgs}
