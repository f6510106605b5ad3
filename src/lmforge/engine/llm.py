"""`LLM`: offline batch generation, the simplest way to use the engine."""

from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from rich.progress import Progress

from lmforge.engine.config import EngineConfig
from lmforge.engine.llm_engine import LLMEngine
from lmforge.engine.outputs import RequestOutput
from lmforge.engine.sampling_params import SamplingParams
from lmforge.engine.scoring import ContinuationScore, ItemRows, merge_rows, plan_item, read_scores

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

    def score(
        self,
        items: Sequence[tuple[list[int], Sequence[list[int]]]],
        progress: bool = False,
        on_item: Callable[[int], None] | None = None,
    ) -> list[list[ContinuationScore]]:
        """Log P(continuation | context) of each (context ids, [continuation ids, ...]) item.

        The context is prefilled once and the continuations are scored as branches sharing its
        KV blocks (see engine/scoring.py): a 4-choice item costs about one prefill. Items
        stream through the engine together (continuous batching); an item's branches are
        queued the step its context finishes, when its blocks are in the prefix cache, and the
        items in flight are bounded by the KV pool so those blocks are not evicted first.
        `on_item(i)` is called as item i completes.
        """
        eng = self.engine
        params = SamplingParams(max_tokens=0, prompt_logprobs=0)
        plans = [plan_item(i, list(c), [list(x) for x in xs]) for i, (c, xs) in enumerate(items)]
        cost = [sum(eng.blocks.blocks_for(len(b.prompt)) for b in p) for p in plans]
        budget = int(0.9 * eng.runner.num_blocks)
        out: list[list[ContinuationScore]] = [[] for _ in plans]
        rows: dict[int, ItemRows] = {}
        live: dict[str, tuple[int, int]] = {}  # request id -> (item, branch index)
        left: dict[int, int] = {}
        pending, held = deque(range(len(plans))), 0
        with Progress(disable=not progress, transient=True) as bar:
            task = bar.add_task("scoring", total=len(plans))
            while pending or live:
                while pending and (not live or held + cost[pending[0]] <= budget):
                    i = pending.popleft()
                    held += cost[i]
                    rows[i], left[i] = {}, 1
                    live[
                        eng.add_request(plans[i][0].prompt, params, targets=plans[i][0].targets)
                    ] = (i, 0)
                for res in eng.step():
                    if not res.finished:
                        continue
                    i, k = live.pop(res.request_id)
                    merge_rows(len(items[i][0]), plans[i][k], res.row_logprobs or {}, rows[i])
                    left[i] -= 1
                    if k == 0:
                        for j, b in enumerate(plans[i][1:], 1):
                            live[eng.add_request(b.prompt, params, targets=b.targets)] = (i, j)
                            left[i] += 1
                    if left[i] == 0:
                        out[i] = read_scores(len(items[i][0]), items[i][1], rows.pop(i))
                        held -= cost[i]
                        bar.advance(task)
                        if on_item:
                            on_item(i)
        return out

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
