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
    demo_prompts: list[str] = Field(
        default_factory=list, description="Chat turns sent after the load test; answers logged."
    )
    demo_max_tokens: int = Field(16, ge=1)


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


def _ask(url: str, model: str, prompt: str, max_tokens: int) -> dict[str, Any]:
    """One greedy chat turn through the server's OpenAI API: the served model answering."""
    import httpx

    t0 = time.perf_counter()
    body = {
        "model": model,
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": max_tokens,
        "temperature": 0,
    }
    r = httpx.post(url + "/v1/chat/completions", json=body, timeout=300)
    if r.status_code != 200:
        raise LMForgeError(f"served model did not answer the demo prompt: {r.status_code} {r.text}")
    data = r.json()
    return {
        "prompt": prompt,
        "answer": data["choices"][0]["message"]["content"],
        "seconds": round(time.perf_counter() - t0, 3),
        "completion_tokens": data["usage"]["completion_tokens"],
    }


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
        demo = [_ask(url, name, p, cfg.demo_max_tokens) for p in cfg.demo_prompts]
    finally:
        server.should_exit = True
        thread.join(timeout=60)
    run.log_metrics(levels=rows, **({"demo": demo} if demo else {}))
    return {"plot": plot({name: rows}, run.dir / "bench-serve.png")}
