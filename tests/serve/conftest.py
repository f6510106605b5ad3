"""Serve fixtures: real servers (uvicorn in a thread) on free loopback ports over tiny models."""

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import openai
import pytest
import uvicorn

from lmforge.serve.app import create_app
from lmforge.serve.config import ServeConfig
from lmforge.serve.server import DrainingServer, bind, build_state
from lmforge.serve.state import Loaded, ServerState

KEY = "sk-test-key"


@dataclass(slots=True)
class Running:
    url: str
    state: ServerState
    server: DrainingServer
    thread: threading.Thread

    def client(self, key: str | None = KEY, **kw: object) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.url + "/v1", api_key=key or "none", max_retries=0, **kw)

    def wait_idle(self, timeout: float = 20) -> None:
        """Until no sequence runs, none waits, no KV block is held and no slot is taken."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            e = self.state.engine
            s = e.stats() if e else None
            if (
                s is not None
                and not e.engine.requests
                and s.num_running == s.num_waiting == 0
                and s.kv_usage == 0
                and self.state.admission.running == 0
            ):
                return
            time.sleep(0.05)
        raise AssertionError(f"server not idle: {s}, slots {self.state.admission.running}")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)


def start_server(
    cfg: ServeConfig, load: Callable[[], Loaded] | None = None, ready: bool = True
) -> Running:
    state = build_state(cfg, load)
    sock = bind("127.0.0.1", 0)
    config = uvicorn.Config(create_app(state), log_level="warning", timeout_graceful_shutdown=10)
    server = DrainingServer(config, state)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    r = Running(f"http://127.0.0.1:{sock.getsockname()[1]}", state, server, thread)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            code = httpx.get(r.url + "/health", timeout=2).status_code
            if code == 200 or (not ready and code == 503):
                return r
        except httpx.TransportError:
            pass
        assert state.load_error is None, state.load_error
        time.sleep(0.1)
    raise AssertionError("server did not come up")


def tiny_cfg(model: Path, **kw: object) -> ServeConfig:
    base: dict[str, object] = {
        "model": str(model),
        "served_model_name": "tiny",
        "api_key": [KEY],
        "kv_cache_gb": 0.01,
        "threads": 1,
        "embeddings": False,
        "max_num_seqs": 8,
        "max_queue": 64,
    }
    return ServeConfig(**(base | kw))


@pytest.fixture(scope="session")
def tiny_server(tiny_llama_dir: Path) -> Iterator[Running]:
    """The shared tiny server, with the MiniLM embeddings endpoint on."""
    r = start_server(tiny_cfg(tiny_llama_dir, embeddings=True))
    yield r
    r.stop()


@pytest.fixture
def client(tiny_server: Running) -> openai.OpenAI:
    return tiny_server.client()
