"""The GGUF conversion cache: converted once, atomic, safe under concurrent converters."""

import multiprocessing as mp
import os
from pathlib import Path

import pytest

from lmforge.models import default as default_mod
from lmforge.models.default import CONVERTED_MARKER, convert_gguf, converted_dir_for


def test_convert_once_then_reuse(tiny_gguf, cache, caplog):
    caplog.set_level("INFO", logger="lmforge.models.default")
    first = convert_gguf(tiny_gguf)
    assert (first / CONVERTED_MARKER).is_file() and (first / "model.safetensors").is_file()
    assert first == converted_dir_for(tiny_gguf)
    second = convert_gguf(tiny_gguf)
    assert second == first
    assert sum("converting" in r.message for r in caplog.records) == 1


def test_crash_mid_conversion_leaves_nothing(tiny_gguf, cache, monkeypatch):
    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(default_mod.os, "rename", boom)
    with pytest.raises(OSError, match="disk full"):
        convert_gguf(tiny_gguf)
    models = cache / "models"
    leftovers = [p.name for p in models.iterdir() if p.is_dir() and p.name != ".index"]
    assert leftovers == []


def _convert(path: str, cache: str, q: "mp.Queue[tuple[str, bool]]") -> None:
    os.environ["LMFORGE_CACHE"] = cache
    import logging

    records: list[str] = []

    class Grab(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    log = logging.getLogger("lmforge.models.default")
    log.setLevel(logging.INFO)
    log.addHandler(Grab())
    out = convert_gguf(Path(path))
    q.put((str(out), any("converting" in r for r in records)))


def test_two_processes_convert_once(tiny_gguf, cache):
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    procs = [ctx.Process(target=_convert, args=(str(tiny_gguf), str(cache), q)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    results = [q.get(timeout=5) for _ in procs]
    assert len({path for path, _ in results}) == 1
    assert sum(converted for _, converted in results) == 1
    names = [p.name for p in (cache / "models").iterdir() if p.is_dir() and p.name != ".index"]
    assert len(names) == 1 and ".tmp-" not in names[0]
