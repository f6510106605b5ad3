"""The gateway's FastAPI app: /v1/chat/completions, /v1/completions, /v1/models, /metrics.

Errors use `lmforge serve`'s OpenAI-shaped `APIError`; bodies are read with its bounded
`read_json`. Every answer carries `x-lmforge-cache` (exact / semantic / miss) and, when a
backend answered, `x-lmforge-backend`; JSON bodies carry the same in an `lmforge` field.
"""

from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException

from lmforge.gateway.service import Gateway, _Streamed
from lmforge.serve.errors import APIError
from lmforge.serve.http import key_of, read_json

SSE_HEADERS = {"Cache-Control": "no-cache"}


class ClosingStream(StreamingResponse):
    """Closes its iterator when the response ends, also when the client left mid-stream:
    Starlette just stops iterating then, and the generator's `finally` (close the upstream,
    bill) would wait for garbage collection."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            close = getattr(self.body_iterator, "aclose", None)
            if close is not None:
                await close()


def create_gateway_app(gw: Gateway | None = None, lifespan: Any = None) -> FastAPI:
    """The app; with `gw=None` the lifespan must set `app.state.gateway` before serving."""
    app = FastAPI(title="lmforge gateway", docs_url=None, redoc_url=None, lifespan=lifespan)
    app.state.gateway = gw

    @app.exception_handler(APIError)
    async def api_error(request: Request, e: APIError) -> JSONResponse:
        return e.response()

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, e: HTTPException) -> JSONResponse:
        return APIError(e.status_code, str(e.detail)).response()

    async def relay(request: Request, path: str) -> Response:
        gw: Gateway = request.app.state.gateway
        body = await read_json(request, gw.cfg.max_body_bytes)
        out = await gw.handle(path, body, key_of(request))
        if isinstance(out, _Streamed):
            return ClosingStream(
                out.chunks, media_type="text/event-stream", headers={**SSE_HEADERS, **out.headers}
            )
        meta = out.get("lmforge") or {}
        headers = {"x-lmforge-cache": meta.get("cache") or "miss"}
        if meta.get("backend"):
            headers["x-lmforge-backend"] = meta["backend"]
        return Response(orjson.dumps(out), media_type="application/json", headers=headers)

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        return await relay(request, "/chat/completions")

    @app.post("/v1/completions")
    async def completions(request: Request) -> Response:
        return await relay(request, "/completions")

    @app.get("/v1/models")
    async def models(request: Request) -> dict[str, Any]:
        gw: Gateway = request.app.state.gateway
        gw.key_name(key_of(request))
        data = [
            {
                "id": name,
                "object": "model",
                "owned_by": "lmforge-gateway",
                "policy": r.policy,
                "backends": r.backends,
            }
            for name, r in sorted(gw.routes.items())
        ]
        return {"object": "list", "data": data}

    @app.get("/health")
    async def health(request: Request) -> dict[str, Any]:
        gw: Gateway = request.app.state.gateway
        return {"status": "ok", "backends": {n: b.breaker.state for n, b in gw.backends.items()}}

    @app.get("/metrics")
    async def metrics(request: Request) -> Response:
        gw: Gateway = request.app.state.gateway
        return Response(gw.metrics.render(), media_type="text/plain; version=0.0.4")

    return app
