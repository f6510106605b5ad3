"""The gateway end to end against mock upstreams over loopback: routing, faults, budgets, cache."""

import json
import time

import httpx
import pytest
from tests.gateway.conftest import chat


def one_backend(url: str, **kw) -> dict:
    return {
        "backends": [
            {"name": "m", "kind": "openai", "url": url, "price_in": 1.0, "price_out": 2.0}
        ],
        **kw,
    }


def two_backends(url1: str, url2: str, **kw) -> dict:
    return {
        "backends": [
            {"name": "a", "kind": "openai", "url": url1, "price_in": 1.0},
            {"name": "b", "kind": "openai", "url": url2, "price_in": 10.0},
        ],
        "models": [{"name": "m", "policy": "fixed", "backends": ["a", "b"]}],
        **kw,
    }


def test_unknown_model_is_404_listing_available(mock, gateway) -> None:
    _, url = mock
    r = gateway(one_backend(url)).client().post("/chat/completions", json=chat(model="gpt-9"))
    assert r.status_code == 404
    err = r.json()["error"]
    assert err["code"] == "model_not_found" and "available: m" in err["message"]


def test_answer_is_billed_from_usage_and_marked(mock, gateway) -> None:
    _, url = mock
    g = gateway(one_backend(url))
    r = g.client().post("/chat/completions", json=chat())
    assert r.status_code == 200 and r.headers["x-lmforge-backend"] == "m"
    body = r.json()
    assert body["choices"][0]["message"]["content"] == "hello there world"
    u = body["usage"]
    assert body["lmforge"]["cost"] == pytest.approx(
        (u["prompt_tokens"] + 2 * u["completion_tokens"]) / 1e6
    )
    ln = g.gw.ledger.lines[("anonymous", "m")]
    assert (ln.requests, ln.tokens_in, ln.tokens_out) == (
        1,
        u["prompt_tokens"],
        u["completion_tokens"],
    )


def test_retries_honour_retry_after_and_bill_once(mock, gateway) -> None:
    st, url = mock
    g = gateway(one_backend(url, reliability={"attempts": 3, "backoff_s": 0.01}))
    st.faults.extend([(429, "2"), (503, None)])
    r = g.client().post("/chat/completions", json=chat())
    assert r.status_code == 200 and st.calls == 3
    assert g.gw.delays[0] >= 2.0  # Retry-After: 2 wins over the 10 ms backoff
    assert g.gw.ledger.lines[("anonymous", "m")].requests == 1


def test_fallback_then_503_naming_every_failed_backend(mock, mock2, gateway) -> None:
    (s1, u1), (s2, u2) = mock, mock2
    g = gateway(two_backends(u1, u2, reliability={"attempts": 2}))
    s1.faults.extend([(500, None)] * 2)
    r = g.client().post("/chat/completions", json=chat())
    assert r.status_code == 200 and r.headers["x-lmforge-backend"] == "b"
    s1.faults.extend([(502, None)] * 2)
    s2.faults.extend([(503, None)] * 2)
    r = g.client().post("/chat/completions", json=chat(text="other"))
    assert r.status_code == 503
    msg = r.json()["error"]["message"]
    assert "a (HTTP 502)" in msg and "b (HTTP 503)" in msg
    assert ("anonymous", "a") not in g.gw.ledger.lines  # failed attempts bill nothing


def test_backend_down_falls_back_and_breaker_opens(mock, gateway) -> None:
    _, url = mock
    dead = "http://127.0.0.1:9/v1"  # discard port: connection refused
    cfg = two_backends(dead, url, reliability={"attempts": 1, "breaker_failures": 2})
    g = gateway(cfg)
    c = g.client()
    for i in range(3):
        assert c.post("/chat/completions", json=chat(text=f"q{i}")).status_code == 200
    assert g.gw.backends["a"].breaker.state == "open"
    assert c.get("/../health").json()["backends"]["a"] == "open"


def test_4xx_from_upstream_is_not_retried(mock, gateway) -> None:
    st, url = mock
    g = gateway(one_backend(url))
    st.faults.append((400, None))
    r = g.client().post("/chat/completions", json=chat())
    assert r.status_code == 400 and st.calls == 1 and "backend m" in r.json()["error"]["message"]


def test_auth_and_budget_429(mock, gateway, monkeypatch) -> None:
    _, url = mock
    monkeypatch.setenv("GW_TEST_KEY", "sk-team-a")
    g = gateway(
        one_backend(url, keys=[{"name": "team-a", "key_env": "GW_TEST_KEY", "budget_requests": 2}])
    )
    assert g.client().post("/chat/completions", json=chat()).status_code == 401
    assert g.client("wrong").post("/chat/completions", json=chat()).status_code == 401
    c = g.client("sk-team-a")
    assert c.post("/chat/completions", json=chat(text="one")).status_code == 200
    assert c.post("/chat/completions", json=chat(text="two")).status_code == 200
    r = c.post("/chat/completions", json=chat(text="three"))
    assert r.status_code == 429
    assert "'team-a' has used 2 of its 2 requests (budget_requests)" in r.json()["error"]["message"]


def test_exact_cache_hit_marked_in_header_body_and_metrics(mock, gateway) -> None:
    st, url = mock
    g = gateway(one_backend(url))
    c = g.client()
    body = chat(temperature=0)
    first = c.post("/chat/completions", json=body)
    again = c.post("/chat/completions", json={**body, "user": "someone-else"})
    assert (
        first.headers["x-lmforge-cache"] == "miss" and again.headers["x-lmforge-cache"] == "exact"
    )
    assert again.json()["lmforge"]["cache"] == "exact" and st.calls == 1
    assert again.json()["choices"] == first.json()["choices"]
    sampled = chat(temperature=1.0)
    c.post("/chat/completions", json=sampled)
    assert c.post("/chat/completions", json=sampled).headers["x-lmforge-cache"] == "miss"
    m = httpx.get(g.url + "/metrics").text
    assert 'lmforge_gateway:cache_hits_total{kind="exact"} 1.0' in m
    assert g.gw.ledger.lines[("anonymous", "cache")].cache_hits == 1


def test_stream_passthrough_usage_only_when_asked(mock, gateway) -> None:
    st, url = mock
    g = gateway(one_backend(url))
    c = g.client()
    with c.stream("POST", "/chat/completions", json=chat(stream=True)) as r:
        lines = [x for x in r.iter_lines() if x.startswith("data:")]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(x[5:]) for x in lines[:-1]]
    assert (
        "".join(ch["choices"][0]["delta"].get("content", "") for ch in chunks)
        == "hello there world"
    )
    assert not any(ch.get("usage") for ch in chunks)  # the client did not ask
    assert st.bodies[-1]["stream_options"] == {"include_usage": True}  # but we did
    with c.stream(
        "POST", "/chat/completions", json=chat(stream=True, stream_options={"include_usage": True})
    ) as r:
        usage = [json.loads(x[5:]) for x in r.iter_lines() if x.startswith("data: {")][-1]["usage"]
    assert usage["completion_tokens"] == 3
    assert g.gw.ledger.lines[("anonymous", "m")].requests == 2


def test_client_disconnect_reaches_upstream(mock, gateway, tiny_llama_dir) -> None:
    st, url = mock
    st.word_delay_s = 0.2
    cfg = one_backend(url)
    cfg["backends"][0]["tokenizer"] = str(tiny_llama_dir)  # counts what the stream carried
    g = gateway(cfg)
    long = " ".join(f"w{i}" for i in range(6))
    with g.client().stream("POST", "/chat/completions", json=chat(text=long, stream=True)) as r:
        for line in r.iter_lines():
            if line.startswith("data: {"):
                break  # leave after the first chunk
    deadline = time.monotonic() + 10
    while st.disconnects == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert st.disconnects == 1
    while ("anonymous", "m") not in g.gw.ledger.lines and time.monotonic() < deadline:
        time.sleep(0.05)
    ln = g.gw.ledger.lines[("anonymous", "m")]
    assert ln.requests == 1 and 1 <= ln.tokens_out < 6  # billed for what was produced


def test_weighted_latency_cheapest_policies(mock, mock2, gateway) -> None:
    (_, u1), (_, u2) = mock, mock2
    cfg = {
        "backends": [
            {"name": "a", "kind": "openai", "url": u1, "price_in": 5.0, "quality": 0.9},
            {"name": "b", "kind": "openai", "url": u2, "price_in": 1.0, "quality": 0.5},
        ],
        "models": [
            {"name": "w", "policy": "weighted", "backends": ["a", "b"], "weights": [0, 1]},
            {"name": "cheap", "policy": "cheapest", "backends": ["a", "b"], "min_quality": 0.8},
            {"name": "fast", "policy": "latency", "backends": ["a", "b"]},
        ],
        "cache": {"exact": False},
    }
    g = gateway(cfg)
    c = g.client()
    assert c.post("/chat/completions", json=chat(model="w")).headers["x-lmforge-backend"] == "b"
    assert c.post("/chat/completions", json=chat(model="cheap")).headers["x-lmforge-backend"] == "a"
    g.gw.backends["a"].ewma_s, g.gw.backends["b"].ewma_s = 0.5, 0.01
    assert c.post("/chat/completions", json=chat(model="fast")).headers["x-lmforge-backend"] == "b"
    models = {m["id"] for m in c.get("/models").json()["data"]}
    assert models == {"a", "b", "w", "cheap", "fast"}


@pytest.mark.parametrize("margin,escalated", [(3.0, False), (0.1, True)])
def test_cascade_margin_escalates_on_low_confidence(mock, mock2, gateway, margin, escalated):
    (s1, u1), (_, u2) = mock, mock2
    s1.margin = margin
    cfg = two_backends(u1, u2)
    cfg["models"] = [{"name": "m", "policy": "cascade", "backends": ["a", "b"], "threshold": 1.0}]
    g = gateway(cfg)
    r = g.client().post("/chat/completions", json=chat())
    assert r.headers["x-lmforge-backend"] == ("b" if escalated else "a")
    assert r.json()["choices"][0]["logprobs"] is None  # asked by us, stripped for the client
    assert s1.bodies[-1]["top_logprobs"] == 2
    billed = {b for (_, b) in g.gw.ledger.lines}
    assert billed == ({"a", "b"} if escalated else {"a"})  # the cheap try is billed too


def test_cascade_selfcheck_reads_yes_probability(mock, mock2, gateway) -> None:
    (s1, u1), (_, u2) = mock, mock2
    cfg = two_backends(u1, u2)
    cfg["models"] = [
        {
            "name": "m",
            "policy": "cascade",
            "signal": "selfcheck",
            "backends": ["a", "b"],
            "threshold": 0.5,
        }
    ]
    g = gateway(cfg)
    # the mock echoes the last words of the check prompt: "...one word, yes or no." -> top token
    # "Reply" != yes/no, so P(yes) is undefined and the cascade escalates.
    r = g.client().post("/chat/completions", json=chat())
    assert r.headers["x-lmforge-backend"] == "b"
    assert "Is the proposed answer correct?" in s1.bodies[-1]["messages"][0]["content"]
    assert s1.bodies[-1]["max_tokens"] == 1
