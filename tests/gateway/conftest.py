"""Gateway fixtures: a mock OpenAI upstream and the gateway itself, both real uvicorn servers on
free loopback ports, so streaming, disconnects and retries go through real sockets."""

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from lmforge.gateway.app import create_gateway_app
from lmforge.gateway.config import GatewayConfig
from lmforge.gateway.server import open_gateway
from lmforge.gateway.service import Gateway
from lmforge.gateway.testing import MockState, Served, mock_app, serve_in_thread


@dataclass(slots=True)
class Running:
    url: str
    app: Any
    served: Served

    @property
    def gw(self) -> Gateway:
        return self.app.state.gateway

    def client(self, key: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url + "/v1", headers=headers, timeout=60)


def start_gateway(cfg: GatewayConfig, embed: Any = None, fast_retries: bool = True) -> Running:
    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        async with open_gateway(cfg, embed) as gw:
            if fast_retries:
                delays: list[float] = []

                async def no_sleep(s: float) -> None:
                    delays.append(s)

                gw.caller.sleep = no_sleep
                gw.delays = delays  # type: ignore[attr-defined]
            app.state.gateway = gw
            yield

    app = create_gateway_app(lifespan=lifespan)
    served = serve_in_thread(app)
    return Running(served.url, app, served)


@pytest.fixture
def mock() -> Iterator[tuple[MockState, str]]:
    st = MockState()
    s = serve_in_thread(mock_app(st))
    yield st, s.url + "/v1"
    s.stop()


@pytest.fixture
def mock2() -> Iterator[tuple[MockState, str]]:
    st = MockState()
    s = serve_in_thread(mock_app(st))
    yield st, s.url + "/v1"
    s.stop()


@pytest.fixture
def gateway() -> Iterator[Callable[..., Running]]:
    started: list[Running] = []

    def make(cfg: dict[str, Any] | GatewayConfig, **kw: Any) -> Running:
        c = cfg if isinstance(cfg, GatewayConfig) else GatewayConfig(**cfg)
        r = start_gateway(c, **kw)
        started.append(r)
        return r

    yield make
    for r in started:
        r.served.stop()


def chat(text: str = "hello there world", model: str = "m", **kw: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": text}], **kw}
