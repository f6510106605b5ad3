"""Eval test fixtures: one torch thread (the 2-core box is shared; oversubscribed threads are
30x slower), a transformers backend on the tiny Llama, and in-test OpenAI-compatible servers."""

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def one_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def hf_backend(tiny_llama_dir: Path):
    from lmforge.eval.backends.hf import HFBackend

    return HFBackend(str(tiny_llama_dir), batch_size=4)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_app(app: Any) -> Iterator[str]:
    """Run a FastAPI app with uvicorn on a free loopback port in a thread; yield its base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started:
        assert time.time() < deadline, "test server did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}/v1"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def tiny_server(hf_backend) -> Iterator[str]:
    """A minimal OpenAI-compatible server around the tiny model (the real one is issue #4)."""
    from openai_stub import model_app

    yield from serve_app(model_app(hf_backend))


@pytest.fixture
def scripted_server() -> Iterator[tuple[str, Callable[[Callable[[str], str]], None]]]:
    """A chat server whose replies come from a function of the last user message."""
    from openai_stub import scripted_app

    app, set_reply = scripted_app()
    for url in serve_app(app):
        yield url, set_reply
