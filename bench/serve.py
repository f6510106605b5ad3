"""Benchmark `lmforge serve` on the default model with the async load generator.

Starts the server as a subprocess on a free loopback port, runs the levels, and (when
llama-cpp-python is installed) does the same against llama-cpp-python's own OpenAI server on the
default model's GGUF, alternating servers level by level so both see the same background load.

    .venv/bin/python bench/serve.py --levels 1,4,16 --requests 16 --max-tokens 32
"""

import argparse
import os
import socket
import subprocess
import sys
import time

import httpx
import torch

from lmforge.extras import is_available
from lmforge.serve.loadgen import plot, run_bench


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(url: str, proc: subprocess.Popen, path: str) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        assert proc.poll() is None, "server exited"
        try:
            if httpx.get(url + path, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise TimeoutError(url)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--levels", default="1,4,16")
    ap.add_argument("--requests", type=int, default=16)
    ap.add_argument("--max-tokens", type=int, default=32)
    ap.add_argument("--plot", default="bench-serve.png")
    a = ap.parse_args()
    levels = [int(x) for x in a.levels.split(",")]
    servers: dict[str, tuple[str, str, subprocess.Popen]] = {}
    port = free_port()
    env = {**os.environ, "COLUMNS": "300"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "lmforge.cli", "serve", "--port", str(port), "--no-embeddings",
         "--max-num-seqs", str(max(levels)), "--max-queue", "1024"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    servers["lmforge"] = (f"http://127.0.0.1:{port}", "smollm2-135m-instruct", proc)
    wait_up(servers["lmforge"][0], proc, "/health")
    if is_available("llama_cpp"):
        from lmforge.models.default import default_gguf_path

        port2 = free_port()
        p2 = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(default_gguf_path()),
             "--port", str(port2), "--model_alias", "smollm2"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        servers["llama-cpp-python"] = (f"http://127.0.0.1:{port2}", "smollm2", p2)
        wait_up(servers["llama-cpp-python"][0], p2, "/v1/models")
    else:
        print("llama-cpp-python is not installed: lmforge only (pip install llama-cpp-python)")
    print(f"torch threads {torch.get_num_threads()}, cpus {os.cpu_count()}")
    results: dict[str, list[dict[str, float]]] = {n: [] for n in servers}
    try:
        for c in levels:  # alternate servers per level
            for name, (url, model, _) in servers.items():
                results[name] += run_bench(url, model, [c], a.requests, a.max_tokens)
    finally:
        for _, _, p in servers.values():
            p.terminate()
            p.wait(60)
    cols = ("concurrency", "req_per_s", "tok_per_s", "ttft_p50_ms", "ttft_p90_ms", "ttft_p99_ms",
            "itl_p50_ms", "itl_p90_ms", "itl_p99_ms", "errors")  # fmt: skip
    print("| server | " + " | ".join(cols) + " |")
    print("|---" * (len(cols) + 1) + "|")
    for name, rows in results.items():
        for r in rows:
            print(f"| {name} | " + " | ".join(f"{r[k]:.1f}" for k in cols) + " |")
    if "llama-cpp-python" in results:
        for a_, b_ in zip(results["lmforge"], results["llama-cpp-python"], strict=True):
            ratio = a_["tok_per_s"] / b_["tok_per_s"]
            print(f"c={int(a_['concurrency'])}: lmforge/llama-cpp tok/s = {ratio:.2f}")
    print("plot:", plot(results, __import__("pathlib").Path(a.plot)))


if __name__ == "__main__":
    main()
