"""The endpoints as the official openai client uses them, against a tiny model."""

import base64

import httpx
import numpy as np
import openai
from tests.serve.conftest import KEY, Running


def test_models_lists_llm_and_embedder(client: openai.OpenAI) -> None:
    ids = [m.id for m in client.models.list().data]
    assert ids == ["tiny", "all-MiniLM-L6-v2"]


def test_retrieve_model_and_unknown_id(client: openai.OpenAI) -> None:
    m = client.models.retrieve("tiny")
    assert (m.id, m.object, m.owned_by) == ("tiny", "model", "lmforge")
    assert client.models.retrieve("all-MiniLM-L6-v2").id == "all-MiniLM-L6-v2"
    try:
        client.models.retrieve("gpt-4o")
    except openai.NotFoundError as e:
        assert e.body["code"] == "model_not_found" and "tiny" in e.body["message"]
    else:
        raise AssertionError("an unknown model id must be a 404")


def test_stream_options_without_stream_is_a_400(client: openai.OpenAI) -> None:
    kw = {"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
    try:
        client.chat.completions.create(**kw, stream_options={"include_usage": True})
    except openai.BadRequestError as e:
        assert e.body["param"] == "stream_options" and "stream" in e.body["message"]
    else:
        raise AssertionError("stream_options without stream must be refused")


def test_chat_non_streaming_usage_and_seed(client: openai.OpenAI) -> None:
    kw = {"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 6}
    a = client.chat.completions.create(**kw, temperature=0.9, seed=7)
    b = client.chat.completions.create(**kw, temperature=0.9, seed=7)
    assert a.object == "chat.completion" and a.choices[0].message.role == "assistant"
    assert a.choices[0].message.content == b.choices[0].message.content
    assert a.choices[0].finish_reason in ("stop", "length")
    u = a.usage
    assert u.completion_tokens <= 6 and u.total_tokens == u.prompt_tokens + u.completion_tokens


def test_chat_stream_matches_non_stream_and_reports_usage(client: openai.OpenAI) -> None:
    kw = {"model": "tiny", "messages": [{"role": "user", "content": "count"}], "max_tokens": 8}
    full = client.chat.completions.create(**kw, temperature=0)
    chunks = list(
        client.chat.completions.create(
            **kw, temperature=0, stream=True, stream_options={"include_usage": True}
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == full.choices[0].message.content
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "length"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 8
    assert chunks[-1].usage.prompt_tokens == full.usage.prompt_tokens


def test_chat_logprobs(client: openai.OpenAI) -> None:
    r = client.chat.completions.create(
        model="tiny", messages=[{"role": "user", "content": "x"}], max_tokens=4,
        temperature=0, logprobs=True, top_logprobs=3,
    )  # fmt: skip
    content = r.choices[0].logprobs.content
    assert len(content) == r.usage.completion_tokens
    for t in content:
        assert len(t.top_logprobs) == 3 and t.logprob <= 0
        assert t.logprob == max(x.logprob for x in t.top_logprobs)  # greedy picks the best


def test_completion_n_stop_and_token_prompts(client: openai.OpenAI) -> None:
    r = client.completions.create(
        model="tiny", prompt=["The json module", "Counter"], n=2, max_tokens=5,
        temperature=1.0, seed=3, logprobs=2,
    )  # fmt: skip
    assert sorted(c.index for c in r.choices) == [0, 1, 2, 3]
    assert all(len(c.logprobs.tokens) == len(c.logprobs.token_logprobs) for c in r.choices)
    assert all(len(c.logprobs.top_logprobs[0]) == 2 for c in r.choices)
    ids = client.completions.create(model="tiny", prompt=[5, 6, 7], max_tokens=3)
    assert ids.usage.prompt_tokens == 3
    greedy = client.completions.create(model="tiny", prompt="abc", max_tokens=8, temperature=0)
    text = greedy.choices[0].text
    assert len(text) > 1
    stop = text[1:3] if text[1:3].strip() else text[1]
    cut = client.completions.create(
        model="tiny", prompt="abc", max_tokens=8, temperature=0, stop=[stop]
    )
    assert cut.choices[0].finish_reason == "stop" and stop not in cut.choices[0].text
    assert text.startswith(cut.choices[0].text)


def test_completion_stream(client: openai.OpenAI) -> None:
    full = client.completions.create(model="tiny", prompt="Counter", max_tokens=6, temperature=0)
    parts = client.completions.create(
        model="tiny", prompt="Counter", max_tokens=6, temperature=0, stream=True
    )
    assert "".join(c.choices[0].text for c in parts) == full.choices[0].text


def test_embeddings_float_and_base64(client: openai.OpenAI, tiny_server: Running) -> None:
    r = client.embeddings.create(model="all-MiniLM-L6-v2", input=["a cat", "a dog"])  # base64
    v = np.array([d.embedding for d in r.data])
    assert v.shape == (2, 384) and np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-4)
    raw = httpx.post(
        tiny_server.url + "/v1/embeddings",
        json={"model": "all-MiniLM-L6-v2", "input": "a cat", "encoding_format": "float"},
        headers={"Authorization": f"Bearer {KEY}"},
    ).json()
    assert np.allclose(raw["data"][0]["embedding"], v[0], atol=1e-5)
    assert raw["usage"]["prompt_tokens"] > 2
    b64 = httpx.post(
        tiny_server.url + "/v1/embeddings",
        json={"model": "all-MiniLM-L6-v2", "input": "a dog", "encoding_format": "base64"},
        headers={"Authorization": f"Bearer {KEY}"},
    ).json()["data"][0]["embedding"]
    assert np.allclose(np.frombuffer(base64.b64decode(b64), dtype=np.float32), v[1], atol=1e-5)


def test_health_and_request_id(tiny_server: Running) -> None:
    r = httpx.get(tiny_server.url + "/health")
    assert r.status_code == 200 and r.json()["status"] == "ok"
    assert len(r.headers["x-request-id"]) == 24
