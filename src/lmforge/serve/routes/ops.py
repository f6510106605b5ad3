"""Operational routes: `/health` (load balancers, drain) and `/metrics` (Prometheus)."""

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from lmforge.serve.state import ServerState


def ops_router(state: ServerState) -> APIRouter:
    router = APIRouter()

    @router.get("/health")
    async def health() -> JSONResponse:
        status = "draining" if state.draining else "ok" if state.engine else "loading"
        if state.load_error:
            status = "failed"
        body = {"status": status, "model": state.model_name, "error": state.load_error}
        return JSONResponse(body, status_code=200 if status == "ok" else 503)

    @router.get("/metrics")
    async def metrics() -> Response:
        return Response(state.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    return router
