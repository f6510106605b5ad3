"""An httpx transport that calls an ASGI app in-process, streaming, with disconnects.

httpx's own `ASGITransport` buffers the whole response before returning, so a streamed answer
would arrive all at once and a client leaving could not stop generation. This one returns as
soon as the app sends its status line, yields body chunks as the app sends them, and, when the
response is closed early, delivers `http.disconnect` to the app, exactly as uvicorn would: the
in-process `lmforge serve` app then aborts the engine sequence and frees its KV blocks.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
from starlette.types import ASGIApp, Message

_END = {"type": "gateway.end"}


class _Body(httpx.AsyncByteStream):
    def __init__(
        self, queue: asyncio.Queue[Message], task: asyncio.Task[None], gone: asyncio.Event
    ) -> None:
        self.queue, self.task, self.gone, self.done = queue, task, gone, False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while not self.done:
            msg = await self.queue.get()
            if msg is _END:
                self.done = True
                break
            if msg["type"] == "http.response.body":
                if msg.get("body"):
                    yield msg["body"]
                self.done = not msg.get("more_body", False)

    async def aclose(self) -> None:
        self.gone.set()  # the app sees http.disconnect (a no-op once it has finished)
        with contextlib.suppress(asyncio.TimeoutError, Exception):
            await asyncio.wait_for(asyncio.shield(self.task), 5.0)
        if not self.task.done():
            self.task.cancel()


class InProcessTransport(httpx.AsyncBaseTransport):
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": request.method,
            "scheme": "http",
            "path": request.url.path,
            "raw_path": request.url.raw_path.split(b"?")[0],
            "query_string": request.url.query,
            "headers": [(k.lower(), v) for k, v in request.headers.raw],
            "server": ("in-process", 80),
            "client": ("127.0.0.1", 0),
            "root_path": "",
        }
        queue: asyncio.Queue[Message] = asyncio.Queue()
        gone = asyncio.Event()
        sent = False

        async def receive() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await gone.wait()
            return {"type": "http.disconnect"}

        async def send(msg: Message) -> None:
            queue.put_nowait(msg)

        async def run() -> None:
            try:
                await self.app(scope, receive, send)
            finally:
                queue.put_nowait(_END)

        task = asyncio.create_task(run())
        start = await queue.get()
        if start is _END:  # the app died before answering
            exc = task.exception()
            raise httpx.RemoteProtocolError(f"in-process app failed: {exc!r}", request=request)
        assert start["type"] == "http.response.start", start
        return httpx.Response(
            start["status"],
            headers=start.get("headers", []),
            stream=_Body(queue, task, gone),
            request=request,
        )
