"""`POST /v1/rag/ask` through FastAPI's test client: `rag ask`'s pipeline, self-check per request.

A scripted generator makes the verdicts exact (what is dropped, kept, regenerated, refused);
the last test runs the route's own loader on the tiny engine, so the bridge to the served
engine and the generator-as-judge are exercised end to end.
"""

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.serve.conftest import KEY, tiny_cfg

from lmforge.engine import AsyncLLMEngine
from lmforge.rag.answer import NOT_IN_DOCS, build_prompt, check_citations
from lmforge.rag.config import RagConfig
from lmforge.rag.embed import Embedder
from lmforge.rag.factory import make_pipeline
from lmforge.rag.index import build_index
from lmforge.rag.verify import ConsistencyVerifier, OverlapVerifier
from lmforge.serve.app import create_app
from lmforge.serve.rag import RagService
from lmforge.serve.server import build_state, engine_config
from lmforge.serve.state import Loaded, ServerState

CATS = "# Cats\n\nCats eat fish, mice and commercial cat food. Milk upsets most adult cats.\n"
DOGS = "# Dogs\n\nDogs bark to warn their owners. Dogs need a walk twice every day.\n"
FIRST = "Cats eat fish [1]. Cats eat 12 whales [1]."
AGAIN = "Cats eat mice [1]. Cats drive cars [1]."
AUTH = {"Authorization": f"Bearer {KEY}"}
REGEN_MARK = "A previous answer made these statements"


class Scripted:
    """The first answer, or the second when asked again with the failures named."""

    tokenizer = None

    def __init__(self) -> None:
        self.prompts: list[str] = []

    def generate(self, prompt: str, max_tokens: int, stream: bool = False) -> Any:
        self.prompts.append(prompt)
        reply = AGAIN if REGEN_MARK in prompt else FIRST
        return iter([reply]) if stream else reply


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder()


@pytest.fixture(scope="module")
def rag_cfg(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> RagConfig:
    root = tmp_path_factory.mktemp("rag-route")
    (root / "docs").mkdir()
    (root / "docs" / "cats.md").write_text(CATS)
    (root / "docs" / "dogs.md").write_text(DOGS)
    cfg = RagConfig(docs=[root / "docs"], index=root / "index", top_k=2, candidates=10)
    build_index(cfg, embedder)
    return cfg


def ready(state: ServerState) -> TestClient:
    client = TestClient(create_app(state))
    client.__enter__()
    deadline = time.monotonic() + 120
    while client.get("/health").status_code != 200:
        assert state.load_error is None, state.load_error
        assert time.monotonic() < deadline, "server did not load"
        time.sleep(0.05)
    return client


@pytest.fixture(scope="module")
def scripted(
    tiny_llama_dir: Path, rag_cfg: RagConfig, embedder: Embedder, tmp_path_factory
) -> Iterator[tuple[TestClient, ServerState, Scripted]]:
    """Default policy drop; the overlap judge (with the number/name veto) needs no model."""
    cfg = tiny_cfg(tiny_llama_dir, rag_index=rag_cfg.index, self_check="drop")
    gen = Scripted()

    def load() -> Loaded:
        pipeline = make_pipeline(rag_cfg, embedder, gen)
        judge = lambda: ConsistencyVerifier(OverlapVerifier(0.9))  # noqa: E731
        service = RagService(pipeline, "drop", judge)
        return Loaded(AsyncLLMEngine(engine_config(cfg)), rag=service)

    state = build_state(cfg, load)
    state.run_dir = tmp_path_factory.mktemp("serve-run")
    client = ready(state)
    yield client, state, gen
    client.__exit__(None, None, None)


def ask(client: TestClient, **body: Any) -> dict[str, Any]:
    r = client.post("/v1/rag/ask", json={"question": "What do cats eat?", **body}, headers=AUTH)
    assert r.status_code == 200, r.text
    return r.json()


def records(state: ServerState) -> list[dict[str, Any]]:
    assert state.run_dir is not None
    path = state.run_dir / "self_check.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines()] if path.is_file() else []


def test_default_drop_keeps_supported_sentences_with_evidence_and_logs_them(scripted) -> None:
    client, state, _ = scripted
    before = len(records(state))
    r = ask(client)
    assert r["object"] == "rag.answer" and r["answer"] == "Cats eat fish [1]."
    assert r["citations"] == [1] and r["grounded"] and r["sources"][0]["source"].endswith("cats.md")
    report = r["metadata"]["self_check"]
    assert report["policy"] == "drop" and not report["refused"] and not report["regenerated"]
    verdicts = report["rounds"][0]["verdicts"]
    assert [(v["claim"], v["supported"]) for v in verdicts] == [
        ("Cats eat fish.", True),
        ("Cats eat 12 whales.", False),
    ]
    kept = verdicts[0]
    assert kept["chunk"] == 1 and "fish" in kept["evidence"] and kept["start"] < kept["end"]
    assert report["dropped"] == ["Cats eat 12 whales."]
    logged = records(state)
    assert len(logged) == before + 1
    assert logged[-1]["id"] == r["id"] and logged[-1]["rounds"] == report["rounds"]
    assert logged[-1]["answer"] == r["answer"]


def test_per_request_override_off_keeps_everything_and_logs_nothing(scripted) -> None:
    client, state, _ = scripted
    before = len(records(state))
    r = ask(client, self_check="off")
    assert r["answer"] == FIRST and r["metadata"]["self_check"] is None
    assert len(records(state)) == before


def test_refuse_answers_the_documents_do_not_say(scripted) -> None:
    r = ask(scripted[0], self_check="refuse")
    report = r["metadata"]["self_check"]
    assert r["answer"] == NOT_IN_DOCS and r["citations"] == []
    assert report["refused"] and report["unsupported"] == 1 and report["dropped"] == []


def test_regenerate_names_the_failures_once_then_drops_what_is_still_unsupported(scripted):
    client, _, gen = scripted
    n = len(gen.prompts)
    r = ask(client, self_check="regenerate")
    asked = gen.prompts[n:]
    assert len(asked) == 2 and "- Cats eat 12 whales." in asked[1]
    report = r["metadata"]["self_check"]
    assert report["regenerated"] and len(report["rounds"]) == 2
    assert [v["supported"] for v in report["rounds"][1]["verdicts"]] == [True, False]
    assert r["answer"] == "Cats eat mice [1]." and report["dropped"] == ["Cats drive cars."]


def test_bad_requests_and_auth(scripted) -> None:
    client = scripted[0]
    r = client.post("/v1/rag/ask", json={"question": "q", "self_check": "maybe"}, headers=AUTH)
    assert r.status_code == 400 and r.json()["error"]["param"] == "self_check"
    r = client.post("/v1/rag/ask", json={}, headers=AUTH)
    assert r.status_code == 400 and r.json()["error"]["param"] == "question"
    assert client.post("/v1/rag/ask", json={"question": "q"}).status_code == 401


def test_without_an_index_the_route_is_a_404(tiny_llama_dir: Path) -> None:
    cfg = tiny_cfg(tiny_llama_dir)
    client = ready(build_state(cfg, lambda: Loaded(AsyncLLMEngine(engine_config(cfg)))))
    try:
        r = client.post("/v1/rag/ask", json={"question": "q"}, headers=AUTH)
        assert r.status_code == 404 and "--rag-index" in r.json()["error"]["message"]
    finally:
        client.__exit__(None, None, None)


def test_the_real_loader_answers_on_the_served_engine_and_judges_with_it(
    default_model_dir: Path, rag_cfg: RagConfig, tmp_path: Path
) -> None:
    """The route's own loader over the default model: the answer is the served engine's greedy
    reply to `rag ask`'s prompt (what /v1/chat/completions gives for it), and the generator's
    verdict on each claim is asked on that engine too, as a follow-up turn to the answer under a
    yes/no choice constraint, so it parses."""
    yaml = tmp_path / "rag.yaml"
    yaml.write_text(f"index: {rag_cfg.index}\ntop_k: 2\nmax_new_tokens: 24\nverifier: generator\n")
    cfg = tiny_cfg(default_model_dir, rag_config=yaml, self_check="refuse", kv_cache_gb=0.05)
    state = build_state(cfg)
    state.run_dir = tmp_path
    client = ready(state)
    try:
        plain = ask(client, self_check="off")
        _, hits = state.rag.pipeline.context("What do cats eat?")
        chat = client.post(
            "/v1/chat/completions",
            headers=AUTH,
            json={
                "model": "tiny",
                "messages": [{"role": "user", "content": build_prompt("What do cats eat?", hits)}],
                "max_tokens": 24,
                "temperature": 0,
            },
        ).json()["choices"][0]["message"]["content"]
        assert plain["answer"] == check_citations(chat.strip(), len(hits))[0]
        assert plain["metadata"]["self_check"] is None and records(state) == []
        r = ask(client)
        report = r["metadata"]["self_check"]
        verdicts = report["rounds"][0]["verdicts"]
        assert report["policy"] == "refuse" and report["claims"] == len(verdicts) >= 1
        assert all(v["status"] == "ok" and v["chunk"] >= 1 for v in verdicts)  # constrained
        assert state.rag.load_verifier().inner.in_answer  # a one-token choice after the answer
        assert r["answer"] == (NOT_IN_DOCS if report["unsupported"] else plain["answer"])
        assert records(state)[0]["id"] == r["id"]
    finally:
        client.__exit__(None, None, None)
