"""Milvus through pymilvus: the same store interface, tested with milvus-lite.

`milvus_uri` ending in `.db` (default `<index>/milvus.db`) runs milvus-lite in-process; an
`http://host:19530` URI points the same code at a Milvus server or cluster. Chunk ids are stable
hashes of (source, position, text), so re-indexing upserts and deletes by source; the catalog
(file hashes, embedder, chunking) is a JSON file in the index directory written atomically
*after* Milvus is updated, so a crash leaves the old catalog and the next run converges again.
"""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock

from lmforge.extras import require
from lmforge.files import atomic_write_json
from lmforge.rag.chunking import Chunk
from lmforge.rag.config import RagConfig
from lmforge.rag.embed import Embedder, text_hash
from lmforge.rag.index import IndexReport, check_embedder, plan
from lmforge.rag.lexical import BM25Index
from lmforge.rag.store import IndexContents

CATALOG = "milvus-catalog.json"
COLLECTION = "lmforge_chunks"
FIELDS = ["source", "position", "headings", "text", "hash"]


def chunk_id(c: Chunk) -> int:
    """Stable 62-bit id of a chunk (Milvus int64 primary key)."""
    return int(text_hash(f"{c.source}\x00{c.position}\x00{c.text}")[:15], 16) >> 2


def client_for(cfg: RagConfig) -> Any:
    pymilvus = require("rag", "pymilvus")
    Path(cfg.index).mkdir(parents=True, exist_ok=True)
    return pymilvus.MilvusClient(cfg.milvus_uri or str(Path(cfg.index) / "milvus.db"))


def _rows(client: Any, fields: list[str]) -> list[dict[str, Any]]:
    if not client.has_collection(COLLECTION):
        return []
    it = client.query_iterator(COLLECTION, batch_size=1000, filter="id >= 0", output_fields=fields)
    rows: list[dict[str, Any]] = []
    while batch := it.next():
        rows.extend(batch)
    it.close()
    return rows


def _chunk(row: dict[str, Any]) -> Chunk:
    return Chunk(
        row["text"], row["source"], int(row["position"]), tuple(json.loads(row["headings"]))
    )


class MilvusStore:
    def __init__(self, client: Any, meta: dict[str, Any]) -> None:
        self.client, self.meta = client, meta
        rows = sorted(_rows(client, ["id", "text"]), key=lambda r: r["id"])
        self.ids = [int(r["id"]) for r in rows]
        self.bm25 = _IdMapped(BM25Index.build([r["text"] for r in rows]), self.ids)

    @classmethod
    def open(cls, cfg: RagConfig) -> "MilvusStore":
        from lmforge.errors import LMForgeError

        catalog = Path(cfg.index) / CATALOG
        if not catalog.is_file():
            raise LMForgeError(
                f"{cfg.index}: no Milvus index; run `lmforge rag index --store milvus`"
            )
        return cls(client_for(cfg), json.loads(catalog.read_text())["meta"])

    def __len__(self) -> int:
        return len(self.ids)

    def search(self, queries: np.ndarray, k: int) -> list[list[tuple[int, float]]]:
        if not self.ids:
            return [[] for _ in queries]
        res = self.client.search(
            COLLECTION,
            data=[q.tolist() for q in queries],
            limit=min(k, len(self.ids)),
            search_params={"metric_type": "IP"},
        )
        return [[(int(h["id"]), float(h["distance"])) for h in hits] for hits in res]

    def chunks(self, ids: list[int]) -> list[Chunk]:
        rows = self.client.get(COLLECTION, ids=ids, output_fields=FIELDS)
        by_id = {int(r["id"]): _chunk(r) for r in rows}
        return [by_id[i] for i in ids]

    def all_texts(self) -> list[str]:
        return [c.text for c in self.chunks(self.ids)] if self.ids else []


class _IdMapped:
    """BM25 over the collection, reporting Milvus ids instead of list positions."""

    def __init__(self, index: BM25Index, ids: list[int]) -> None:
        self.index, self.ids = index, ids

    def search(self, queries: list[str], k: int) -> list[list[tuple[int, float]]]:
        return [[(self.ids[i], s) for i, s in r] for r in self.index.search(queries, k)]


def _old_contents(client: Any, catalog: dict[str, Any]) -> IndexContents | None:
    if not catalog:
        return None
    rows = _rows(client, [*FIELDS, "vector"])
    vecs = np.array([r["vector"] for r in rows], np.float32).reshape(len(rows), -1)
    return IndexContents(
        catalog["meta"],
        catalog["files"],
        [_chunk(r) for r in rows],
        [r["hash"] for r in rows],
        vecs,
    )


def build_milvus_index(
    cfg: RagConfig, embedder: Embedder, progress: Callable[..., Any] | None = None
) -> IndexReport:
    """Incrementally sync the Milvus collection with `cfg.docs` (same plan as the local store)."""
    progress = progress or (lambda it, _label: it)
    root = Path(cfg.index)
    root.mkdir(parents=True, exist_ok=True)
    with FileLock(str(root / ".lock")):
        client = client_for(cfg)
        path = root / CATALOG
        catalog = json.loads(path.read_text()) if path.is_file() else {}
        if catalog:
            check_embedder(catalog["meta"], embedder, root)
        contents, report = plan(cfg, embedder, _old_contents(client, catalog), progress)
        if not client.has_collection(COLLECTION):
            client.create_collection(
                COLLECTION,
                dimension=embedder.dim,
                metric_type="IP",
                auto_id=False,
                id_type="int",
                consistency_level="Strong",
            )
        new = {
            chunk_id(c): (c, h, v)
            for c, h, v in zip(contents.chunks, contents.hashes, contents.vectors, strict=True)
        }
        old_ids = {int(r["id"]) for r in _rows(client, ["id"])}
        gone = sorted(old_ids - set(new))
        if gone:
            client.delete(COLLECTION, ids=gone)
        rows = [
            {
                "id": i,
                "vector": v.tolist(),
                "source": c.source,
                "position": c.position,
                "headings": json.dumps(c.headings),
                "text": c.text,
                "hash": h,
            }
            for i, (c, h, v) in new.items()
            if i not in old_ids
        ]
        for start in range(0, len(rows), 500):
            client.insert(COLLECTION, rows[start : start + 500])
        atomic_write_json(path, {"meta": contents.meta, "files": contents.files})
        report.generation = f"milvus {len(new)} chunks"
    return report
