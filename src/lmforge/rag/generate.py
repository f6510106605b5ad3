"""Text generation behind one small interface, so RAG does not care who runs the LLM.

`Generator` is what `ask` and the query transforms use; any object with `generate(prompt,
max_tokens, stream)` fits (lmforge's engine, a remote client, a test double). A generator that
can decode under a JSON schema also has `generate_json` (the self-check judge uses it).
`load_generator` prefers lmforge's engine and falls back to transformers, which always works;
the LLM reranker needs logits, so it always uses the transformers one.
"""

from collections.abc import Iterator
from queue import Queue
from threading import Thread
from typing import Any, Protocol

from lmforge.models import load_model, render_chat


class Generator(Protocol):
    tokenizer: Any

    def generate(self, prompt: str, max_tokens: int, stream: bool = False) -> str | Iterator[str]:
        """Greedy continuation of a chat `prompt` (a user message); text or a text stream."""
        ...


class TransformersGenerator:
    """Greedy decoding with `model.generate`; streaming via `TextIteratorStreamer`."""

    def __init__(self, model: str = "default") -> None:
        loaded = load_model(model)
        self.model = loaded.model
        self.tokenizer = loaded.tokenizer
        self.name = str(loaded.path)
        if self.tokenizer.pad_token is None:  # batching (the LLM reranker) needs one
            self.tokenizer.pad_token = self.tokenizer.eos_token

    def chat_prompt(self, prompt: str, system: str | None = None) -> str:
        messages = [{"role": "system", "content": system}] if system else []
        return render_chat(self.tokenizer, [*messages, {"role": "user", "content": prompt}])

    def _inputs(self, prompt: str) -> dict[str, Any]:
        return self.tokenizer(
            self.chat_prompt(prompt), return_tensors="pt", add_special_tokens=False
        )

    def generate(self, prompt: str, max_tokens: int, stream: bool = False) -> str | Iterator[str]:
        import torch

        inputs = self._inputs(prompt)
        kwargs = dict(
            **inputs,
            max_new_tokens=max_tokens,
            do_sample=False,
            pad_token_id=self.tokenizer.pad_token_id,
        )
        if not stream:
            with torch.inference_mode():
                out = self.model.generate(**kwargs)
            new = out[0, inputs["input_ids"].shape[1] :]
            return self.tokenizer.decode(new, skip_special_tokens=True).strip()
        from transformers import TextIteratorStreamer

        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)

        def run() -> None:
            with torch.inference_mode():
                self.model.generate(**kwargs, streamer=streamer)

        Thread(target=run, daemon=True).start()
        return iter(streamer)


class EngineGenerator:
    """Greedy decoding on lmforge's engine (paged KV cache); streaming via its output callback."""

    def __init__(self, model: str = "default") -> None:
        from lmforge.engine import LLM

        self.llm = LLM(model)
        self.tokenizer = self.llm.tokenizer
        self.name = model

    def generate(self, prompt: str, max_tokens: int, stream: bool = False) -> str | Iterator[str]:
        from lmforge.engine import SamplingParams

        text = render_chat(self.tokenizer, [{"role": "user", "content": prompt}])
        params = SamplingParams(max_tokens=max_tokens, temperature=0.0)
        if not stream:
            return self.llm.generate([text], params)[0].text.strip()
        pieces: Queue[str | None] = Queue()

        def run() -> None:
            try:
                self.llm.generate([text], params, on_output=lambda o: pieces.put(o.delta_text))
            finally:
                pieces.put(None)

        Thread(target=run, daemon=True).start()
        return iter(pieces.get, None)

    def generate_json(
        self, prompts: list[str], schema: dict[str, Any], max_tokens: int
    ) -> list[str]:
        """Greedy replies decoded under JSON `schema` (llguidance), one batch: each one parses."""
        from lmforge.engine import SamplingParams

        texts = [render_chat(self.tokenizer, [{"role": "user", "content": p}]) for p in prompts]
        params = SamplingParams(max_tokens=max_tokens, temperature=0.0, json_schema=schema)
        return [o.text for o in self.llm.generate(texts, params)]

    def generate_choice(self, chats: list[list[dict[str, str]]], choices: list[str]) -> list[str]:
        """For each chat, the greedy pick among `choices` (a `choice` constraint), one batch:
        chats that share a prefix with an earlier request reuse its cached KV blocks."""
        from lmforge.engine import SamplingParams

        texts = [render_chat(self.tokenizer, c) for c in chats]
        longest = max(len(self.tokenizer.encode(c, add_special_tokens=False)) for c in choices)
        params = SamplingParams(max_tokens=longest + 1, temperature=0.0, choice=choices)
        return [o.text for o in self.llm.generate(texts, params)]


def load_generator(model: str = "default", backend: str = "auto") -> Any:
    """lmforge's engine for 'engine', or for 'auto' when it imports; else transformers."""
    assert backend in ("auto", "engine", "transformers")
    if backend != "transformers":
        try:
            return EngineGenerator(model)
        except ImportError:
            if backend == "engine":
                raise
    return TransformersGenerator(model)
