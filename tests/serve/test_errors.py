"""Error cases: OpenAI's shape, the right statuses, no stack traces."""

import threading
from pathlib import Path

import httpx
import openai
import pytest
from tests.serve.conftest import KEY, Running, start_server, tiny_cfg
from tests.serve.hooks import start_scanned

from lmforge.serve.server import loader

CHAT = {"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}


def _post(
    r: Running, path: str, body: object, key: str | None = KEY, **kw: object
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.post(r.url + path, json=body, headers=headers, timeout=60, **kw)


def _error(resp: httpx.Response, status: int) -> dict:
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    assert set(err) == {"message", "type", "param", "code"}
    assert "Traceback" not in resp.text
    return err


def test_auth(tiny_server: Running) -> None:
    assert _error(_post(tiny_server, "/v1/chat/completions", CHAT, key=None), 401)["type"] == (
        "authentication_error"
    )
    with pytest.raises(openai.AuthenticationError):
        tiny_server.client(key="sk-wrong").chat.completions.create(**CHAT)
    assert httpx.get(tiny_server.url + "/health").status_code == 200  # probes need no key


def test_unknown_model_and_invalid_fields(client: openai.OpenAI, tiny_server: Running) -> None:
    with pytest.raises(openai.NotFoundError) as e:
        client.chat.completions.create(**{**CHAT, "model": "gpt-4"})
    assert "gpt-4" in e.value.message and e.value.code == "model_not_found"
    err = _error(_post(tiny_server, "/v1/chat/completions", {**CHAT, "temperature": 5}), 400)
    assert err["param"] == "temperature" and "5" in err["message"]
    err = _error(
        _post(tiny_server, "/v1/completions", {"model": "tiny", "prompt": "x", "n": 0}), 400
    )
    assert err["param"] == "n"
    _error(_post(tiny_server, "/v1/chat/completions", {**CHAT, "messages": []}), 400)
    _error(_post(tiny_server, "/v1/chat/completions", {**CHAT, "stop": ["a"] * 5}), 400)
    bad = httpx.post(
        tiny_server.url + "/v1/completions",
        content=b"{nope",
        headers={"Authorization": f"Bearer {KEY}"},
    )
    assert "not valid JSON" in _error(bad, 400)["message"]
    assert _error(
        httpx.get(tiny_server.url + "/v1/nothing", headers={"Authorization": f"Bearer {KEY}"}), 404
    )


def test_context_length_names_both_numbers(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as e:
        client.completions.create(model="tiny", prompt="hello there", max_tokens=600)
    msg = e.value.message
    assert "maximum context length is 512 tokens" in msg and "600 in the completion" in msg
    assert e.value.code == "context_length_exceeded"


def test_oversized_body_is_413(tiny_server: Running) -> None:
    big = {**CHAT, "messages": [{"role": "user", "content": "x" * 1_100_000}]}
    assert _error(_post(tiny_server, "/v1/chat/completions", big), 413)
    chunked = httpx.post(  # no Content-Length: counted while reading
        tiny_server.url + "/v1/chat/completions",
        content=iter([b"x" * 600_000, b"x" * 600_000]),
        headers={"Authorization": f"Bearer {KEY}"},
    )
    assert "exceeds" in _error(chunked, 413)["message"]


@pytest.fixture
def hooked(tiny_llama_dir: Path):
    r, scanner = start_scanned(tiny_cfg(tiny_llama_dir, max_num_seqs=1, max_queue=0))
    yield r, scanner
    r.stop()


def test_queue_full_is_429_with_retry_after(hooked) -> None:
    r, scanner = hooked
    scanner.hold = threading.Event()  # the first request holds its slot in the output scan
    first = threading.Thread(target=_post, args=(r, "/v1/chat/completions", CHAT))
    first.start()
    assert scanner.holding.wait(30)
    resp = _post(r, "/v1/chat/completions", CHAT)
    assert _error(resp, 429)["type"] == "rate_limit_error" and resp.headers["retry-after"] == "1"
    scanner.hold.set()
    first.join(30)
    scanner.hold = None
    assert _post(r, "/v1/chat/completions", CHAT).status_code == 200
    with pytest.raises(openai.BadRequestError):  # more sequences than the server runs at once
        r.client().chat.completions.create(**CHAT, n=2)


def test_scanner_bug_is_500_without_trace(hooked) -> None:
    r, scanner = hooked
    scanner.crash = True
    err = _error(_post(r, "/v1/chat/completions", CHAT), 500)
    assert "internal error" in err["message"] and "passwd" not in err["message"]


def test_loading_is_503(tiny_llama_dir: Path) -> None:
    cfg = tiny_cfg(tiny_llama_dir)
    go = threading.Event()

    def slow_load():
        go.wait(60)
        return loader(cfg)

    r = start_server(cfg, slow_load, ready=False)
    try:
        assert httpx.get(r.url + "/health").json()["status"] == "loading"
        resp = _post(r, "/v1/chat/completions", CHAT)
        assert _error(resp, 503)["code"] == "loading" and resp.headers["retry-after"]
        go.set()
        r.wait_idle(60)
        assert _post(r, "/v1/chat/completions", CHAT).status_code == 200
    finally:
        go.set()
        r.stop()
