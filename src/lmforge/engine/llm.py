"""`LLM`: offline batch generation, the simplest way to use the engine."""

from collections.abc import Callable, Sequence
from typing import Any

from rich.progress import Progress

from lmforge.engine.config import EngineConfig
from lmforge.engine.llm_engine import LLMEngine
from lmforge.engine.outputs import RequestOutput
from lmforge.engine.sampling_params import SamplingParams

Prompt = str | list[int]


class LLM:
    """`LLM("default").generate(["Hello"], SamplingParams(max_tokens=32))`.

    Keyword arguments are EngineConfig fields (block_size, kv_cache_gb, quantization, ...).
    """

    def __init__(
        self, model: str = "default", config: EngineConfig | None = None, **kw: Any
    ) -> None:
        self.engine = (
            LLMEngine(config, model=model, **kw) if config is None else LLMEngine(config, **kw)
        )

    @property
    def tokenizer(self) -> Any:
        return self.engine.tokenizer

    def generate(
        self,
        prompts: Prompt | Sequence[Prompt],
        params: SamplingParams | Sequence[SamplingParams] | None = None,
        on_output: Callable[[RequestOutput], None] | None = None,
        progress: bool = False,
    ) -> list[RequestOutput]:
        """Run all prompts to completion with continuous batching; outputs in prompt order.

        `on_output` is called with every streamed RequestOutput (delta_text, delta_token_ids).
        """
        if isinstance(prompts, str) or (prompts and isinstance(prompts[0], int)):
            prompts = [prompts]  # type: ignore[list-item]
        plist = list(params) if isinstance(params, Sequence) else [params] * len(prompts)
        assert len(plist) == len(prompts), "give one SamplingParams or one per prompt"
        ids = [self.engine.add_request(p, sp) for p, sp in zip(prompts, plist, strict=True)]
        done: dict[str, RequestOutput] = {}
        with Progress(disable=not progress, transient=True) as bar:
            task = bar.add_task("generating", total=len(ids))
            while self.engine.has_unfinished():
                for out in self.engine.step():
                    if on_output:
                        on_output(out)
                    if out.finished:
                        done[out.request_id] = out
                        bar.advance(task)
        return [done[i] for i in ids]

    def chat(
        self,
        conversations: list[dict[str, Any]] | list[list[dict[str, Any]]],
        params: SamplingParams | None = None,
    ) -> list[RequestOutput]:
        """Generate replies to chat conversations rendered with the model's chat template."""
        from lmforge.models.chat import render_chat

        convs = (
            [conversations]
            if conversations and isinstance(conversations[0], dict)
            else conversations
        )
        prompts = [render_chat(self.tokenizer, c) for c in convs]  # type: ignore[arg-type]
        return self.generate(prompts, params)
