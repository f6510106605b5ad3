"""The server's RAG: `rag ask`'s pipeline over the served engine, self-check per request.

`POST /v1/rag/ask` runs the very `RagPipeline` that `lmforge rag ask` runs (retrieve, cite,
check citations, self-check), in a worker thread; only the LLM differs: `EngineBridge` sends
each generation to the server's `AsyncLLMEngine`, so RAG answers batch with the chat traffic
instead of loading a second copy of the model. The retriever and the claim verifier use
tokenizers and an SQLite connection that are not safe to share between threads, so one lock
serialises them; generation, the slow part, runs outside it.
"""

import asyncio
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lmforge.config import load_config
from lmforge.engine import AsyncLLMEngine, SamplingParams
from lmforge.models.chat import render_chat
from lmforge.rag.answer import Answer, RagPipeline
from lmforge.rag.config import RagConfig
from lmforge.rag.selfcheck import SelfCheck
from lmforge.rag.verify import GeneratorVerifier
from lmforge.serve.config import ServeConfig


class EngineBridge:
    """rag's `Generator` over the server's async engine, called from a worker thread: each
    generation is a coroutine handed to the server's event loop, and the thread waits for it."""

    def __init__(self, engine: AsyncLLMEngine) -> None:
        self.engine = engine
        self.tokenizer = engine.tokenizer
        self.loop: asyncio.AbstractEventLoop | None = None  # the server's, set by the route

    async def _complete(
        self, ids: list[int], max_tokens: int, schema: Any = None, choice: Any = None
    ) -> str:
        params = SamplingParams(
            max_tokens=max_tokens, temperature=0.0, json_schema=schema, choice=choice
        )
        text = ""
        async for out in self.engine.add_request(ids, params, f"rag-{uuid.uuid4().hex}"):
            text = out.text
        return text

    def _ids(self, prompt: str | list[dict[str, str]]) -> list[int]:
        chat = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt
        return self.tokenizer.encode(render_chat(self.tokenizer, chat), add_special_tokens=False)

    def generate(self, prompt: str, max_tokens: int, stream: bool = False) -> Any:
        """Greedy answer to a user message; `stream` yields it whole (the route never streams:
        unsupported claims must be checked before anyone reads them)."""
        assert self.loop is not None, "EngineBridge used before the route set its loop"
        coro = self._complete(self._ids(prompt), max_tokens)
        answer = asyncio.run_coroutine_threadsafe(coro, self.loop).result().strip()
        return iter([answer]) if stream else answer

    def generate_json(
        self, prompts: list[str], schema: dict[str, Any], max_tokens: int
    ) -> list[str]:
        """Greedy replies under JSON `schema` (the engine's llguidance decoding), all queued at
        once so the judge's questions batch together on the served engine."""
        assert self.loop is not None, "EngineBridge used before the route set its loop"

        async def all_of() -> list[str]:
            jobs = [self._complete(self._ids(p), max_tokens, schema) for p in prompts]
            return list(await asyncio.gather(*jobs))

        return asyncio.run_coroutine_threadsafe(all_of(), self.loop).result()

    def generate_choice(self, chats: list[list[dict[str, str]]], choices: list[str]) -> list[str]:
        """The greedy pick among `choices` for each chat, all queued at once: chats that extend
        an answer's conversation find its prompt's KV blocks in the served engine's cache."""
        assert self.loop is not None, "EngineBridge used before the route set its loop"
        longest = max(len(self.tokenizer.encode(c, add_special_tokens=False)) for c in choices)

        async def all_of() -> list[str]:
            jobs = [self._complete(self._ids(c), longest + 1, choice=choices) for c in chats]
            return list(await asyncio.gather(*jobs))

        return asyncio.run_coroutine_threadsafe(all_of(), self.loop).result()


class _LockedRetriever:
    def __init__(self, inner: Any, lock: threading.Lock) -> None:
        self.inner, self.lock = inner, lock

    def retrieve(self, query: str, k: int) -> Any:
        with self.lock:
            return self.inner.retrieve(query, k)


class _LockedVerifier:
    def __init__(self, inner: Any, lock: threading.Lock) -> None:
        self.inner, self.lock, self.threshold = inner, lock, inner.threshold

    def scores(self, claims: list[str], premises: list[str]) -> list[float | None]:
        with self.lock:
            return self.inner.scores(claims, premises)


@dataclass(slots=True)
class RagService:
    """The loaded pipeline plus the claim verifier, built once and shared by every policy."""

    pipeline: RagPipeline
    policy: str  # the server's default self-check: off | drop | regenerate | refuse
    make_verifier: Callable[[], Any]
    bridge: EngineBridge | None = None  # None when the pipeline has its own generator
    verifier: Any = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.pipeline = self.pipeline.with_self_check(None)
        self.pipeline.retriever = _LockedRetriever(self.pipeline.retriever, self.lock)  # type: ignore[assignment]

    def load_verifier(self) -> Any:
        """The verifier, built on first use; a generator judge only generates, so it runs
        outside the lock, a cross-encoder (a shared tokenizer) inside it."""
        with self.lock:
            if self.verifier is None:
                v = self.make_verifier()
                by_llm = isinstance(getattr(v, "inner", v), GeneratorVerifier)
                self.verifier = v if by_llm else _LockedVerifier(v, self.lock)
            return self.verifier

    def ask(self, question: str, policy: str | None = None) -> Answer:
        """`rag ask` under `policy` (default: the server's); blocks, so call it in a thread."""
        policy = policy or self.policy
        check = SelfCheck(self.load_verifier(), policy) if policy != "off" else None
        return self.pipeline.with_self_check(check).ask(question)


def rag_config(cfg: ServeConfig) -> RagConfig:
    """The route's `RagConfig`: the `rag_config` YAML, `rag_index` and `self_check` over it."""
    return load_config(
        RagConfig, cfg.rag_config, {"index": cfg.rag_index, "self_check": cfg.self_check}
    )


def load_rag(cfg: ServeConfig, engine: AsyncLLMEngine) -> RagService:
    """Open the index and build the pipeline over `engine` (in the loader's thread). With a
    default self-check the verifier loads now too: a missing one fails the start, not a call."""
    from lmforge.rag.embed import Embedder
    from lmforge.rag.factory import make_pipeline, make_verifier

    rcfg = rag_config(cfg)
    bridge = EngineBridge(engine)
    embedder = Embedder(rcfg.embedder, rcfg.batch_size)
    pipeline = make_pipeline(rcfg.model_copy(update={"self_check": "off"}), embedder, bridge)
    service = RagService(pipeline, rcfg.self_check, lambda: make_verifier(rcfg, bridge), bridge)
    if service.policy != "off":
        service.load_verifier()
    return service


def rag_enabled(cfg: ServeConfig) -> bool:
    return cfg.rag_index is not None or cfg.rag_config is not None
