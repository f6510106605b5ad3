"""The one interface every model backend implements.

Tasks only ever call these three batched methods, so the same task runs on transformers, on an
OpenAI-compatible server or on lmforge's engine, and their scores can be compared:

- `loglikelihood`: log P(continuation | context) summed over the continuation's tokens, and
  whether greedy decoding would have produced exactly that continuation (lm-eval's pair);
- `loglikelihood_rolling`: the whole-text log-likelihood for perplexity, windowed;
- `generate`: completions (n samples each) for prompts, stopping at stop strings.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


@dataclass(slots=True, frozen=True)
class GenRequest:
    """One prompt to complete. `chat`: send `prompt` as a user turn through the chat template.

    `prefix` is where the answer starts (lm-eval's gen_prefix): appended after the prompt, or
    after the chat template's assistant header, and not part of the returned completion.
    """

    prompt: str
    prefix: str = ""
    chat: bool = False
    system: str | None = None
    max_new_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    n: int = 1
    stop: tuple[str, ...] = ()
    seed: int = 0
    json_schema: dict[str, Any] | None = None  # constrain the output (backends with `structured`)


def prompt_text(req: GenRequest, tokenizer: Any) -> str:
    """The text a local model continues: the prompt (through the chat template if `chat`), then
    the answer's prefix."""
    if not req.chat:
        return req.prompt + req.prefix
    from lmforge.models import render_chat

    messages = [{"role": "system", "content": req.system}] if req.system else []
    messages.append({"role": "user", "content": req.prompt})
    return render_chat(tokenizer, messages) + req.prefix


@dataclass(slots=True, frozen=True)
class LoglikResult:
    logprob: float
    is_greedy: bool
    n_tokens: int


@dataclass(slots=True, frozen=True)
class RollingResult:
    """Summed log-likelihood of a text and how many tokens were scored (for perplexity)."""

    logprob: float
    n_tokens: int
    n_windows: int = 1
    extra: dict[str, float] = field(default_factory=dict)


@runtime_checkable
class Backend(Protocol):
    name: str

    def loglikelihood(self, requests: list[tuple[str, str]]) -> list[LoglikResult]: ...

    def loglikelihood_rolling(
        self, texts: list[str], max_length: int, stride: int
    ) -> list[RollingResult]: ...

    def generate(self, requests: list[GenRequest]) -> list[list[str]]: ...


def truncate_at_stop(text: str, stop: tuple[str, ...]) -> str:
    """Cut `text` at the first occurrence of any stop string (servers may overshoot by a token)."""
    cut = len(text)
    for s in stop:
        if s and (i := text.find(s)) != -1:
            cut = min(cut, i)
    return text[:cut]


def split_context(context: str, continuation: str) -> tuple[str, str]:
    """Move trailing spaces of the context onto the continuation, as lm-evaluation-harness does,
    so 'Answer: ' + 'B' and 'Answer:' + ' B' tokenize the same way."""
    n = len(context) - len(context.rstrip())
    if n:
        return context[:-n], context[-n:] + continuation
    return context, continuation


def encode_pair(
    encode: Callable[[str], list[int]], prefix_id: int, context: str, continuation: str
) -> tuple[list[int], list[int]]:
    """lm-eval's split of a (context, continuation) pair into tokens: trailing context spaces
    move onto the continuation, the continuation is what encoding the whole adds after the
    context, and an empty context becomes `prefix_id` (EOS) so the first token has one."""
    context, continuation = split_context(context, continuation)
    if not context:
        return [prefix_id], encode(continuation)
    whole = encode(context + continuation)
    ctx = encode(context)
    return ctx, whole[len(ctx) :]


def group_items(pairs: list[tuple[list[int], list[int]]]) -> list[tuple[list[int], list[int]]]:
    """(context tokens, indices of the pairs with that context), in order of first appearance:
    a multiple-choice item's choices become one item that shares its context's forward pass."""
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, (ctx, _) in enumerate(pairs):
        groups.setdefault(tuple(ctx), []).append(i)
    return [(list(ctx), idx) for ctx, idx in groups.items()]


def rolling_windows(n_tokens: int, max_length: int, stride: int) -> list[tuple[int, int, int]]:
    """Windows (begin, end, n_scored) over a token sequence for strided perplexity.

    Each window covers at most `max_length` tokens and advances by `stride`; only the tokens not
    scored by an earlier window are scored, so every token is scored exactly once, with at
    least `max_length - stride` tokens of context once the first window is full. stride ==
    max_length gives disjoint windows (fast, less context); a smaller stride costs more compute
    and gives a lower, more faithful perplexity (the transformers "perplexity" guide's method).
    The first token has no context and is not scored.
    """
    assert 1 <= stride <= max_length, (stride, max_length)
    out, prev_end, begin = [], 1, 0
    while prev_end < n_tokens:
        end = min(begin + max_length, n_tokens)
        out.append((begin, end, end - prev_end))
        prev_end = end
        begin += stride
    assert sum(w[2] for w in out) == max(n_tokens - 1, 0)
    return out
