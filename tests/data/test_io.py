import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from lmforge.data.document import Document, Rejected
from lmforge.data.io import detect_format, read_file, read_jsonl, write_records

LINES = [{"id": "a", "text": "alpha", "lang": "en"}, {"id": "b", "text": "beta"}]


def _jsonl(rows: list) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz", ".jsonl.zst", ".parquet", ".csv"])
def test_readers_roundtrip(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"in{suffix}"
    if suffix == ".jsonl":
        path.write_bytes(_jsonl(LINES))
    elif suffix.endswith(".gz"):
        path.write_bytes(gzip.compress(_jsonl(LINES)))
    elif suffix.endswith(".zst"):
        path.write_bytes(zstandard.ZstdCompressor().compress(_jsonl(LINES)))
    elif suffix == ".parquet":
        pq.write_table(pa.Table.from_pylist(LINES), path)
    else:
        path.write_text("id,text,lang\na,alpha,en\nb,beta,\n")
    docs = list(read_file(path, 3))
    assert [(d.id, d.text, d.pos) for d in docs] == [("a", "alpha", (3, 0)), ("b", "beta", (3, 1))]
    assert docs[0].metadata["lang"] == "en"


def test_bad_records_name_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(
        b'{"id": "ok", "text": "fine"}\n{broken\n{"id": "n"}\n{"text": 5}\n'
        b'{"text": "\xff\xfe"}\n[1, 2]\n'
    )
    items = list(read_file(path, 0))
    assert isinstance(items[0], Document)
    rej = [(r.reason, r.source) for r in items[1:] if isinstance(r, Rejected)]
    assert rej == [
        ("invalid_json", f"{path}:2"),
        ("missing_text_field", f"{path}:3"),
        ("text_not_a_string", f"{path}:4"),
        ("bad_encoding", f"{path}:5"),
        ("not_an_object", f"{path}:6"),
    ]


def test_text_files_and_bad_encoding(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# Title\nbody")
    (tmp_path / "b.txt").write_bytes(b"caf\xe9")
    assert read_file(tmp_path / "a.md", 0).__next__().text == "# Title\nbody"
    bad = next(read_file(tmp_path / "b.txt", 1))
    assert isinstance(bad, Rejected) and bad.reason == "bad_encoding"


@pytest.mark.parametrize("fmt", ["jsonl", "jsonl.gz", "jsonl.zst", "parquet"])
def test_writers_atomic_roundtrip(tmp_path: Path, fmt: str) -> None:
    path = write_records(tmp_path / "out" / f"part.{fmt}", LINES)
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left
    if fmt == "parquet":
        assert pq.read_table(path).to_pylist() == [LINES[0], {**LINES[1], "lang": None}]
    else:
        assert list(read_jsonl(path)) == LINES


def test_detect_format_unknown(tmp_path: Path) -> None:
    from lmforge.errors import LMForgeError

    with pytest.raises(LMForgeError, match="unknown input format"):
        detect_format(tmp_path / "x.xlsx")
