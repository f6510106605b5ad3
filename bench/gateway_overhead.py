"""Gateway proxy overhead: the same open-loop load directly to a mock upstream and through it.

Three processes, so none of them competes with another inside one event loop:
- the mock upstream: a raw asyncio HTTP/1.1 server (keep-alive, one fixed chat completion with
  usage), about 30 us of CPU per request, so the upstream is never the bottleneck;
- the gateway: `lmforge gateway serve` (cache off), as deployed;
- the load generator (this process): a raw asyncio HTTP/1.1 client over a pool of keep-alive
  connections, requests sent at fixed times (open loop) and each timed from its scheduled send,
  so a slow answer cannot hide the queue behind it.
Rounds alternate direct / gateway; overhead = gateway percentile - direct percentile. CPU per
request of each process comes from /proc (utime + stime), which load on the machine inflates
less than wall time.
"""

import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

BODY = json.dumps(
    {
        "model": "m",
        "messages": [{"role": "user", "content": "say hello to the benchmark"}],
        "max_tokens": 8,
    }
).encode()
ANSWER = json.dumps(
    {
        "id": "chatcmpl-mock",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "hello to the benchmark"},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9},
    }
).encode()


async def _read_message(r: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """(head, body) of one HTTP/1.1 message framed by Content-Length."""
    head = await r.readuntil(b"\r\n\r\n")
    n = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            n = int(line[15:])
    return head, (await r.readexactly(n) if n else b"")


def serve_mock(port: int) -> None:
    """Answer every POST with ANSWER, forever (keep-alive)."""
    resp = (
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n"
        % len(ANSWER)
    ) + ANSWER

    async def conn(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            while True:
                await _read_message(r)
                w.write(resp)
        except (asyncio.IncompleteReadError, ConnectionError):
            w.close()

    async def main() -> None:
        srv = await asyncio.start_server(conn, "127.0.0.1", port, backlog=1024)
        await srv.serve_forever()

    asyncio.run(main())


class Pool:
    """Keep-alive connections to one host; one request in flight per connection."""

    def __init__(self, port: int, path: str, size: int) -> None:
        self.port, self.size = port, size
        self.req = (
            b"POST %s HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\n\r\n" % (path.encode(), len(BODY))
        ) + BODY
        self.idle: asyncio.Queue = asyncio.Queue()

    async def open(self) -> None:
        for _ in range(self.size):
            self.idle.put_nowait(await asyncio.open_connection("127.0.0.1", self.port))

    async def post(self) -> bytes:
        r, w = await self.idle.get()
        try:
            w.write(self.req)
            head, body = await _read_message(r)
        except BaseException:
            w.close()
            self.idle.put_nowait(await asyncio.open_connection("127.0.0.1", self.port))
            raise
        self.idle.put_nowait((r, w))
        assert head.startswith(b"HTTP/1.1 200"), head + body
        return body

    async def close(self) -> None:
        while not self.idle.empty():
            self.idle.get_nowait()[1].close()


async def open_loop(port: int, rate: float, n: int, conns: int) -> np.ndarray:
    """Latency (s) of n requests sent at `rate`/s, each timed from its scheduled send time."""
    pool = Pool(port, "/v1/chat/completions", conns)
    await pool.open()
    lat = np.zeros(n)
    for _ in range(50):  # warm up both sides
        await pool.post()
    t0 = time.perf_counter() + 0.05

    async def one(i: int) -> None:
        due = t0 + i / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        await pool.post()
        lat[i] = time.perf_counter() - due

    await asyncio.gather(*(one(i) for i in range(n)))
    await pool.close()
    return lat


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(port: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"port {port}: server exited"
        try:
            asyncio.run(asyncio.wait_for(_probe(port), 5))
            return
        except (TimeoutError, OSError, asyncio.IncompleteReadError):
            time.sleep(0.2)
    raise TimeoutError(port)


async def _probe(port: int) -> None:
    p = Pool(port, "/v1/chat/completions", 1)
    await p.open()
    await p.post()
    await p.close()


def cpu_s(pid: int) -> float:
    """utime + stime of a process, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(x: np.ndarray) -> dict[str, float]:
    return {f"p{q}": round(float(np.percentile(x, q)) * 1000, 3) for q in (50, 90, 99)}


def run_overhead(rate: float, n: int, rounds: int, conns: int = 32) -> dict:
    mport, gport = free_port(), free_port()
    tmp = Path(tempfile.mkdtemp(prefix="lmforge-gw-bench-"))
    cfg = tmp / "gateway.yaml"
    backend = {"name": "m", "kind": "openai", "url": f"http://127.0.0.1:{mport}/v1"}
    cfg.write_text(json.dumps({"backends": [backend], "cache": {"exact": False}, "port": gport}))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    mock = subprocess.Popen([sys.executable, __file__, str(mport)], env=env)
    gw_cmd = [sys.executable, "-m", "lmforge.cli", "gateway", "serve", "-c", str(cfg)]
    gw = subprocess.Popen([*gw_cmd, "--runs-dir", str(tmp / "runs")], env=env)
    try:
        wait_up(mport, mock)
        wait_up(gport, gw)
        d, g, gw_cpu, mock_cpu, me_cpu = [], [], 0.0, 0.0, 0.0
        for _ in range(rounds):  # A B A B
            d.append(asyncio.run(open_loop(mport, rate, n, conns)))
            c0, m0, s0 = cpu_s(gw.pid), cpu_s(mock.pid), time.process_time()
            g.append(asyncio.run(open_loop(gport, rate, n, conns)))
            gw_cpu += cpu_s(gw.pid) - c0
            mock_cpu += cpu_s(mock.pid) - m0
            me_cpu += time.process_time() - s0
    finally:
        for p in (gw, mock):
            p.terminate()
            p.wait(30)
    dd, gg = np.concatenate(d), np.concatenate(g)
    pd, pg = pct(dd), pct(gg)
    per = 1000 / (rounds * (n + 50))
    return {
        "rate_rps": rate,
        "requests_each": len(dd),
        "rounds": rounds,
        "connections": conns,
        "direct_ms": pd,
        "gateway_ms": pg,
        "overhead_ms": {k: round(pg[k] - pd[k], 3) for k in pd},
        "cpu_ms_per_request": {
            "gateway": round(gw_cpu * per, 3),
            "mock_upstream": round(mock_cpu * per, 3),
            "load_generator": round(me_cpu * per, 3),
        },
        "per_round_overhead_p50_ms": [
            round((np.median(b) - np.median(a)) * 1000, 3) for a, b in zip(d, g, strict=True)
        ],
    }


if __name__ == "__main__":  # the mock upstream's process
    serve_mock(int(sys.argv[1]))
