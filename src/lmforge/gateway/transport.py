"""A lean HTTP/1.1 transport for httpx: keep-alive connections on asyncio protocols, httptools
parsing, an O(1) idle pool.

Why: at 200 proxied requests/s the gateway spent ~1.4 ms of CPU per request, 55-70% of it in
httpcore and anyio (a pool that scans every pooled connection on each request start and end,
a `poll` per idle socket, several anyio wrappers per socket call; profile in
docs/benchmarks.md). The gateway keeps httpx's client API (requests, responses, streaming,
content decoding, timeouts as `httpx.Timeout`) and swaps only the transport under it: each
connection is one `asyncio.Protocol` fed by the C parser from httptools (uvicorn's), idle
connections wait in a deque per origin, and a response body streams from the protocol with
flow control. Errors surface as httpx's own exceptions (ConnectError, ConnectTimeout,
ReadTimeout, RemoteProtocolError), so retry and fallback logic is unchanged.

A response whose body was not read to its end (a client that left mid-stream) closes its
connection, which is how the disconnect reaches the upstream; only fully read responses with
keep-alive return their connection to the pool.
"""

import asyncio
import ssl
from collections import deque
from collections.abc import AsyncIterator

import httptools
import httpx

HIGH_WATER = 1 << 20  # buffered body bytes before the socket stops being read


class _Conn(asyncio.Protocol):
    """One upstream connection; carries one request/response at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.reused = False  # taken from the idle pool (the upstream may have closed it)
        self._reset()

    def _reset(self) -> None:
        self.headers: list[tuple[bytes, bytes]] = []
        self.head = asyncio.get_running_loop().create_future()
        self.chunks: deque[bytes] = deque()
        self.buffered = 0
        self.complete = False
        self.busy = False  # a request was written and its response is not yet released
        self.keep_alive = False
        self.error: Exception | None = None
        self.wake: asyncio.Future[None] | None = None
        self.paused = False

    # -- asyncio.Protocol --------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as e:
            self._fail(httpx.RemoteProtocolError(f"bad response from upstream: {e}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.busy and not self.complete:  # idle in the pool: nobody to tell
            self._fail(httpx.RemoteProtocolError("upstream closed the connection mid-response"))

    # -- httptools callbacks -----------------------------------------------------------------
    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        if not self.head.done():
            self.head.set_result(None)

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)
        self.buffered += len(body)
        if self.buffered > HIGH_WATER and self.transport is not None and not self.paused:
            self.paused = True
            self.transport.pause_reading()
        self._notify()

    def on_message_complete(self) -> None:
        self.keep_alive = self.parser.should_keep_alive()  # only valid inside this callback
        self.complete = True
        self._notify()

    # -- helpers -----------------------------------------------------------------------------
    def _notify(self) -> None:
        if self.wake is not None and not self.wake.done():
            self.wake.set_result(None)

    def _fail(self, exc: Exception) -> None:
        self.error = exc
        if not self.head.done():
            self.head.set_exception(exc)
        self._notify()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    async def next_chunk(self, timeout: float | None) -> bytes | None:
        """The next body piece; None at the end of the message."""
        while not self.chunks:
            if self.complete:
                return None
            if self.error is not None:
                raise self.error
            self.wake = asyncio.get_running_loop().create_future()
            try:
                await asyncio.wait_for(self.wake, timeout)
            except TimeoutError:
                raise httpx.ReadTimeout("upstream sent no data in time") from None
        chunk = self.chunks.popleft()
        self.buffered -= len(chunk)
        if self.paused and self.buffered <= HIGH_WATER // 2 and self.transport is not None:
            self.paused = False
            self.transport.resume_reading()
        return chunk


class _Body(httpx.AsyncByteStream):
    """A response body read off its connection; returns the connection when fully read."""

    def __init__(self, conn: _Conn, pool: "LeanTransport", key: tuple, read_s: float | None):
        self.conn, self.pool, self.key, self.read_s = conn, pool, key, read_s
        self.done = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while (chunk := await self.conn.next_chunk(self.read_s)) is not None:
            yield chunk
        self.done = True

    async def aclose(self) -> None:
        conn, self.conn = self.conn, None  # type: ignore[assignment]
        if conn is None:
            return
        if self.done and conn.keep_alive and not conn.closed:
            self.pool.release(self.key, conn)
        else:
            conn.close()


class LeanTransport(httpx.AsyncBaseTransport):
    """httpx transport over pooled HTTP/1.1 keep-alive connections (http and https)."""

    def __init__(self, max_keepalive: int = 64, ssl_context: ssl.SSLContext | None = None):
        self.max_keepalive = max_keepalive
        self.ssl_context = ssl_context
        self.idle: dict[tuple, deque[_Conn]] = {}
        self.closed = False

    def release(self, key: tuple, conn: _Conn) -> None:
        idle = self.idle.setdefault(key, deque())
        if self.closed or len(idle) >= self.max_keepalive:
            conn.close()
            return
        conn._reset()
        idle.append(conn)

    async def _connect(self, key: tuple, timeout: float | None, reuse: bool) -> _Conn:
        idle = self.idle.get(key)
        while reuse and idle:
            conn = idle.pop()  # most recently used first: the warmest socket
            if not conn.closed:
                conn.reused = True
                return conn
        scheme, host, port = key
        ctx = None
        if scheme == "https":
            ctx = self.ssl_context or ssl.create_default_context()
        loop = asyncio.get_running_loop()
        try:
            _, conn = await asyncio.wait_for(
                loop.create_connection(_Conn, host, port, ssl=ctx), timeout
            )
        except TimeoutError:
            raise httpx.ConnectTimeout(f"connecting to {host}:{port} timed out") from None
        except OSError as e:
            raise httpx.ConnectError(f"cannot connect to {host}:{port}: {e}") from None
        return conn

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        port = url.port or (443 if url.scheme == "https" else 80)
        key = (url.scheme, url.host, port)
        t = request.extensions.get("timeout", {})
        body = await request.aread()
        head = [b"%s %s HTTP/1.1\r\n" % (request.method.encode(), url.raw_path)]
        head += [b"%s: %s\r\n" % (k, v) for k, v in request.headers.raw]
        message = b"".join(head) + b"\r\n" + body
        for reuse in (True, False):
            conn = await self._connect(key, t.get("connect"), reuse)
            assert conn.transport is not None and not conn.headers, "a connection carries one"
            conn.busy = True
            conn.transport.write(message)
            try:
                await asyncio.wait_for(asyncio.shield(conn.head), t.get("read"))
                break
            except TimeoutError:
                conn.close()
                raise httpx.ReadTimeout("upstream sent no response headers in time") from None
            except httpx.RemoteProtocolError:
                conn.close()
                if not conn.reused:
                    raise
                # a pooled connection the upstream had closed while idle: once more, fresh
        return httpx.Response(
            conn.parser.get_status_code(),
            headers=conn.headers,
            stream=_Body(conn, self, key, t.get("read")),
            extensions={"http_version": b"HTTP/1.1"},
        )

    async def aclose(self) -> None:
        self.closed = True
        for idle in self.idle.values():
            while idle:
                idle.pop().close()
