"""Serving benchmark as a pipeline kind: start `lmforge serve` on a free loopback port in this
process, drive it with `lmforge bench serve`'s load generator, stop it, keep the figures."""

import threading
import time
from pathlib import Path
from typing import Any

from pydantic import Field

from lmforge.config import StageConfig
from lmforge.errors import LMForgeError
from lmforge.runs import Run


class ServeBenchConfig(StageConfig):
    """A short load test of the model behind the OpenAI-compatible server."""

    model: str = Field("default", description="Model to serve (or the pipeline's `model` input).")
    concurrency: list[int] = Field(default_factory=lambda: [1, 4, 8])
    requests: int = Field(8, ge=1, description="Requests per concurrency level.")
    max_tokens: int = Field(32, ge=1, description="Output tokens per request (ignore_eos).")
    time_limit_s: float = Field(60.0, gt=0, description="Stop sending new requests after this.")
    max_num_seqs: int = Field(16, ge=1)
    threads: int | None = Field(None, ge=1)


def serve_fill(inputs: dict[str, Path]) -> dict[str, Any]:
    return {"model": str(inputs["model"])} if "model" in inputs else {}


def _wait_healthy(url: str, state: Any, model: str, timeout_s: float = 300) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(url + "/health", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass  # not listening yet
        if state.load_error is not None or time.monotonic() > deadline:
            raise LMForgeError(f"server for {model} did not start: {state.load_error or 'timeout'}")
        time.sleep(0.2)


def bench_serve(cfg: ServeBenchConfig, inputs: dict[str, Path], run: Run) -> dict[str, Path]:
    import uvicorn

    from lmforge.serve.app import create_app
    from lmforge.serve.config import ServeConfig
    from lmforge.serve.loadgen import plot, run_bench
    from lmforge.serve.server import DrainingServer, bind, build_state, served_name

    scfg = ServeConfig(
        model=cfg.model,
        port=0,
        embeddings=False,
        max_num_seqs=cfg.max_num_seqs,
        max_queue=max(cfg.concurrency) * 2,
        threads=cfg.threads,
        log_level="warning",
    )
    state = build_state(scfg)
    sock = bind("127.0.0.1", 0)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = DrainingServer(uvicorn.Config(create_app(state), log_level="warning"), state)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        _wait_healthy(url, state, cfg.model)
        name = served_name(scfg)
        rows = run_bench(
            url, name, cfg.concurrency, cfg.requests, cfg.max_tokens, None, cfg.time_limit_s
        )
    finally:
        server.should_exit = True
        thread.join(timeout=60)
    run.log_metrics(levels=rows)
    return {"plot": plot({name: rows}, run.dir / "bench-serve.png")}
