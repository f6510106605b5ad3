"""Soak `lmforge serve`: many mixed requests at high concurrency, then look for what leaked.

    python bench/soak.py [--requests 500] [--concurrency 32]           # starts `lmforge serve`
    python bench/soak.py --url http://127.0.0.1:8000 --model NAME       # an already running one

The mix (seeded): chat and completions, streamed and not, tool calls (auto / required / named),
`json_schema` output, completions with logprobs, clients that disconnect mid-stream or give up
on a non-streamed request, and deliberately bad requests (broken JSON, missing fields,
out-of-range values, an unknown model). Targets, each checked at the end:
- 0 KV blocks held once the server is idle (`lmforge:kv_cache_used_blocks` on /metrics);
- server RSS (`process_resident_memory_bytes` on /metrics) of the last 100 requests within 10%
  of the first 100 (after a warm-up that is not counted);
- no 5xx at all; every good request answered (200) or cleanly rejected (429 / 503); every bad
  one a 4xx.
Prints one JSON object (counts by kind and status, p50/p99 latency per kind, RSS, KV blocks) and
exits 1 when a target is missed. The server is a client-side black box: nothing here imports it.
"""

import argparse
import asyncio
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import time
from typing import Any

import httpx

SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string", "maxLength": 12}, "age": {"type": "integer"}},
    "required": ["name", "age"],
    "additionalProperties": False,
}
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather for a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string", "maxLength": 16}},
                "required": ["city"],
                "additionalProperties": False,
            },
        },
    }
]
KINDS = (
    "chat",
    "chat_stream",
    "completion",
    "completion_stream",
    "logprobs",
    "tools",
    "json_schema",
    "disconnect_stream",
    "disconnect_wait",
    "bad",
)
WEIGHTS = (14, 14, 10, 10, 8, 8, 8, 12, 6, 10)
BAD = (  # (body, why): each must be a 4xx
    (b'{"model": "M", "messages": [', "broken JSON"),
    (b'{"model": "M"}', "no messages"),
    (b'{"model": "M", "messages": [{"role": "user", "content": "x"}], "max_tokens": -3}', "range"),
    (b'{"model": "no-such-model", "messages": [{"role": "user", "content": "x"}]}', "model"),
    (b'{"model": "M", "messages": [{"role": "user", "content": "x"}], "stream_options": {}}', "so"),
)


def _body(kind: str, model: str, rng: random.Random) -> dict[str, Any]:
    words = " ".join(rng.choice(("soak", "test", "server", "tokens", "cache")) for _ in range(8))
    msgs = [{"role": "user", "content": f"Say something about {words}."}]
    base: dict[str, Any] = {"model": model, "max_tokens": rng.randint(4, 24)}
    base["temperature"] = rng.choice((0.0, 0.7))
    if kind in ("completion", "completion_stream", "logprobs"):
        b = base | {"prompt": f"The {words} was"}
        if kind == "logprobs":
            b["logprobs"] = 2
        return b | ({"stream": True} if kind == "completion_stream" else {})
    b = base | {"messages": msgs}
    if kind == "tools":
        choice = rng.choice(
            ("auto", "required", {"type": "function", "function": {"name": "get_weather"}})
        )
        b |= {"tools": TOOLS, "tool_choice": choice, "max_tokens": 48}
    elif kind == "json_schema":
        fmt = {"type": "json_schema", "json_schema": {"name": "person", "schema": SCHEMA}}
        b |= {"response_format": fmt, "max_tokens": 48}
    elif kind in ("chat_stream", "disconnect_stream"):
        b |= {"stream": True, "stream_options": {"include_usage": True}}
        if kind == "disconnect_stream":
            b |= {"max_tokens": 64, "ignore_eos": True}
    elif kind == "disconnect_wait":
        b |= {"max_tokens": 64, "ignore_eos": True}
    return b


async def _one(c: httpx.AsyncClient, model: str, kind: str, rng: random.Random) -> dict[str, Any]:
    """One request; returns its kind, status ('dropped' when we hung up) and latency."""
    t0 = time.perf_counter()
    out: dict[str, Any] = {"kind": kind}
    if kind == "bad":
        body, _ = rng.choice(BAD)
        body = body.replace(b'"M"', f'"{model}"'.encode())
        r = await c.post("/v1/chat/completions", content=body)
        return out | {"status": r.status_code, "s": time.perf_counter() - t0}
    b = _body(kind, model, rng)
    path = "/v1/completions" if "prompt" in b else "/v1/chat/completions"
    if b.get("stream"):
        cut = rng.randint(1, 4) if kind == "disconnect_stream" else None
        async with c.stream("POST", path, json=b) as r:
            out["status"] = r.status_code
            n, last = 0, ""
            async for line in r.aiter_lines():
                if line.startswith("data: "):
                    n, last = n + 1, line
                if cut is not None and n >= cut:
                    out["status"] = "dropped"  # leave the block: the connection closes mid-stream
                    break
            if out["status"] == 200 and cut is None and last != "data: [DONE]":
                out["status"] = "truncated"
        return out | {"s": time.perf_counter() - t0}
    if kind == "disconnect_wait":
        try:
            r = await asyncio.wait_for(c.post(path, json=b), timeout=rng.uniform(0.05, 0.5))
        except TimeoutError:
            return out | {"status": "dropped", "s": time.perf_counter() - t0}
    else:
        r = await c.post(path, json=b)
    out["status"] = r.status_code
    if r.status_code == 200:
        out["check"] = _check(kind, r.json())
    return out | {"s": time.perf_counter() - t0}


def _check(kind: str, data: dict[str, Any]) -> str | None:
    """What is wrong with a 200 answer of this kind (None: nothing)."""
    choice = data["choices"][0]
    if kind == "logprobs":
        lp = choice.get("logprobs") or {}
        if len(lp.get("text_offset", [])) != len(lp.get("tokens", [])) or not lp.get("tokens"):
            return "logprobs: text_offset / tokens mismatch"
    if kind == "json_schema" and choice["finish_reason"] == "stop":
        try:
            json.loads(choice["message"]["content"])
        except (json.JSONDecodeError, TypeError):
            return "json_schema: content is not JSON"
    if kind == "tools" and choice["finish_reason"] == "tool_calls":
        for call in choice["message"].get("tool_calls") or []:
            json.loads(call["function"]["arguments"])
    return None


async def _metrics(c: httpx.AsyncClient) -> dict[str, float]:
    text = (await c.get("/metrics")).text
    out = {}
    for name in ("process_resident_memory_bytes", "lmforge:kv_cache_used_blocks",
                 "lmforge:num_requests_running", "lmforge:num_requests_waiting"):  # fmt: skip
        m = re.search(rf"^{re.escape(name)}(?:{{[^}}]*}})? (\S+)$", text, re.M)
        if m:
            out[name] = float(m.group(1))
    # every answer the server counted as 5xx, also those the client never saw (it hung up)
    errors = re.findall(r'^lmforge:request_errors_total{[^}]*status="(5\d\d)"} (\S+)$', text, re.M)
    out["server_5xx"] = sum(float(n) for s, n in errors if s != "503")
    return out


async def soak(
    url: str, model: str, requests: int, concurrency: int, seed: int, key: str, warmup: int
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=concurrency + 4)
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=600, limits=limits) as c:
        start = await _metrics(c)
        rng = random.Random(seed)
        kinds = rng.choices(KINDS, WEIGHTS, k=warmup + requests)
        sem = asyncio.Semaphore(concurrency)
        results: list[dict[str, Any]] = []
        rss: list[tuple[int, float]] = []  # (requests done when sampled, bytes)

        async def bounded(kind: str, i: int) -> None:
            async with sem:
                res = await _one(c, model, kind, random.Random(seed * 100_003 + i))
            results.append(res)
            done = len(results) - warmup
            if 0 < done <= 100 or done > requests - 100:
                rss.append((done, (await _metrics(c))["process_resident_memory_bytes"]))

        await asyncio.gather(*(bounded(k, i) for i, k in enumerate(kinds[:warmup])))
        t0 = time.perf_counter()
        await asyncio.gather(*(bounded(k, warmup + i) for i, k in enumerate(kinds[warmup:])))
        wall = time.perf_counter() - t0
        m = await _metrics(c)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (
            m.get("lmforge:kv_cache_used_blocks", 1) or m["lmforge:num_requests_running"]
        ):
            await asyncio.sleep(0.25)  # aborted requests are freed at the engine's next step
            m = await _metrics(c)
    m["server_5xx"] -= start["server_5xx"]
    return _report(results[warmup:], rss, m, wall, requests, concurrency)


def _report(
    results: list[dict[str, Any]],
    rss: list[tuple[int, float]],
    m: dict[str, float],
    wall: float,
    requests: int,
    concurrency: int,
) -> dict[str, Any]:
    by_kind: dict[str, dict[str, Any]] = {}
    failures: list[str] = []
    for r in results:
        k = by_kind.setdefault(r["kind"], {"n": 0, "status": {}, "lat": []})
        k["n"] += 1
        k["status"][str(r["status"])] = k["status"].get(str(r["status"]), 0) + 1
        if r["status"] == 200:
            k["lat"].append(r["s"])
        st = r["status"]
        if isinstance(st, int) and st >= 500 and st != 503:
            failures.append(f"{r['kind']}: HTTP {st}")
        elif r["kind"] == "bad" and not (isinstance(st, int) and 400 <= st < 500):
            failures.append(f"bad request answered {st}")
        elif r["kind"] != "bad" and st not in (200, 429, 503, "dropped"):
            failures.append(f"{r['kind']}: {st}")
        if r.get("check"):
            failures.append(r["check"])
    for k in by_kind.values():
        lat = sorted(k.pop("lat"))
        if lat:
            k["p50_ms"] = round(1e3 * statistics.median(lat), 1)
            k["p99_ms"] = round(1e3 * lat[min(len(lat) - 1, int(0.99 * len(lat)))], 1)
    first = [b for d, b in rss if d <= 100]
    last = [b for d, b in rss if d > requests - 100]
    growth = statistics.mean(last) / statistics.mean(first) - 1 if first and last else 0.0
    used = m.get("lmforge:kv_cache_used_blocks")
    if used is None:
        failures.append("/metrics has no lmforge:kv_cache_used_blocks")
    elif used:
        failures.append(f"{used:.0f} KV blocks still held with the server idle")
    if m["server_5xx"]:
        failures.append(f"the server counted {m['server_5xx']:.0f} 5xx answers (see its log)")
    if growth > 0.10:
        failures.append(f"RSS grew {100 * growth:.1f}% from the first to the last 100 requests")
    ok = [r["s"] for r in results if r["status"] == 200]
    return {
        "requests": len(results),
        "concurrency": concurrency,
        "wall_s": round(wall, 1),
        "req_per_s": round(len(results) / wall, 2),
        "p50_ms": round(1e3 * statistics.median(ok), 1) if ok else None,
        "p99_ms": round(1e3 * sorted(ok)[min(len(ok) - 1, int(0.99 * len(ok)))], 1) if ok else None,
        "kv_blocks_used_idle": used,
        "server_5xx": m["server_5xx"],
        "rss_first100_mb": round(statistics.mean(first) / 2**20, 1) if first else None,
        "rss_last100_mb": round(statistics.mean(last) / 2**20, 1) if last else None,
        "rss_growth_pct": round(100 * growth, 2),
        "kinds": by_kind,
        "failures": failures,
        "load_average": os.getloadavg(),
    }


def _start_server(threads: int | None, concurrency: int) -> tuple[str, subprocess.Popen]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "lmforge.cli", "serve", "--port", str(port), "--no-embeddings",
           "--max-num-seqs", "16", "--max-queue", str(2 * concurrency), "--api-key", "sk-soak",
           "--no-console"] + (["--threads", str(threads)] if threads else [])  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"server exited ({proc.returncode}): {' '.join(cmd)}"
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                return url, proc
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    proc.terminate()
    raise TimeoutError(f"{url}: server not up after 600 s")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", help="a running server (default: start `lmforge serve`)")
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--api-key", default="sk-soak")
    ap.add_argument("--requests", type=int, default=500)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--warmup", type=int, default=32, help="requests before the RSS baseline")
    ap.add_argument("--threads", type=int, help="server torch threads (started server only)")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    assert a.requests >= 100, "--requests must be >= 100 (RSS compares the first and last 100)"
    proc = None
    url = a.url
    if url is None:
        url, proc = _start_server(a.threads, a.concurrency)
    try:
        rep = asyncio.run(
            soak(url, a.model, a.requests, a.concurrency, a.seed, a.api_key, a.warmup)
        )
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(60)
    print(json.dumps(rep, indent=1))
    return 1 if rep["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
