"""`lmforge console`: the web console on its own, over a runs dir, in front of a server.

The console's pages talk to `/v1/*`, `/metrics` and `/health` of their own origin; here those
paths are proxied (streaming, so SSE answers arrive token by token) to `upstream`, which can be
`lmforge serve`, a gateway, or any OpenAI-compatible server. Without an upstream the run pages
still work and the playground says there is no server.
"""

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.background import BackgroundTask

from lmforge.extras import require
from lmforge.serve.errors import APIError
from lmforge.serve.routes.console import console_router

HOP = {"host", "content-length", "connection", "transfer-encoding", "accept-encoding"}


def create_console_app(
    runs_dir: Path, upstream: str | None = None, upstream_key: str | None = None
) -> FastAPI:
    httpx = require("serve", "httpx")
    client = httpx.AsyncClient(base_url=upstream or "", timeout=httpx.Timeout(600, connect=10))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await client.aclose()

    app = FastAPI(title="lmforge console", lifespan=lifespan, docs_url=None, redoc_url=None)

    @app.exception_handler(APIError)
    async def api_error(request: Request, e: APIError) -> JSONResponse:
        return e.response()

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/console")

    app.include_router(console_router(runs_dir))

    @app.api_route("/v1/{path:path}", methods=["GET", "POST"])
    @app.get("/metrics")
    @app.get("/health")
    async def proxy(request: Request) -> Response:
        if upstream is None:
            raise APIError(502, "no server to talk to: start `lmforge console --upstream URL`")
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP}
        if upstream_key and "authorization" not in headers:
            headers["authorization"] = f"Bearer {upstream_key}"
        req = client.build_request(
            request.method,
            request.url.path,
            params=request.query_params,
            headers=headers,
            content=await request.body(),
        )
        try:
            resp = await client.send(req, stream=True)
        except httpx.TransportError as e:
            raise APIError(
                502, f"upstream {upstream} is unreachable ({type(e).__name__})"
            ) from None

        async def body() -> AsyncIterator[bytes]:
            async for chunk in resp.aiter_raw():
                yield chunk

        keep = {
            k: v for k, v in resp.headers.items() if k.lower() not in HOP | {"content-encoding"}
        }
        return StreamingResponse(
            body(), resp.status_code, keep, background=BackgroundTask(resp.aclose)
        )

    return app
