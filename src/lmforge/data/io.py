"""Readers (JSONL plain/.gz/.zst, Parquet, CSV, folders of .txt/.md) and atomic shard writers.

A reader yields `Document`s, or `Rejected` records for input it cannot use (invalid JSON,
missing or non-text field, bad UTF-8), each naming file and line, so the pipeline can put them
in `rejected/` or fail the run, as the config says. Writers build a shard in memory and write
it with temp + rename: a shard on disk is always complete.
"""

import csv
import gzip
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lmforge.data.document import Document, Rejected
from lmforge.errors import LMForgeError
from lmforge.extras import require
from lmforge.files import atomic_write_bytes

TEXT_SUFFIXES = (".txt", ".md")
FORMATS = ("jsonl", "parquet", "csv", "text")


def detect_format(path: Path) -> str:
    """Format from the file name: .jsonl/.json(.gz/.zst), .parquet, .csv, .txt/.md."""
    name = path.name.lower()
    for ext in (".gz", ".zst"):
        name = name.removesuffix(ext)
    if name.endswith((".jsonl", ".json", ".ndjson")):
        return "jsonl"
    if name.endswith(".parquet"):
        return "parquet"
    if name.endswith(".csv"):
        return "csv"
    if name.endswith(TEXT_SUFFIXES):
        return "text"
    raise LMForgeError(
        f"{path}: unknown input format; use .jsonl[.gz|.zst], .parquet, .csv, .txt/.md"
    )


def _open_binary(path: Path) -> io.BufferedIOBase:
    if path.name.endswith(".gz"):
        return gzip.open(path, "rb")
    if path.name.endswith(".zst"):
        zstd = require("data", "zstandard")
        return io.BufferedReader(zstd.ZstdDecompressor().stream_reader(open(path, "rb")))
    return open(path, "rb")


def _from_record(
    rec: Any, src: str, text_field: str, id_field: str, pos: tuple[int, int]
) -> Document | Rejected:
    if not isinstance(rec, dict):
        return Rejected("read", "not_an_object", src, str(rec)[:200], src)
    text = rec.get(text_field)
    if not isinstance(text, str):
        why = "missing_text_field" if text is None else "text_not_a_string"
        return Rejected("read", why, src, json.dumps(rec, default=str)[:200], src)
    if any("\ud800" <= c <= "\udfff" for c in text):
        return Rejected("read", "bad_encoding", src, text.encode("utf-8", "replace").decode(), src)
    doc_id = rec.get(id_field)
    meta = {k: v for k, v in rec.items() if k not in (text_field, id_field)}
    return Document(str(doc_id) if doc_id is not None else src, text, meta, pos)


def read_file(
    path: Path, file_index: int, text_field: str = "text", id_field: str = "id"
) -> Iterator[Document | Rejected]:
    """Documents of one input file; record k of file f has position (f, k)."""
    fmt = detect_format(path)
    if fmt == "text":
        raw = path.read_bytes()
        try:
            yield Document(path.name, raw.decode("utf-8"), {"source": str(path)}, (file_index, 0))
        except UnicodeDecodeError as e:
            yield Rejected(
                "read",
                "bad_encoding",
                str(path),
                raw.decode("utf-8", "replace"),
                f"{path}:byte {e.start}",
            )
        return
    if fmt == "jsonl":
        with _open_binary(path) as f:
            for k, line in enumerate(f):
                src = f"{path}:{k + 1}"
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line.decode("utf-8"))
                except UnicodeDecodeError:
                    yield Rejected(
                        "read", "bad_encoding", src, line.decode("utf-8", "replace"), src
                    )
                    continue
                except json.JSONDecodeError as e:
                    text = line.decode("utf-8", "replace")[:200]
                    yield Rejected("read", "invalid_json", src, text, src, {"error": e.msg})
                    continue
                yield _from_record(rec, src, text_field, id_field, (file_index, k))
    elif fmt == "parquet":
        pq = require("data", "pyarrow.parquet")
        k = 0
        for batch in pq.ParquetFile(path).iter_batches():
            for rec in batch.to_pylist():
                src = f"{path}:row {k + 1}"
                yield _from_record(rec, src, text_field, id_field, (file_index, k))
                k += 1
    else:  # csv: surrogateescape keeps bad bytes visible so the row, not the file, is rejected
        with open(path, encoding="utf-8", errors="surrogateescape", newline="") as f:
            for k, rec in enumerate(csv.DictReader(f)):
                src = f"{path}:{k + 2}"  # +1 for the header, +1 for 1-based lines
                yield _from_record(rec, src, text_field, id_field, (file_index, k))


def encode_jsonl(records: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(r, ensure_ascii=False).encode("utf-8") + b"\n" for r in records)


def write_records(path: Path, records: list[dict[str, Any]]) -> Path:
    """Write one shard atomically; the format follows the suffix (.jsonl[.gz|.zst], .parquet)."""
    name = path.name
    if name.endswith(".parquet"):
        pa = require("data", "pyarrow")
        pq = require("data", "pyarrow.parquet")
        buf = pa.BufferOutputStream()
        pq.write_table(pa.Table.from_pylist(records), buf)
        return atomic_write_bytes(path, buf.getvalue().to_pybytes())
    data = encode_jsonl(records)
    if name.endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    elif name.endswith(".zst"):
        data = require("data", "zstandard").ZstdCompressor(level=3).compress(data)
    return atomic_write_bytes(path, data)


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """Records of a JSONL file we wrote (any compression)."""
    with _open_binary(path) as f:
        for line in f:
            if line.strip():
                yield json.loads(line)
