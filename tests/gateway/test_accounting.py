"""Streamed requests cost exactly what the same requests cost unstreamed, on every backend kind:
an in-process engine, an `lmforge serve` instance, and an OpenAI URL that sends no usage in its
streams (so the gateway counts locally with the backend's tokenizer)."""

import json

import pytest
from tests.gateway.conftest import chat
from tests.serve.conftest import KEY, start_server, tiny_cfg
from transformers import AutoTokenizer

PROMPTS = [
    "hello there",
    "the quick brown fox jumps",
    "count to five",
    "why is the sky blue",
    "a b c d e f g",
]


@pytest.fixture
def serve_url(tiny_llama_dir):
    r = start_server(tiny_cfg(tiny_llama_dir))
    yield r.url + "/v1"
    r.stop()


def test_streamed_equals_unstreamed_cost_on_all_backends(
    tiny_llama_dir, serve_url, mock, gateway, monkeypatch
) -> None:
    st, mock_url = mock
    st.tokenizer = AutoTokenizer.from_pretrained(tiny_llama_dir)
    st.stream_usage = False  # like upstreams that ignore stream_options
    monkeypatch.setenv("GW_SERVE_KEY", KEY)
    price = {"price_in": 3.0, "price_out": 7.0}
    cfg = {
        "backends": [
            {
                "name": "engine",
                "kind": "engine",
                "model": str(tiny_llama_dir),
                "threads": 1,
                "kv_cache_gb": 0.01,
                **price,
            },
            {
                "name": "serve",
                "kind": "serve",
                "url": serve_url,
                "model": "tiny",
                "api_key_env": "GW_SERVE_KEY",
                **price,
            },
            {
                "name": "openai",
                "kind": "openai",
                "url": mock_url,
                "tokenizer": str(tiny_llama_dir),
                **price,
            },
        ],
        "cache": {"exact": False},
    }
    g = gateway(cfg)
    c = g.client()
    same, total = 0, 0
    for backend in ("engine", "serve", "openai"):
        for p in PROMPTS:
            body = chat(p, model=backend, temperature=0, max_tokens=8)
            r = c.post("/chat/completions", json=body)
            assert r.status_code == 200, r.text
            plain = r.json()["lmforge"]["cost"]
            before = g.gw.ledger.lines[("anonymous", backend)].cost
            with c.stream("POST", "/chat/completions", json={**body, "stream": True}) as s:
                text = "".join(
                    (json.loads(x[5:])["choices"] or [{}])[0].get("delta", {}).get("content") or ""
                    for x in s.iter_lines()
                    if x.startswith("data: {")
                )
            streamed = g.gw.ledger.lines[("anonymous", backend)].cost - before
            assert text == r.json()["choices"][0]["message"]["content"]
            total += 1
            same += streamed == pytest.approx(plain, rel=1e-12, abs=0)
    assert same == total == 15
    assert g.gw.ledger.lines[("anonymous", "openai")].local_counts == len(PROMPTS)
    assert g.gw.ledger.lines[("anonymous", "engine")].local_counts == 0


def test_disconnect_aborts_the_in_process_engine(tiny_llama_dir, gateway) -> None:
    import time

    cfg = {
        "backends": [
            {
                "name": "engine",
                "kind": "engine",
                "model": str(tiny_llama_dir),
                "threads": 1,
                "kv_cache_gb": 0.01,
            }
        ]
    }
    g = gateway(cfg)
    body = chat("tell me a long story", model="engine", max_tokens=200, ignore_eos=True)
    with g.client().stream("POST", "/chat/completions", json={**body, "stream": True}) as r:
        for line in r.iter_lines():
            if line.startswith("data: {"):
                delta = (json.loads(line[5:])["choices"] or [{}])[0].get("delta") or {}
                if delta.get("content"):
                    break  # leave after the first generated text
    engine = g.gw.backends["engine"]._engine_state.engine
    deadline = time.monotonic() + 20
    while engine.engine.requests and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not engine.engine.requests and engine.stats().kv_usage == 0
    while ("anonymous", "engine") not in g.gw.ledger.lines and time.monotonic() < deadline:
        time.sleep(0.05)
    ln = g.gw.ledger.lines[("anonymous", "engine")]
    assert ln.requests == 1 and 0 < ln.tokens_out < 200  # billed for what was generated
