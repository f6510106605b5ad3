"""`lmforge bench serve`: an async load generator for any OpenAI-compatible server.

For each concurrency level, `requests` streaming completions are sent with at most `concurrency`
in flight (bounded in count and in time, loopback only: this is a benchmark, not a load-test
tool for other people's hosts). Per level: throughput (output tokens/s and requests/s), TTFT and
ITL p50/p90/p99 measured at the client from the SSE chunks.
"""

import asyncio
import ipaddress
import json
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import httpx
import numpy as np

from lmforge.errors import LMForgeError


@dataclass(slots=True)
class Level:
    concurrency: int
    requests: int
    errors: int
    wall_s: float
    output_tokens: int
    ttft: list[float]
    itl: list[float]

    def row(self) -> dict[str, float]:
        def p(xs: list[float], q: float) -> float:
            return float(np.percentile(xs, q)) * 1e3 if xs else float("nan")

        return {
            "concurrency": self.concurrency,
            "requests": self.requests,
            "errors": self.errors,
            "req_per_s": self.requests / self.wall_s,
            "tok_per_s": self.output_tokens / self.wall_s,
            **{f"ttft_p{q}_ms": p(self.ttft, q) for q in (50, 90, 99)},
            **{f"itl_p{q}_ms": p(self.itl, q) for q in (50, 90, 99)},
        }


def check_loopback(url: str) -> None:
    host = urlparse(url).hostname or ""
    try:
        ok = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        ok = False
    if not ok:
        raise LMForgeError(f"--url {url}: the load generator only targets loopback hosts")


async def _one(client: httpx.AsyncClient, url: str, body: dict, lv: Level, deadline: float) -> None:
    t0 = time.perf_counter()
    last = None
    try:
        async with client.stream("POST", url, json=body) as r:
            if r.status_code != 200:
                lv.errors += 1
                return
            async for line in r.aiter_lines():
                if not line.startswith("data: {"):
                    continue
                chunk = json.loads(line[6:])
                if not chunk.get("choices") or not chunk["choices"][0].get("text"):
                    continue
                now = time.perf_counter()
                if last is None:
                    lv.ttft.append(now - t0)
                else:
                    lv.itl.append(now - last)
                last = now
                lv.output_tokens += 1  # one token per chunk (both servers stream per token)
                if now > deadline:
                    break
    except httpx.HTTPError:
        lv.errors += 1


async def run_level(
    url: str, model: str, concurrency: int, requests: int, max_tokens: int,
    api_key: str | None, time_limit_s: float, prompt: str,
) -> Level:  # fmt: skip
    lv = Level(concurrency, requests, 0, 0.0, 0, [], [])
    body = {"model": model, "prompt": prompt, "max_tokens": max_tokens, "temperature": 0,
            "stream": True, "ignore_eos": True}  # fmt: skip
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    sem = asyncio.Semaphore(concurrency)
    t0 = time.perf_counter()
    deadline = t0 + time_limit_s
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(timeout=time_limit_s + 30, headers=headers, limits=limits) as c:

        async def bounded() -> None:
            async with sem:
                if time.perf_counter() < deadline:
                    await _one(c, url.rstrip("/") + "/v1/completions", body, lv, deadline)

        await asyncio.gather(*(bounded() for _ in range(requests)))
    lv.wall_s = time.perf_counter() - t0
    return lv


def run_bench(
    url: str, model: str, levels: list[int], requests: int, max_tokens: int = 64,
    api_key: str | None = None, time_limit_s: float = 120.0,
    prompt: str = "Write a short story about a lighthouse keeper.",
) -> list[dict[str, float]]:  # fmt: skip
    check_loopback(url)
    assert levels and requests >= 1
    return [
        asyncio.run(
            run_level(url, model, c, requests, max_tokens, api_key, time_limit_s, prompt)
        ).row()
        for c in levels
    ]


def plot(results: dict[str, list[dict[str, float]]], path: Path) -> Path:
    """Latency (TTFT and ITL p50) against throughput, one line per server."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for name, rows in results.items():
        tps = [r["tok_per_s"] for r in rows]
        for ax, key in zip(axes, ("ttft_p50_ms", "itl_p50_ms"), strict=True):
            ax.plot(tps, [r[key] for r in rows], marker="o", label=name)
            for r, x in zip(rows, tps, strict=True):
                ax.annotate(f"c={int(r['concurrency'])}", (x, r[key]), fontsize=7)
            ax.set_xlabel("output tokens/s")
            ax.set_ylabel(key.replace("_", " "))
            ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
