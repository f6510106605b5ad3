"""The gateway's lean HTTP/1.1 transport under httpx, against raw asyncio servers."""

import asyncio
import gzip
from collections.abc import Awaitable, Callable

import httpx
import pytest

from lmforge.gateway import transport as lean
from lmforge.gateway.transport import LeanTransport

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def read_request(r: asyncio.StreamReader) -> bytes:
    head = await r.readuntil(b"\r\n\r\n")
    n = next(
        (
            int(v)
            for k, _, v in (ln.partition(b":") for ln in head.split(b"\r\n"))
            if k.lower() == b"content-length"
        ),
        0,
    )
    return head + (await r.readexactly(n) if n else b"")


def reply(body: bytes, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n%s\r\n%s" % (len(body), extra, body)


async def serve(handler: Handler) -> tuple[asyncio.Server, str, list[int]]:
    """A server on a free port; the list counts accepted connections."""
    conns: list[int] = []

    async def on_conn(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        conns.append(1)
        try:
            await handler(r, w)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            w.close()

    srv = await asyncio.start_server(on_conn, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    return srv, f"http://127.0.0.1:{port}", conns


def client(base: str, **kw) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=LeanTransport(), base_url=base, **kw)


def test_keep_alive_reuses_one_connection_and_sends_the_body() -> None:
    seen: list[bytes] = []

    async def echo(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        while True:
            req = await read_request(r)
            seen.append(req)
            w.write(reply(req.split(b"\r\n\r\n", 1)[1].upper()))

    async def main() -> None:
        srv, base, conns = await serve(echo)
        async with client(base) as c:
            for i in range(5):
                resp = await c.post("/v1/x?q=1", content=b'{"n": %d}' % i)
                assert resp.status_code == 200 and resp.content == b'{"N": %d}' % i
        srv.close()
        assert len(conns) == 1
        assert seen[0].startswith(b"POST /v1/x?q=1 HTTP/1.1\r\n")

    asyncio.run(main())


def test_concurrent_requests_each_get_their_own_answer() -> None:
    async def echo(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        while True:
            req = await read_request(r)
            await asyncio.sleep(0.001)
            w.write(reply(req.split(b"\r\n\r\n", 1)[1]))

    async def main() -> None:
        srv, base, conns = await serve(echo)
        async with client(base) as c:
            for _ in range(3):
                outs = await asyncio.gather(*(c.post("/", content=b"%d" % i) for i in range(20)))
                assert [o.content for o in outs] == [b"%d" % i for i in range(20)]
        srv.close()
        assert len(conns) <= 20  # connections come back to the pool between rounds

    asyncio.run(main())


def test_chunked_stream_arrives_piece_by_piece_and_decodes_gzip() -> None:
    async def sse(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await read_request(r)
        w.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
        for i in range(3):
            line = b"data: %d\n\n" % i
            w.write(b"%x\r\n%s\r\n" % (len(line), line))
            await w.drain()
            await asyncio.sleep(0.02)
        w.write(b"0\r\n\r\n")
        packed = gzip.compress(b"hello")
        await read_request(r)
        w.write(reply(packed, b"content-encoding: gzip\r\n"))

    async def main() -> None:
        srv, base, _ = await serve(sse)
        async with client(base) as c:
            async with c.stream("POST", "/s", content=b"{}") as resp:
                lines = [ln async for ln in resp.aiter_lines() if ln]
            assert lines == ["data: 0", "data: 1", "data: 2"]
            assert (await c.post("/g", content=b"{}")).text == "hello"
        srv.close()

    asyncio.run(main())


def test_leaving_mid_stream_closes_the_upstream_connection() -> None:
    async def main() -> None:
        gone = asyncio.Event()

        async def endless(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            await read_request(r)
            w.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
            try:
                while True:
                    w.write(b"5\r\nhello\r\n")
                    await w.drain()
                    await asyncio.sleep(0.005)
            except ConnectionError:
                gone.set()
                raise

        srv, base, _conns = await serve(endless)
        async with client(base) as c, c.stream("POST", "/s", content=b"{}") as resp:
            async for _ in resp.aiter_raw():
                break  # the client leaves after the first piece
        await asyncio.wait_for(gone.wait(), 5)
        srv.close()

    asyncio.run(main())


def test_large_body_streams_through_flow_control(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lean, "HIGH_WATER", 4096)
    blob = bytes(range(256)) * 12_000  # ~3 MB

    async def big(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await read_request(r)
        w.write(reply(blob))
        await w.drain()

    async def main() -> None:
        srv, base, _ = await serve(big)
        async with client(base) as c:
            async with c.stream("GET", "/big") as resp:
                got = b""
                async for piece in resp.aiter_raw():
                    got += piece
                    await asyncio.sleep(0)  # a slow reader: the socket must pause, not buffer
            assert got == blob
        srv.close()

    asyncio.run(main())


def test_a_pooled_connection_the_upstream_closed_is_replaced() -> None:
    async def once(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await read_request(r)
        w.write(reply(b"ok"))  # keep-alive by default, then the server closes it anyway
        await w.drain()

    async def main() -> None:
        srv, base, conns = await serve(once)
        async with client(base) as c:
            for _ in range(3):
                assert (await c.post("/", content=b"x")).content == b"ok"
                await asyncio.sleep(0.05)
        srv.close()
        assert len(conns) == 3

    asyncio.run(main())


def test_errors_are_httpx_errors() -> None:
    async def hang(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await read_request(r)
        await asyncio.sleep(10)

    async def cut(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await read_request(r)
        w.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nshort")
        await w.drain()

    async def garbage(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await read_request(r)
        w.write(b"NOT HTTP AT ALL\r\n\r\n")
        await w.drain()
        await asyncio.sleep(1)

    async def main() -> None:
        srv, base, _ = await serve(hang)
        srv.close()
        await srv.wait_closed()
        async with client(base) as c:  # nothing listens there any more
            with pytest.raises(httpx.ConnectError):
                await c.get("/")
        for handler, exc in (
            (hang, httpx.ReadTimeout),
            (cut, httpx.RemoteProtocolError),
            (garbage, httpx.RemoteProtocolError),
        ):
            srv, base, _ = await serve(handler)
            async with client(base, timeout=0.3) as c:
                with pytest.raises(exc):
                    await c.post("/", content=b"{}")
            srv.close()

    asyncio.run(main())
