"""Request plumbing shared by the routers: bounded JSON bodies and disconnect-aware awaiting."""

import asyncio
import json
from collections.abc import Awaitable
from typing import Any, TypeVar

from fastapi import Request

from lmforge.serve.errors import APIError

T = TypeVar("T")


class ClientGone(Exception):
    """The client disconnected before its answer was ready."""


async def read_json(request: Request, limit: int) -> Any:
    """The body as JSON; 413 past `limit` even without a Content-Length (chunked uploads)."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise APIError(413, f"request body exceeds {limit} bytes (max_body_bytes)")
        chunks.append(chunk)
    try:
        return json.loads(b"".join(chunks))
    except (ValueError, UnicodeDecodeError) as e:
        raise APIError(400, f"request body is not valid JSON ({e})") from None


async def until_disconnect(request: Request, work: Awaitable[T]) -> T:
    """Run `work` unless the client disconnects first, in which case cancel it (-> abort)."""
    task = asyncio.ensure_future(work)

    async def watch() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass

    watcher = asyncio.create_task(watch())
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            raise ClientGone
    return task.result()


def key_of(request: Request) -> str | None:
    """The bearer token of the request (the API key), if any."""
    auth = request.headers.get("authorization", "")
    return auth.partition(" ")[2] or None
