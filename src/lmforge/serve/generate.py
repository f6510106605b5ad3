"""Engine streams -> OpenAI responses: n choices per prompt, streamed chunks or one body.

A request becomes `len(prompts) * n` engine sequences (choice index = prompt * n + k). Their
streams are merged into one in arrival order; leaving the merge early (client gone, error)
cancels every pump, and the engine's own stream cleanup then aborts each sequence, which frees
its KV blocks before the next step.
"""

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal

from lmforge.engine import AsyncLLMEngine, RequestOutput, SamplingParams
from lmforge.serve.scanners import Scanners
from lmforge.serve.tools import CallStream

Kind = Literal["chat", "completion"]


async def merged(
    engine: AsyncLLMEngine, seqs: list[tuple[list[int], SamplingParams]], request_id: str
) -> AsyncIterator[tuple[int, RequestOutput]]:
    """(choice index, output) from all sequences of a request, as the engine produces them."""
    queue: asyncio.Queue[tuple[int, RequestOutput | BaseException | None]] = asyncio.Queue()

    async def pump(i: int, ids: list[int], params: SamplingParams) -> None:
        try:
            async for out in engine.add_request(ids, params, f"{request_id}-{i}"):
                queue.put_nowait((i, out))
        except Exception as e:
            queue.put_nowait((i, e))
        finally:
            queue.put_nowait((i, None))

    tasks = [asyncio.create_task(pump(i, ids, p)) for i, (ids, p) in enumerate(seqs)]
    try:
        live = len(tasks)
        while live:
            i, item = await queue.get()
            if item is None:
                live -= 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield i, item
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


@dataclass(slots=True)
class Choice:
    """What we have sent (or will send) for one choice."""

    text: str = ""
    tokens: int = 0
    logprobs_sent: int = 0
    offset: int = 0  # characters of the returned text covered by tokens sent (text_offset)
    echoed: bool = False  # completion echo: the prompt went out (first chunk / the body)
    finish_reason: str | None = None
    ttft: float | None = None
    itl: list[float] = field(default_factory=list)
    calls: CallStream | None = None  # set when the request has tools


@dataclass(slots=True)
class Generation:
    """One API request in flight: formats engine outputs the way OpenAI's API does."""

    engine: AsyncLLMEngine
    kind: Kind
    request_id: str
    model: str
    prompts: list[list[int]]
    params: list[SamplingParams]  # one per choice
    scanners: Scanners
    include_usage: bool = False
    echo: bool = False  # completions: the prompt (and its logprobs) lead each choice's text
    tool_mode: str = "none"  # ChatRequest.tool_mode
    created: int = field(default_factory=lambda: int(time.time()))
    choices: list[Choice] = field(default_factory=list)

    def __post_init__(self) -> None:
        assert self.params and len(self.params) % len(self.prompts) == 0
        forced = self.tool_mode in ("required", "named")
        self.choices = [
            Choice(calls=None if self.tool_mode == "none" else CallStream(forced))
            for _ in self.params
        ]

    @property
    def n(self) -> int:
        return len(self.params) // len(self.prompts)

    def _seqs(self) -> list[tuple[list[int], SamplingParams]]:
        return [(self.prompts[i // self.n], p) for i, p in enumerate(self.params)]

    # ---- formatting --------------------------------------------------------------------------
    def usage(self) -> dict[str, int]:
        prompt = sum(len(p) for p in self.prompts)
        completion = sum(c.tokens for c in self.choices)
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }

    def _echo_text(self, c: Choice, out: RequestOutput) -> str:
        """The prompt's text, once per choice, when echoing (else "")."""
        if not self.echo or c.echoed:
            return ""
        c.echoed = True
        return self.engine.tokenizer.decode(out.prompt_token_ids)

    def _prompt_logprobs(self, out: RequestOutput) -> tuple[list, list, list]:
        """Echoed prompt tokens, their log-probs (the first is null: it has no context) and top
        entries, as the legacy completions API lists them."""
        tok, rows = self.engine.tokenizer, out.prompt_logprobs or []
        ids = out.prompt_token_ids
        n = self.params[0].prompt_logprobs or 0
        lps = [None] + [rows[p][t].logprob for p, t in enumerate(ids) if p]
        tops: list = [None]
        for row in rows[1:]:
            best = sorted(((v.rank, t, v.logprob) for t, v in row.items() if v.rank <= n))
            tops.append({tok.decode([t]): lp for _, t, lp in best})
        return [tok.decode([t]) for t in ids], lps, tops

    def _logprobs(self, out: RequestOutput, c: Choice, echo: bool = False) -> Any:
        if out.logprobs is None:  # None unless the request asked for logprobs
            return None
        tok = self.engine.tokenizer
        lps, tops = out.logprobs[c.logprobs_sent :], out.top_logprobs or []
        tops = tops[c.logprobs_sent :]
        ids = out.token_ids[c.logprobs_sent : c.logprobs_sent + len(lps)]
        c.logprobs_sent += len(lps)
        words = [tok.decode([t]) for t in ids]
        top = [[(tok.decode([t]), lp) for t, lp in row] for row in tops]
        if self.kind == "completion":
            pw, plp, ptop = self._prompt_logprobs(out) if echo else ([], [], [])
            words = pw + words
            offsets = []
            for w in words:  # each token's first character in the choice's returned text
                offsets.append(c.offset)
                c.offset += len(w)
            return {
                "tokens": words,
                "token_logprobs": plp + lps,
                "top_logprobs": ptop + [dict(row) for row in top],
                "text_offset": offsets,
            }

        def entry(w: str, lp: float) -> dict[str, Any]:
            return {"token": w, "logprob": lp, "bytes": list(w.encode())}

        return {
            "content": [
                {**entry(w, lp), "top_logprobs": [entry(tw, tl) for tw, tl in row]}
                for w, lp, row in zip(words, lps, top or [[] for _ in words], strict=True)
            ]
        }

    def _chunk(self, index: int, text: str | None, logprobs: Any, finish: str | None) -> dict:
        if self.kind == "chat":
            delta = {} if text is None else {"content": text}
            choice = {"index": index, "delta": delta, "logprobs": logprobs}
            obj = "chat.completion.chunk"
        else:
            choice = {"index": index, "text": text or "", "logprobs": logprobs}
            obj = "text_completion"
        choice["finish_reason"] = finish
        chunk: dict[str, Any] = {
            "id": self.request_id,
            "object": obj,
            "created": self.created,
            "model": self.model,
            "choices": [choice],
        }
        if self.include_usage:
            chunk["usage"] = None
        return chunk

    def _record(self, c: Choice, out: RequestOutput) -> None:
        c.tokens = len(out.token_ids)
        c.ttft, c.itl = out.ttft, out.itl
        if out.finished:
            c.finish_reason = out.finish_reason

    # ---- the two modes -----------------------------------------------------------------------
    async def stream(self) -> AsyncIterator[dict[str, Any]]:
        """OpenAI chunks (the caller frames them as SSE and adds `[DONE]`)."""
        if self.kind == "chat":
            for i in range(len(self.choices)):
                first = self._chunk(i, "", None, None)
                first["choices"][0]["delta"] = {"role": "assistant", "content": ""}
                yield first
        async for i, out in merged(self.engine, self._seqs(), self.request_id):
            c = self.choices[i]
            if c.finish_reason == "content_filter":
                continue  # already ended; this is its abort echo
            self._record(c, out)
            delta = out.delta_text
            if delta and self.scanners.chain:
                ok, full = await self.scanners.check_output(c.text + delta)
                if not ok or not full.startswith(c.text):
                    c.finish_reason = "content_filter"
                    await self.engine.abort(f"{self.request_id}-{i}")
                    yield self._chunk(i, None, None, "content_filter")
                    continue
                delta = full[len(c.text) :]
            c.text += delta  # what the output scanners see: the completion, not the echo
            echo = self._echo_text(c, out)
            lp = self._logprobs(out, c, echo=bool(echo))
            mode = c.calls.decide(c.text) if c.calls else "content"
            if mode == "calls":
                for d in c.calls.feed(c.text):  # type: ignore[union-attr]
                    chunk = self._chunk(i, None, None, None)
                    chunk["choices"][0]["delta"] = {"tool_calls": [d]}
                    yield chunk
            elif mode == "content" and (echo or delta or lp):
                yield self._chunk(i, echo + delta, lp, None)
            if out.finished:
                if c.calls:
                    c.finish_reason = c.calls.finish_reason(c.text, c.finish_reason)
                yield self._chunk(i, None, None, c.finish_reason)
        if self.include_usage:
            yield {
                "id": self.request_id,
                "object": "chat.completion.chunk" if self.kind == "chat" else "text_completion",
                "created": self.created,
                "model": self.model,
                "choices": [],
                "usage": self.usage(),
            }

    async def complete(self) -> dict[str, Any]:
        """The whole response body."""
        finals: dict[int, RequestOutput] = {}
        async for i, out in merged(self.engine, self._seqs(), self.request_id):
            self._record(self.choices[i], out)
            if out.finished:
                finals[i] = out
        body_choices = []
        for i, c in enumerate(self.choices):
            out = finals[i]
            ok, text = await self.scanners.check_output(out.text)
            c.text = text
            if not ok:
                c.finish_reason = "content_filter"
            echo = self._echo_text(c, out) if ok else ""
            text = echo + text
            lp = self._logprobs(out, c, echo=bool(echo)) if ok else None
            if self.kind == "chat":
                msg = {"role": "assistant", "content": text}
                if c.calls and ok:
                    msg = c.calls.message(text)
                    c.finish_reason = c.calls.finish_reason(text, c.finish_reason)
                body_choices.append(
                    {"index": i, "message": msg, "logprobs": lp, "finish_reason": c.finish_reason}
                )
            else:
                body_choices.append(
                    {"index": i, "text": text, "logprobs": lp, "finish_reason": c.finish_reason}
                )
        return {
            "id": self.request_id,
            "object": "chat.completion" if self.kind == "chat" else "text_completion",
            "created": self.created,
            "model": self.model,
            "choices": body_choices,
            "usage": self.usage(),
        }
