"""The web console at `/console`: static pages shipped in the package, and JSON about runs.

The pages (serve/console/) call the OpenAI API, `/v1/models` and `/metrics` of the server they
are served from, so the same files work behind `lmforge serve`, behind `lmforge console` (which
proxies those paths to a server or gateway) and in front of anything OpenAI-compatible. Run data
comes from the run manifests under `runs_dir` (serve/console_data.py). When the server has API
keys, the run endpoints want one too: manifests hold configs and paths.
"""

import hmac
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse

from lmforge.errors import LMForgeError
from lmforge.serve import console_data
from lmforge.serve.errors import APIError
from lmforge.serve.http import key_of

STATIC = Path(__file__).resolve().parent.parent / "console"
MEDIA = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
}


def _static(name: str) -> FileResponse:
    path = STATIC / name
    if "/" in name or path.suffix not in MEDIA or not path.is_file():
        raise APIError(404, f"no console file {name!r}")
    return FileResponse(path, media_type=MEDIA[path.suffix], headers={"Cache-Control": "no-cache"})


def console_router(runs_dir: Path, keys: frozenset[str] = frozenset()) -> APIRouter:
    router = APIRouter()

    def check_key(request: Request) -> None:
        key = key_of(request)
        if keys and not (key and any(hmac.compare_digest(key, k) for k in keys)):
            raise APIError(
                401, "the console's run API needs the server's API key", code="invalid_api_key"
            )

    def found(fn: Any, *args: Any) -> Any:
        try:
            return fn(runs_dir, *args)
        except LMForgeError as e:
            raise APIError(404, str(e)) from None

    @router.get("/console", include_in_schema=False)
    async def index() -> FileResponse:
        return _static("index.html")

    @router.get("/console/", include_in_schema=False)
    async def slash() -> RedirectResponse:
        return RedirectResponse("/console")

    @router.get("/console/static/{name}", include_in_schema=False)
    async def static(name: str) -> FileResponse:
        return _static(name)

    @router.get("/console/api/runs")
    async def runs(request: Request) -> dict[str, Any]:
        check_key(request)
        return {"runs_dir": str(runs_dir), "runs": console_data.list_summaries(runs_dir)}

    @router.get("/console/api/runs/{run_id}")
    async def run(run_id: str, request: Request) -> dict[str, Any]:
        check_key(request)
        return found(console_data.detail, run_id)

    @router.get("/console/api/runs/{run_id}/rejected")
    async def rejected(
        run_id: str, request: Request, reason: str | None = None, limit: int = 20
    ) -> dict[str, Any]:
        check_key(request)
        return found(console_data.rejected_samples, run_id, reason, min(max(limit, 1), 200))

    return router
