"""The FastAPI app: the routers (ops, OpenAI API, RAG, console) behind the gate (503/401/413).

`create_app` only wires things together: the model loads in the background at start-up (the
lifespan), errors of every router share OpenAI's error shape, and the gate middleware wraps all.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from lmforge.runs import runs_root
from lmforge.serve.errors import APIError
from lmforge.serve.gate import Gate
from lmforge.serve.http import ClientGone
from lmforge.serve.routes.adapters import adapters_router
from lmforge.serve.routes.console import console_router
from lmforge.serve.routes.embeddings import embeddings_router
from lmforge.serve.routes.openai import openai_router
from lmforge.serve.routes.ops import ops_router
from lmforge.serve.routes.rag import rag_router
from lmforge.serve.state import ServerState


def create_app(state: ServerState) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async def load() -> None:
            try:
                state.install(await asyncio.to_thread(state.loader))
            except Exception as e:  # reported by /health and every /v1 call as a 503
                state.load_error = f"{type(e).__name__}: {e}"
                raise

        task = asyncio.create_task(load())
        yield
        if not task.done():
            task.cancel()
        if state.engine is not None:
            await state.engine.aclose()

    app = FastAPI(title="lmforge", lifespan=lifespan, docs_url=None, redoc_url=None)

    @app.exception_handler(APIError)
    async def api_error(request: Request, e: APIError) -> JSONResponse:
        return e.response()

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, e: HTTPException) -> JSONResponse:
        return APIError(e.status_code, str(e.detail)).response()

    @app.exception_handler(ClientGone)
    async def gone(request: Request, e: ClientGone) -> Response:
        # Nobody reads this; 499 (nginx's "client closed request") keeps a hang-up out of the
        # 5xx counts and the error log, where a bug would be.
        return Response(status_code=499)

    @app.exception_handler(Exception)
    async def bug(request: Request, e: Exception) -> JSONResponse:
        rid = request.state.log.get("request_id")
        return APIError(500, f"internal error (request {rid}); see the server log").response()

    app.include_router(ops_router(state))
    app.include_router(openai_router(state))
    app.include_router(adapters_router(state))
    app.include_router(embeddings_router(state))
    app.include_router(rag_router(state))
    if state.cfg.console:
        app.include_router(console_router(runs_root(state.cfg.runs_dir), state.keys))
    app.add_middleware(Gate, state=state)  # type: ignore[arg-type]
    return app
