"""LoRA adapters at run time: `GET/POST /v1/adapters`, `DELETE /v1/adapters/{name}`.

A load reads the PEFT directory between engine steps (never during one), so requests in flight
keep running; a request then names the adapter as `model: "<base>:<name>"` or `"<name>"`. A
missing directory or unknown name is a 404 naming it; an adapter that does not fit the base
(targets, shapes, rank) is a 400 naming the field.

Loading reads files on the server, so it is confined: only inside the folder the server was
started with (`--adapter-dir`), resolved with symlinks followed, so `..` or a link cannot
leave it; without that folder run-time loads are refused with 403 (vLLM also keeps run-time
LoRA loading off unless asked).
"""

import time
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from lmforge.engine.lora import AdapterError
from lmforge.serve.errors import APIError
from lmforge.serve.http import read_json
from lmforge.serve.protocol import parse
from lmforge.serve.state import ServerState


class LoadAdapter(BaseModel):
    model_config = {"extra": "forbid"}
    name: str = Field(min_length=1)
    path: str = Field(min_length=1)


def adapter_error(e: AdapterError) -> APIError:
    return APIError(404 if e.missing else 400, str(e), param="name" if e.missing else "path")


def confined(root: Path | None, path: str) -> str:
    """The adapter directory `path` names, if it lies inside `root`; else a 403."""
    if root is None:
        raise APIError(
            403,
            "run-time adapter loading is off: start the server with --adapter-dir DIR "
            "(adapters inside DIR may then be loaded)",
            code="adapter_loading_disabled",
        )
    base = root.resolve()
    target = (base / path).resolve()  # an absolute `path` replaces base here
    if not target.is_relative_to(base):
        raise APIError(403, f"adapter path {path!r} is outside --adapter-dir {base}", param="path")
    return str(target)


def adapters_router(state: ServerState) -> APIRouter:
    router = APIRouter()

    def listing() -> list[dict[str, Any]]:
        assert state.engine is not None
        lora = state.engine.engine.lora
        return [
            {
                "name": n,
                "path": str(lora.paths[n]),
                "loaded": n in lora.loaded,
                "rank": lora.loaded[n].rank if n in lora.loaded else None,
            }
            for n in lora.names()
        ]

    @router.get("/v1/adapters")
    async def adapters() -> dict[str, Any]:
        return {"object": "list", "data": listing()}

    @router.post("/v1/adapters")
    async def load(request: Request) -> dict[str, Any]:
        req: LoadAdapter = parse(LoadAdapter, await read_json(request, state.cfg.max_body_bytes))
        assert state.engine is not None
        path = confined(state.cfg.adapter_dir, req.path)
        t0 = time.perf_counter()
        try:
            a = await state.engine.call(state.engine.engine.load_adapter, req.name, path)
        except AdapterError as e:
            raise adapter_error(e) from None
        return {
            "name": a.name,
            "model": f"{state.model_name}:{a.name}",
            "rank": a.rank,
            "targets": list(a.targets),
            "load_s": round(time.perf_counter() - t0, 4),
        }

    @router.delete("/v1/adapters/{name}")
    async def unload(name: str) -> dict[str, Any]:
        assert state.engine is not None
        try:
            await state.engine.call(state.engine.engine.unload_adapter, name)
        except AdapterError as e:
            raise adapter_error(e) from None
        return {"name": name, "deleted": True}

    return router
