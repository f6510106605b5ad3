"""Benchmark `lmforge gateway`: proxy overhead, semantic cache, cascade cost/quality.

    .venv/bin/python bench/gateway.py --part overhead --rate 200 --requests 1000 --rounds 3
    .venv/bin/python bench/gateway.py --part cache
    .venv/bin/python bench/gateway.py --part cascade --items 120

overhead: the same open-loop load (requests sent at a fixed rate, each timed from its
scheduled send, so a slow answer cannot hide the queue behind it) goes to a fast mock upstream
directly and through the gateway (`lmforge gateway serve`, a separate process, as deployed),
alternating direct / gateway in rounds; overhead = gateway percentile - direct percentile.
cache: `gateway_cache.py`; cascade: `gateway_cascade.py`. Results go into a run directory.
"""

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

BODY = {
    "model": "m",
    "messages": [{"role": "user", "content": "say hello to the benchmark"}],
    "max_tokens": 8,
}


def serve_mock(port: int) -> None:
    import uvicorn

    from lmforge.gateway.testing import MockState, mock_app

    uvicorn.run(
        mock_app(MockState()), host="127.0.0.1", port=port, log_level="warning", access_log=False
    )


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(url: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"{url}: server exited"
        try:
            httpx.post(url, json=BODY, timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise TimeoutError(url)


async def open_loop(url: str, rate: float, n: int) -> np.ndarray:
    """Latency (s) of n requests sent at `rate`/s, each timed from its scheduled send time."""
    lat = np.zeros(n)
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(limits=limits, timeout=10) as c:
        for _ in range(20):  # warm the connections
            await c.post(url, json=BODY)
        t0 = time.perf_counter() + 0.05

        async def one(i: int) -> None:
            due = t0 + i / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            r = await c.post(url, json=BODY)
            assert r.status_code == 200, r.text
            lat[i] = time.perf_counter() - due

        await asyncio.gather(*(one(i) for i in range(n)))
    return lat


def cpu_s(pid: int) -> float:
    """utime + stime of a process, in seconds (load-independent cost of the work it did)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(x: np.ndarray) -> dict[str, float]:
    return {f"p{q}": round(float(np.percentile(x, q)) * 1000, 3) for q in (50, 90, 99)}


def run_overhead(rate: float, n: int, rounds: int) -> dict:
    mport, gport = free_port(), free_port()
    tmp = Path(tempfile.mkdtemp(prefix="lmforge-gw-bench-"))
    cfg = tmp / "gateway.yaml"
    cfg.write_text(
        json.dumps(
            {
                "backends": [
                    {"name": "m", "kind": "openai", "url": f"http://127.0.0.1:{mport}/v1"}
                ],
                "cache": {"exact": False},
                "port": gport,
            }
        )
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    mock = subprocess.Popen([sys.executable, __file__, "--serve-mock", str(mport)], env=env)
    gw = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lmforge.cli",
            "gateway",
            "serve",
            "-c",
            str(cfg),
            "--runs-dir",
            str(tmp / "runs"),
        ],
        env=env,
    )
    direct_url = f"http://127.0.0.1:{mport}/v1/chat/completions"
    gw_url = f"http://127.0.0.1:{gport}/v1/chat/completions"
    try:
        wait_up(direct_url, mock)
        wait_up(gw_url, gw)
        d, g, gw_cpu = [], [], 0.0
        for _ in range(rounds):  # A B A B
            d.append(asyncio.run(open_loop(direct_url, rate, n)))
            c0 = cpu_s(gw.pid)
            g.append(asyncio.run(open_loop(gw_url, rate, n)))
            gw_cpu += cpu_s(gw.pid) - c0
    finally:
        for p in (gw, mock):
            p.terminate()
            p.wait(30)
    dd, gg = np.concatenate(d), np.concatenate(g)
    pd, pg = pct(dd), pct(gg)
    return {
        "rate_rps": rate,
        "requests_each": len(dd),
        "rounds": rounds,
        "direct_ms": pd,
        "gateway_ms": pg,
        "overhead_ms": {k: round(pg[k] - pd[k], 3) for k in pd},
        "gateway_cpu_ms_per_request": round(1000 * gw_cpu / (rounds * (n + 20)), 3),
        "per_round_overhead_p50_ms": [
            round((np.median(b) - np.median(a)) * 1000, 3) for a, b in zip(d, g, strict=True)
        ],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--part", choices=["overhead", "cache", "cascade"], default="overhead")
    ap.add_argument("--rate", type=float, default=200.0)
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--items", type=int, default=120)
    ap.add_argument("--no-live", action="store_true", help="cascade: skip the live route run")
    ap.add_argument("--serve-mock", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--runs-dir", default=None)
    a = ap.parse_args()
    if a.serve_mock is not None:
        serve_mock(a.serve_mock)
        return
    import torch

    torch.set_num_threads(1)
    from lmforge.runs import start_run

    load0 = Path("/proc/loadavg").read_text().split()[:3]
    with start_run(f"bench-gateway-{a.part}", vars(a), a.runs_dir) as run:
        if a.part == "overhead":
            res = run_overhead(a.rate, a.requests, a.rounds)
        elif a.part == "cache":
            from gateway_cache import run_cache_bench

            res = run_cache_bench()
        else:
            from gateway_cascade import run_cascade

            res = run_cascade(a.items, 0, run.dir, live=not a.no_live)
            run.add_output(res["plot"], role="plot")
        res["loadavg_before_after"] = [load0, Path("/proc/loadavg").read_text().split()[:3]]
        res["threads"] = 1
        (run.dir / "results.json").write_text(json.dumps(res, indent=1, default=str))
        run.add_output(run.dir / "results.json", role="results")
    print(json.dumps(res, indent=1, default=str))
    print(f"run {run.id}")


if __name__ == "__main__":
    main()
