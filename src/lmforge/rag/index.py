"""Incremental indexing: add new files, re-embed changed ones, drop removed ones.

Files are compared by SHA-256 against the live generation. Chunks of unchanged files are kept
with their vectors; changed and new files are re-chunked, and any chunk whose text hash already
has a vector (anywhere in the old index) reuses it, so re-indexing unchanged text embeds nothing.
An index records its embedder's fingerprint; building or querying with another one is an error.

A build killed mid-way (kill -9, power loss) leaves the live generation untouched (a new one
only becomes current by an atomic rename) and keeps the vectors it had already embedded: each
embedding batch is saved atomically under `.pending/<embedder fingerprint>/` as it finishes, a
rerun loads them instead of embedding again, and a successful build deletes them.
"""

import hashlib
import io
import json
import os
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock

from lmforge.errors import LMForgeError
from lmforge.files import atomic_write_bytes, sha256_file
from lmforge.rag.chunking import Chunk, make_chunker
from lmforge.rag.config import RagConfig
from lmforge.rag.documents import discover, load_documents
from lmforge.rag.embed import Embedder, text_hash
from lmforge.rag.store import IndexContents, LocalStore, current_generation, write_generation

CHUNK_KEYS = ("chunker", "chunk_size", "chunk_overlap", "semantic_percentile", "jsonl_field")


@dataclass(slots=True)
class IndexReport:
    files: int = 0
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)
    chunks: int = 0
    embedded: int = 0  # chunks that needed the model (cache misses)
    reused: int = 0  # chunks whose vector came from the cache
    resumed: int = 0  # of those, vectors a killed earlier build had saved in .pending/
    generation: str = ""


def check_embedder(meta: dict[str, Any], embedder: Embedder, where: Path) -> None:
    """Refuse to mix embedders: their vectors live in different spaces."""
    recorded = meta.get("embedder", {})
    if recorded.get("fingerprint") != embedder.id:
        raise LMForgeError(
            f"{where}: index was built with embedder {recorded.get('name')!r} "
            f"(fingerprint {recorded.get('fingerprint')}), not {embedder.name!r} "
            f"({embedder.id}); use the same embedder or index into a new directory"
        )


def chunk_settings(cfg: RagConfig) -> dict[str, Any]:
    return {k: getattr(cfg, k) for k in CHUNK_KEYS}


def previous_contents(root: Path, embedder: Embedder) -> IndexContents | None:
    if current_generation(root) is None:
        return None
    store = LocalStore(root)
    check_embedder(store.meta, embedder, root)
    return store.contents()


def _load_pending(pending: Path) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for p in sorted(pending.glob("*.npz")):
        with np.load(p) as z:
            out.update(zip(z["hashes"].tolist(), z["vectors"], strict=True))
    return out


def _save_pending(pending: Path, vecs: dict[str, np.ndarray]) -> None:
    buf = io.BytesIO()
    np.savez(buf, hashes=np.array(list(vecs)), vectors=np.stack(list(vecs.values())))
    atomic_write_bytes(pending / f"{os.getpid()}-{secrets.token_hex(4)}.npz", buf.getvalue())


def plan(
    cfg: RagConfig,
    embedder: Embedder,
    old: IndexContents | None,
    progress: Callable[..., Any],
    pending: Path | None = None,
) -> tuple[IndexContents, IndexReport]:
    """The next generation's contents (vectors included) and what changed.

    `pending`: where embedding batches are saved as they finish (and read back on a rerun).
    """
    report = IndexReport()
    paths = discover(cfg.docs)
    shas = {str(p): sha256_file(p) for p in paths}
    report.files = len(paths)
    same_chunking = old is not None and old.meta.get("chunking") == chunk_settings(cfg)
    old_files = old.files if old else {}
    keep = {p for p, s in shas.items() if same_chunking and old_files.get(p) == s}
    report.unchanged = len(keep)
    report.added = sorted(p for p in shas if p not in old_files)
    report.changed = sorted(p for p in shas if p in old_files and p not in keep)
    report.removed = sorted(p for p in old_files if p not in shas)

    cache: dict[str, np.ndarray] = {}
    chunks: list[Chunk] = []
    hashes: list[str] = []
    vectors: list[np.ndarray] = []
    if old is not None:
        for c, h, v in zip(old.chunks, old.hashes, old.vectors, strict=True):
            cache[h] = v
            if c.source in keep:
                chunks.append(c)
                hashes.append(h)
                vectors.append(v)
    todo = [p for p in paths if str(p) not in keep]
    loaded = load_documents(todo, cfg.jsonl_field)
    report.failures = loaded.failures
    failed = {p for p, _ in loaded.failures}
    report.added = [p for p in report.added if p not in failed]
    report.changed = [p for p in report.changed if p not in failed]
    files = {p: s for p, s in shas.items() if p in keep}
    files.update({d.path: shas[d.path] for d in loaded.documents})
    chunker = make_chunker(
        cfg.chunker, embedder, cfg.chunk_size, cfg.chunk_overlap, cfg.semantic_percentile
    )
    new_chunks: list[Chunk] = []
    for doc in progress(loaded.documents, "chunking"):
        new_chunks.extend(chunker.chunk(doc))
    new_hashes = [text_hash(c.text) for c in new_chunks]
    saved = _load_pending(pending) if pending is not None else {}
    report.resumed = sum(1 for h in dict.fromkeys(new_hashes) if h not in cache and h in saved)
    cache = saved | cache
    missing = list(dict.fromkeys(h for h in new_hashes if h not in cache))
    text_of = {h: c.text for c, h in zip(new_chunks, new_hashes, strict=True)}
    batch = max(cfg.batch_size * 4, 1)
    for start in progress(range(0, len(missing), batch), "embedding"):
        part = missing[start : start + batch]
        done = dict(zip(part, embedder.encode([text_of[h] for h in part]), strict=True))
        if pending is not None:
            _save_pending(pending, done)
        cache.update(done)
    report.embedded = len(missing)
    report.reused = len(new_chunks) - len(missing)
    chunks += new_chunks
    hashes += new_hashes
    vectors += [cache[h] for h in new_hashes]
    report.chunks = len(chunks)
    matrix = np.stack(vectors) if vectors else np.zeros((0, embedder.dim), np.float32)
    meta = {"embedder": embedder.describe(), "chunking": chunk_settings(cfg)}
    return IndexContents(meta, files, chunks, hashes, matrix.astype(np.float32)), report


def build_index(
    cfg: RagConfig, embedder: Embedder, progress: Callable[..., Any] | None = None
) -> IndexReport:
    """Bring the local index at `cfg.index` in line with `cfg.docs` (locked, crash-safe)."""
    progress = progress or (lambda it, _label: it)
    root = Path(cfg.index)
    root.mkdir(parents=True, exist_ok=True)
    with FileLock(str(root / ".lock")):
        old = previous_contents(root, embedder)
        fp = hashlib.sha256(json.dumps(embedder.describe(), sort_keys=True).encode()).hexdigest()
        pending = root / ".pending" / fp[:16]
        contents, report = plan(cfg, embedder, old, progress, pending)
        report.generation = write_generation(root, contents, cfg.ann_threshold).name
        shutil.rmtree(root / ".pending", ignore_errors=True)
    return report
