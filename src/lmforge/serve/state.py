"""What the app holds while it runs: the loaded parts, the gates and the counters."""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lmforge.engine import AsyncLLMEngine
from lmforge.serve.admission import Admission
from lmforge.serve.config import ServeConfig
from lmforge.serve.metrics import Metrics
from lmforge.serve.scanners import Scanner, Scanners


@dataclass(slots=True)
class Loaded:
    """What loading produces (in a worker thread, so the server answers 503 meanwhile)."""

    engine: AsyncLLMEngine
    embedder: Any = None  # a SentenceTransformer, or None when embeddings are off
    scanners: list[Scanner] = field(default_factory=list)
    rag: Any = None  # a serve.rag.RagService when the RAG route is on (--rag-index)


@dataclass(slots=True)
class ServerState:
    cfg: ServeConfig
    model_name: str
    keys: frozenset[str]
    loader: Callable[[], Loaded]
    admission: Admission
    metrics: Metrics = field(init=False)
    engine: AsyncLLMEngine | None = None
    embedder: Any = None
    scanners: Scanners = field(default_factory=Scanners)
    embed_name: str = "all-MiniLM-L6-v2"
    rag: Any = None
    run_dir: Path | None = None  # the serve run's directory: self-check records go there
    draining: bool = False
    load_error: str | None = None
    started: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        self.metrics = Metrics(
            self.model_name,
            lambda: self.engine.stats() if self.engine else None,
            lambda: self.admission.waiting_seqs,
        )

    def install(self, loaded: Loaded) -> None:
        self.engine, self.embedder, self.rag = loaded.engine, loaded.embedder, loaded.rag
        self.scanners = Scanners(list(loaded.scanners))

    @property
    def max_model_len(self) -> int:
        assert self.engine is not None
        return self.engine.engine.max_model_len
