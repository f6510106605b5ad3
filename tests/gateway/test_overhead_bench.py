"""The overhead benchmark's raw mock upstream and load generator speak real HTTP/1.1: a
gateway in front of the mock relays its answer (with billing), and the open-loop generator
gets one latency per request. No timing is asserted."""

import asyncio
import socket
import sys
import threading
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parents[2] / "bench"))

import gateway_overhead as go


def start_mock() -> int:
    port = go.free_port()
    threading.Thread(target=go.serve_mock, args=(port,), daemon=True).start()
    for _ in range(500):
        try:
            socket.create_connection(("127.0.0.1", port), 0.1).close()
            return port
        except OSError:
            threading.Event().wait(0.01)
    raise AssertionError("mock did not start")


def test_gateway_relays_the_raw_mock_and_the_generator_times_each_request(
    gateway: Any,
) -> None:
    port = start_mock()
    lat = asyncio.run(go.open_loop(port, rate=500, n=40, conns=4))
    assert lat.shape == (40,) and (lat > 0).all()
    backend = {"name": "m", "kind": "openai", "url": f"http://127.0.0.1:{port}/v1"}
    g = gateway({"backends": [backend], "cache": {"exact": False}})
    with g.client() as c:
        r = c.post("/chat/completions", content=go.BODY)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["choices"][0]["message"]["content"] == "hello to the benchmark"
    assert out["lmforge"] == {"cache": "miss", "backend": "m", "cost": 0.0}
    assert g.gw.ledger.to_json()["lines"][0]["tokens_in"] == 5
