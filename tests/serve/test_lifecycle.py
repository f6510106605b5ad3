"""Disconnects abort and free KV blocks; metrics; the guard hook with a trivial scanner."""

import json
import logging
import threading
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from tests.serve.conftest import KEY, Running, tiny_cfg
from tests.serve.hooks import start_scanned, start_slow

LONG = {"model": "tiny", "prompt": "The json module", "max_tokens": 300, "ignore_eos": True}
AUTH = {"Authorization": f"Bearer {KEY}"}


def _abort_lines(caplog: pytest.LogCaptureFixture) -> list[dict]:
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name.endswith("requests")]
    return [x for x in lines if x.get("finish_reasons") == ["abort"]]


def test_stream_disconnect_aborts_and_frees_blocks(tiny_server: Running, caplog) -> None:
    caplog.set_level(logging.INFO, "lmforge.serve.requests")
    before = tiny_server.state.engine.stats().generation_tokens
    with httpx.stream("POST", tiny_server.url + "/v1/completions", json={**LONG, "stream": True},
                      headers=AUTH, timeout=30) as resp:  # fmt: skip
        lines = resp.iter_lines()
        assert next(lines).startswith("data: ")
        assert tiny_server.state.engine.stats().kv_usage > 0  # it holds blocks now
    tiny_server.wait_idle()  # no sequence, no KV block, no slot left behind
    assert tiny_server.state.engine.stats().generation_tokens - before < 300
    (line,) = _abort_lines(caplog)
    assert line["status"] == 499 and line["completion_tokens"] < 300


@pytest.fixture(scope="module")
def slow_server(tiny_llama_dir: Path):
    """Every engine step sleeps 50 ms: 400 forced tokens take >= 20 s on any machine."""
    r = start_slow(tiny_cfg(tiny_llama_dir), step_s=0.05)
    yield r
    r.stop()


def test_non_stream_disconnect_aborts(slow_server: Running, caplog) -> None:
    caplog.set_level(logging.INFO, "lmforge.serve.requests")
    # Long by construction (not by the machine's speed): the client gives up after 1 s, the
    # request needs >= 20 s of engine steps (the tiny model's context is 512 tokens).
    body = {**LONG, "max_tokens": 400}
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(slow_server.url + "/v1/completions", json=body, headers=AUTH, timeout=1.0)
    slow_server.wait_idle()
    deadline = time.monotonic() + 5
    while not _abort_lines(caplog) and time.monotonic() < deadline:
        time.sleep(0.05)
    (line,) = _abort_lines(caplog)
    assert line["status"] == 499 and line["completion_tokens"] < 400


def test_metrics_are_exported(tiny_server: Running, client) -> None:
    client.chat.completions.create(
        model="tiny", messages=[{"role": "user", "content": "m"}], max_tokens=5
    )
    text = httpx.get(tiny_server.url + "/metrics").text
    fams = {f.name: f for f in text_string_to_metric_families(text)}
    for name in ("time_to_first_token_seconds", "inter_token_latency_seconds",
                 "e2e_request_latency_seconds", "request_queue_time_seconds",
                 "num_requests_running", "num_requests_waiting", "kv_cache_usage_perc",
                 "prefix_cache_hits", "prefix_cache_queries", "prompt_tokens",
                 "generation_tokens"):  # fmt: skip
        assert f"lmforge:{name}" in fams, name
    assert "lmforge:generation_tokens_total" in text and "lmforge:prefix_cache_hits_total" in text
    assert "process_resident_memory_bytes" in text
    gen = next(iter(fams["lmforge:generation_tokens"].samples)).value
    assert gen >= 5
    ttft = {s.name: s.value for s in fams["lmforge:time_to_first_token_seconds"].samples}
    assert ttft["lmforge:time_to_first_token_seconds_count"] >= 1


@pytest.fixture(scope="module")
def guarded(tiny_llama_dir: Path):
    r, scanner = start_scanned(tiny_cfg(tiny_llama_dir))
    yield r, scanner
    r.stop()


def test_input_scanner_blocks_before_the_engine(guarded) -> None:
    r, _ = guarded
    before = r.state.engine.stats().prompt_tokens
    msgs = [{"role": "user", "content": "a forbidden thing"}]
    body = {"model": "tiny", "messages": msgs}
    resp = httpx.post(r.url + "/v1/chat/completions", headers=AUTH, json=body)
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "content_policy_violation"
    assert r.state.engine.stats().prompt_tokens == before


def test_output_scanner_rewrites_and_blocks(guarded) -> None:
    r, scanner = guarded
    c = r.client()
    kw = {
        "model": "tiny",
        "prompt": "abc",
        "max_tokens": 12,
        "temperature": 0,
        "extra_body": {"ignore_eos": True},
    }
    plain = c.completions.create(**kw).choices[0].text
    scanner.output = "upper"
    try:
        assert c.completions.create(**kw).choices[0].text == plain.upper()
        streamed = "".join(x.choices[0].text for x in c.completions.create(**kw, stream=True))
        assert streamed == plain.upper()
        scanner.output = "block"
        done = c.completions.create(**kw).choices[0]
        assert done.finish_reason == "content_filter" and done.text == ""
        chunks = list(c.completions.create(**kw, stream=True))
        assert chunks[-1].choices[0].finish_reason == "content_filter"
        assert len("".join(x.choices[0].text for x in chunks)) <= 3
    finally:
        scanner.output = "pass"
    r.wait_idle()


def test_concurrent_streams_interleave(tiny_server: Running) -> None:
    out: list[str] = []

    def one() -> None:
        c = tiny_server.client()
        s = c.completions.create(model="tiny", prompt="x", max_tokens=20, stream=True, seed=1)
        out.append("".join(x.choices[0].text for x in s))

    threads = [threading.Thread(target=one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(out) == 4 and len(set(out)) == 1  # same seed, same text, whatever the batch
