"""`AsyncLLMEngine`: the asyncio face of the engine, for the server.

One background task drives `LLMEngine.step()` in a worker thread (the forward releases the GIL,
so the event loop stays responsive) and routes each RequestOutput to its request's queue. Calls
from the loop never touch the engine while a step runs: adds and aborts are queued and applied
between steps, so an abort frees the request's blocks before the next step starts, and the
caller's stream ends at once with finish_reason "abort".

    engine = AsyncLLMEngine(EngineConfig(model="default"))
    async for out in engine.add_request("Hello", SamplingParams(max_tokens=32), "req-1"):
        print(out.delta_text, end="")
    await engine.abort("req-2")
    engine.stats()  # EngineStats: running/waiting, KV usage, prefix-cache hits, token counters
    await engine.aclose()
"""

import asyncio
import contextlib
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any

from lmforge.engine.config import EngineConfig
from lmforge.engine.llm_engine import LLMEngine
from lmforge.engine.outputs import EngineStats, RequestOutput
from lmforge.engine.sampling_params import SamplingParams
from lmforge.errors import LMForgeError


class AsyncLLMEngine:
    def __init__(self, config: EngineConfig | LLMEngine | None = None, **overrides: Any) -> None:
        self.engine = config if isinstance(config, LLMEngine) else LLMEngine(config, **overrides)
        self._queues: dict[str, asyncio.Queue[RequestOutput | BaseException]] = {}
        self._pending: deque[tuple[str, Any]] = deque()
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._stats = self.engine.stats()
        self._closing = False

    @property
    def tokenizer(self) -> Any:
        return self.engine.tokenizer

    def _ensure_loop(self) -> None:
        if self._task is None or self._task.done():
            self._wake = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._run())

    def add_request(
        self,
        prompt: str | list[int],
        params: SamplingParams | None = None,
        request_id: str | None = None,
    ) -> AsyncIterator[RequestOutput]:
        """Queue a request and return the async iterator of its outputs (deltas per step).

        Bad input (too long, bad params, duplicate id) raises LMForgeError on the first
        iteration. Leaving the `async for` early (or cancelling it) aborts the request.
        """
        rid = request_id or uuid.uuid4().hex
        if rid in self._queues:
            raise LMForgeError(f"request id {rid!r} is already in use")
        self._queues[rid] = asyncio.Queue()
        self._pending.append(("add", (prompt, params, rid)))
        return self._stream(rid)

    async def _stream(self, rid: str) -> AsyncIterator[RequestOutput]:
        self._ensure_loop()
        assert self._wake is not None
        self._wake.set()
        queue = self._queues[rid]
        finished = False
        try:
            while not finished:
                item = await queue.get()
                if isinstance(item, BaseException):
                    raise item
                finished = item.finished
                yield item
        finally:
            self._queues.pop(rid, None)
            if not finished:
                self._pending.append(("abort", rid))
                if self._wake:
                    self._wake.set()

    async def abort(self, request_id: str) -> None:
        """Abort a request: its stream yields a final output with finish_reason "abort"."""
        self._pending.append(("abort", request_id))
        if self._wake:
            self._wake.set()

    async def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """`fn(*args)` run between steps, never during one (adapter loads and unloads); its
        result or exception comes back here."""
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append(("call", (fn, args, fut)))
        self._ensure_loop()
        assert self._wake is not None
        self._wake.set()
        return await fut

    def stats(self) -> EngineStats:
        """Snapshot taken after the latest step (safe to read from the event loop)."""
        return self._stats

    def _apply_pending(self) -> None:
        while self._pending:
            op, arg = self._pending.popleft()
            if op == "add":
                prompt, params, rid = arg
                try:
                    self.engine.add_request(prompt, params, rid)
                except LMForgeError as e:
                    self._deliver_error(rid, e)
            elif op == "call":
                fn, args, fut = arg
                try:
                    fut.set_result(fn(*args))
                except Exception as e:  # the caller decides what it means (e.g. a 400)
                    fut.set_exception(e)
            else:
                out = self.engine.abort_request(arg)
                if out is not None:
                    self._deliver(out)
        self._stats = self.engine.stats()

    def _deliver(self, out: RequestOutput) -> None:
        q = self._queues.get(out.request_id)
        if q is not None:
            q.put_nowait(out)

    def _deliver_error(self, rid: str, err: BaseException) -> None:
        q = self._queues.get(rid)
        if q is not None:
            q.put_nowait(err)

    async def _run(self) -> None:
        assert self._wake is not None
        while not self._closing:
            self._apply_pending()
            if not self.engine.has_unfinished():
                self._wake.clear()
                if not self._pending:
                    await self._wake.wait()
                continue
            try:
                outs = await asyncio.to_thread(self.engine.step)
            except Exception as e:  # a bug in a step fails every live request, loudly
                for rid in list(self._queues):
                    self._deliver_error(rid, e)
                    with contextlib.suppress(Exception):
                        self.engine.abort_request(rid)
                continue
            for out in outs:
                self._deliver(out)
            self._stats = self.engine.stats()

    async def aclose(self) -> None:
        """Stop the background loop after its current step; abort live requests."""
        self._closing = True
        if self._task is not None and self._wake is not None:
            self._wake.set()
            await self._task
            self._task = None
        for rid in list(self.engine.requests):
            if (out := self.engine.abort_request(rid)) is not None:
                self._deliver(out)
        self._closing = False
